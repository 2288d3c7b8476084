package cli

import (
	"runtime"
	"testing"
)

// TestReleaseFree: heap freed after a burst goes back to the system at
// the next check, and a check with little free heap does nothing.
func TestReleaseFree(t *testing.T) {
	var keep [][]byte
	for range 64 {
		keep = append(keep, make([]byte, 256<<10)) // 16 MiB in all
	}
	runtime.KeepAlive(keep)
	keep = nil
	runtime.GC()
	runtime.GC()
	before := heapFree()
	if before <= releaseSlack {
		t.Skipf("only %d bytes free after the burst: the runtime returned them already", before)
	}
	if !releaseFree() {
		t.Fatal("nothing released")
	}
	// Goroutines left by other tests of the package allocate and free
	// while this one runs, so the free heap after the release is compared
	// with the burst, not with zero.
	if after := heapFree(); after > before/4 {
		t.Errorf("%d bytes free after the release (%d before), want at most a quarter", after, before)
	}
	if free := heapFree(); free <= releaseSlack && releaseFree() {
		t.Error("a check with little free heap released again")
	}
}
