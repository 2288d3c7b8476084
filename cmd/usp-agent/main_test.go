package main

import (
	"flag"
	"os"
	"testing"
	"time"
)

// defaultTimeout is what this package's tests get when `go test` runs
// with its default -timeout (10 minutes): with USP_CROSS_ALL=1 and
// USP_QEMU_ALL=1 the cross builds and the emulated runs take 7 to 9
// minutes on a 2-core machine busy with other packages. A -timeout given
// on the command line is kept.
const defaultTimeout = "25m"

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.timeout"); f != nil && f.Value.String() == (10*time.Minute).String() {
		f.Value.Set(defaultTimeout)
	}
	os.Exit(m.Run())
}
