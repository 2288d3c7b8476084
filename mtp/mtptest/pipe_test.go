package mtptest_test

import (
	"testing"

	"github.com/uspkit/uspkit/mtp/mtptest"
)

func TestPipe(t *testing.T) {
	mtptest.Run(t, func(t *testing.T) *mtptest.Pair {
		a, b := mtptest.NewPipe("a", "b", nil)
		return &mtptest.Pair{A: a, B: b, AddrOfB: "b", MaxRecord: 1 << 20}
	})
}
