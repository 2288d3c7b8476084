package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/sqlite"
)

// TestCrashLosesNothingAcknowledged kills a writer process with SIGKILL in
// the middle of a stream of Apply calls and checks that every Batch it
// acknowledged is in the database afterwards.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if os.Getenv("USP_SQLITE_CRASH_WRITER") != "" {
		crashWriter(os.Getenv("USP_SQLITE_CRASH_WRITER"))
		return
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNothingAcknowledged$")
	cmd.Env = append(os.Environ(), "USP_SQLITE_CRASH_WRITER="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			continue
		}
		acked = n
		if acked >= 200 {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if acked < 200 {
		t.Fatalf("writer acknowledged only %d batches", acked)
	}
	db := open(t, path)
	snap, err := db.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, o := range snap.Objects {
		have[o.Path] = true
	}
	for i := 1; i <= acked; i++ {
		if p := fmt.Sprintf("Device.Crash.%d.", i); !have[p] {
			t.Errorf("acknowledged %s lost", p)
		}
	}
	if snap.Counters["Device.Crash."] < uint32(acked) {
		t.Errorf("counter %d < %d acknowledged", snap.Counters["Device.Crash."], acked)
	}
}

// crashWriter applies batches until killed (at most 100000), printing the
// number of each one Apply acknowledged.
func crashWriter(path string) {
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for i := 1; i <= 100000; i++ {
		b := &store.Batch{
			Put:      []store.Object{{Path: fmt.Sprintf("Device.Crash.%d.", i), Params: map[string]string{"N": strconv.Itoa(i)}}},
			Counters: map[string]uint32{"Device.Crash.": uint32(i)},
		}
		if err := db.Apply(context.Background(), b); err != nil {
			fmt.Println("apply:", err)
			os.Exit(1)
		}
		fmt.Println(i)
	}
	os.Exit(0)
}
