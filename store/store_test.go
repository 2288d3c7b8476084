package store_test

import (
	"testing"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(*testing.T) storetest.Store { return store.NewMemory() }, nil)
}
