package postgres_test

import (
	"bufio"
	"context"
	"fmt"
	"github.com/uspkit/uspkit/internal/testenv"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/postgres"
)

// TestCrashLosesNothingAcknowledged runs a writer process that applies
// Batches in a loop, SIGKILLs the whole PostgreSQL server (every process
// of it, as a crash would) in the middle of the stream, then the writer,
// restarts the server, which recovers from its write-ahead log, and checks
// that every Batch the writer saw acknowledged is there, and that what is
// there is whole Batches.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if dsn := os.Getenv("USP_POSTGRES_CRASH_WRITER"); dsn != "" {
		crashWriter(dsn)
		return
	}
	s := testenv.OwnPostgres(t)
	dsn := s.DSN(s.NewDatabase(t))
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNothingAcknowledged$")
	cmd.Env = append(os.Environ(), "USP_POSTGRES_CRASH_WRITER="+dsn)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	acked := 0
	sc := bufio.NewScanner(out)
	for acked < 200 && sc.Scan() {
		if n, err := strconv.Atoi(sc.Text()); err == nil {
			acked = n
		} else {
			t.Log("writer:", sc.Text())
		}
	}
	if acked < 200 {
		t.Fatalf("the writer acknowledged only %d batches", acked)
	}
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	for sc.Scan() { // what the writer printed before it died
		if n, err := strconv.Atoi(sc.Text()); err == nil {
			acked = n
		}
	}
	cmd.Wait()
	if err := s.Start(); err != nil {
		t.Fatalf("restart after the crash: %v", err)
	}
	t.Logf("%d batches acknowledged before the crash; the restart, with recovery, took %v",
		acked, s.Startup.Round(time.Millisecond))
	snap, err := open(t, dsn).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Batch i puts Device.Crash.i. and raises the counter to i, so what
	// survives must be batches 1 to the counter, each whole.
	n := int(snap.Counters["Device.Crash."])
	if n < acked {
		t.Errorf("counter %d < %d acknowledged", n, acked)
	}
	have := map[string]bool{}
	for _, o := range snap.Objects {
		have[o.Path] = true
	}
	for i := 1; i <= n; i++ {
		if p := fmt.Sprintf("Device.Crash.%d.", i); !have[p] {
			t.Errorf("%s lost (counter %d, %d acknowledged)", p, n, acked)
		}
	}
	if len(snap.Objects) != n {
		t.Errorf("%d objects, counter %d: a batch survived in part", len(snap.Objects), n)
	}
}

// crashWriter applies batches until killed (at most 100000), printing the
// number of each one Apply acknowledged.
func crashWriter(dsn string) {
	ctx := context.Background()
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for i := 1; i <= 100000; i++ {
		b := &store.Batch{
			Put:      []store.Object{{Path: fmt.Sprintf("Device.Crash.%d.", i), Params: map[string]string{"N": strconv.Itoa(i)}}},
			Counters: map[string]uint32{"Device.Crash.": uint32(i)},
		}
		if err := db.Apply(ctx, b); err != nil {
			fmt.Println("apply:", err)
			os.Exit(1)
		}
		fmt.Println(i)
	}
	os.Exit(0)
}
