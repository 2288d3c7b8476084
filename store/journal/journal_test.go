package journal_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/journal"
	"github.com/uspkit/uspkit/store/storetest"
)

func open(t testing.TB, dir string) *journal.DB {
	t.Helper()
	db, err := journal.Open(context.Background(), dir, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSuite(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) storetest.Store { return open(t, t.TempDir()) },
		func(t *testing.T, s storetest.Store) storetest.Store {
			db := s.(*journal.DB)
			db.Close()
			return open(t, db.Dir())
		})
}

func obj(i int, v string) store.Object {
	return store.Object{Path: fmt.Sprintf("Device.X.%d.", i), Params: map[string]string{"V": v, "Alias": fmt.Sprintf("cpe-%d", i)}}
}

func load(t *testing.T, db *journal.DB) *store.Snapshot {
	t.Helper()
	snap, err := db.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestCompactionKeepsEverything applies enough changes to fold the journal
// into snapshots several times, deleting as it goes, and checks that a
// reopened store equals the one that wrote it.
func TestCompactionKeepsEverything(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	for i := 1; i <= 3000; i++ {
		b := &store.Batch{Put: []store.Object{obj(i%700, strconv.Itoa(i))}, Counters: map[string]uint32{"Device.X.": uint32(i)},
			PutItems: []store.Item{{Kind: "notify", ID: strconv.Itoa(i % 50), Data: []byte{byte(i)}}}}
		if i%7 == 0 {
			b.Delete = []string{fmt.Sprintf("Device.X.%d.", (i/7)%700)}
			b.DeleteItems = []store.Item{{Kind: "notify", ID: strconv.Itoa(i % 13)}}
		}
		if err := db.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	want := load(t, db)
	if fi, err := os.Stat(filepath.Join(dir, "snapshot")); err != nil || fi.Size() == 0 {
		t.Fatalf("no snapshot written after 3000 changes: %v", err)
	}
	jfi, _ := os.Stat(filepath.Join(dir, "journal"))
	sfi, _ := os.Stat(filepath.Join(dir, "snapshot"))
	if jfi.Size() > sfi.Size()+64<<10 {
		t.Errorf("journal %d bytes, snapshot %d: not folded", jfi.Size(), sfi.Size())
	}
	db.Close()
	got := load(t, open(t, dir))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("reopened store differs (-want +got):\n%s", diff)
	}
}

// TestTornTailIsCut writes garbage and a half record after the last good
// record, as a crash during a write leaves it: Open keeps every complete
// record, cuts the rest, and later appends are readable.
func TestTornTailIsCut(t *testing.T) {
	ctx := context.Background()
	for _, tail := range [][]byte{{0x05, 0, 0, 0}, {0x80}, {0x10, 1, 2, 3, 4, 5, 6, 7}, make([]byte, 100)} {
		dir := t.TempDir()
		db := open(t, dir)
		for i := 1; i <= 5; i++ {
			db.Apply(ctx, &store.Batch{Put: []store.Object{obj(i, "v")}})
		}
		db.Close()
		f, _ := os.OpenFile(filepath.Join(dir, "journal"), os.O_WRONLY|os.O_APPEND, 0)
		f.Write(tail)
		f.Close()
		db = open(t, dir)
		if n := len(load(t, db).Objects); n != 5 {
			t.Fatalf("tail %x: %d objects after reopen, want 5", tail, n)
		}
		db.Apply(ctx, &store.Batch{Put: []store.Object{obj(6, "v")}})
		db.Close()
		if n := len(load(t, open(t, dir)).Objects); n != 6 {
			t.Fatalf("tail %x: %d objects after an append past the cut, want 6", tail, n)
		}
	}
}

func TestCorruptSnapshotRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	for i := 0; i < 3000; i++ {
		db.Apply(ctx, &store.Batch{Put: []store.Object{obj(i%10, strconv.Itoa(i))}})
	}
	db.Close()
	p := filepath.Join(dir, "snapshot")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 0xff
	os.WriteFile(p, data, 0o600)
	if _, err := journal.Open(ctx, dir, journal.Options{}); !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("Open of a damaged snapshot = %v, want ErrCorrupt", err)
	}
}

func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	if _, err := journal.Open(context.Background(), dir, journal.Options{}); !errors.Is(err, journal.ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
}

func TestFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	db := open(t, dir)
	for i := 0; i < 3000; i++ {
		db.Apply(context.Background(), &store.Batch{Put: []store.Object{obj(i%10, strconv.Itoa(i))}})
	}
	for _, name := range []string{"", "journal", "snapshot", "lock"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v", name, perm)
		}
	}
}

// TestCrashLosesNothingAcknowledged kills a writer process with SIGKILL in
// the middle of a stream of Apply calls (folding into snapshots on the
// way) and checks that every Batch it acknowledged is there afterwards.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if os.Getenv("USP_JOURNAL_CRASH_WRITER") != "" {
		crashWriter(os.Getenv("USP_JOURNAL_CRASH_WRITER"))
		return
	}
	dir := t.TempDir()
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNothingAcknowledged$")
		cmd.Env = append(os.Environ(), "USP_JOURNAL_CRASH_WRITER="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := 0
		sc := bufio.NewScanner(out)
		deadline := time.Now().Add(30 * time.Second)
		for sc.Scan() && time.Now().Before(deadline) {
			if n, err := strconv.Atoi(sc.Text()); err == nil {
				acked = n
				if acked%1000 == 500+round*100 {
					break
				}
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if acked < 500 {
			t.Fatalf("round %d: writer acknowledged only %d batches", round, acked)
		}
		db := open(t, dir)
		snap := load(t, db)
		db.Close()
		if got := snap.Counters["Device.Crash."]; got < uint32(acked) {
			t.Fatalf("round %d: counter %d < %d acknowledged", round, got, acked)
		}
		have := map[string]bool{}
		for _, o := range snap.Objects {
			have[o.Path] = true
		}
		for i := max(1, acked-600); i <= acked; i++ {
			if p := fmt.Sprintf("Device.Crash.%d.", i); !have[p] {
				t.Fatalf("round %d: acknowledged %s lost", round, p)
			}
		}
	}
}

// crashWriter continues the counter it finds, applying batches until
// killed (at most 100000), printing the number of each one acknowledged.
func crashWriter(dir string) {
	ctx := context.Background()
	var db *journal.DB
	var err error
	for range 100 { // the killed writer's lock goes with its process
		if db, err = journal.Open(ctx, dir, journal.Options{}); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	snap, _ := db.Load(ctx)
	start := int(snap.Counters["Device.Crash."]) + 1
	w := bufio.NewWriter(os.Stdout)
	for i := start; i < start+100000; i++ {
		b := &store.Batch{
			Put:      []store.Object{{Path: fmt.Sprintf("Device.Crash.%d.", i), Params: map[string]string{"N": strconv.Itoa(i)}}},
			Counters: map[string]uint32{"Device.Crash.": uint32(i)},
		}
		if err := db.Apply(ctx, b); err != nil {
			fmt.Println("apply:", err)
			os.Exit(1)
		}
		fmt.Fprintln(w, i)
		w.Flush()
	}
	os.Exit(0)
}
