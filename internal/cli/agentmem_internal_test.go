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
	if free := heapFree(); free <= releaseSlack {
		t.Skipf("only %d bytes free after the burst: the runtime returned them already", free)
	}
	if !releaseFree() {
		t.Fatal("nothing released")
	}
	if free := heapFree(); free > releaseSlack {
		t.Errorf("%d bytes free after the release, want at most %d", free, releaseSlack)
	}
	if releaseFree() {
		t.Error("a second check released again")
	}
}
