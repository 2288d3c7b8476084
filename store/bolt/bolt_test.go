package bolt_test

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

	bbolt "go.etcd.io/bbolt"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/bolt"
	"github.com/uspkit/uspkit/store/storetest"
)

func open(t testing.TB, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSuite(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) storetest.Store { return open(t, filepath.Join(t.TempDir(), "test.bolt")) },
		func(t *testing.T, s storetest.Store) storetest.Store {
			db := s.(*bolt.DB)
			path := db.Path()
			db.Close()
			return open(t, path)
		})
}

func TestFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.bolt")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	open(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestDeleteReadsOnlyThePrefix checks that deleting a row and its
// descendants leaves neighbours whose paths share a shorter prefix
// ("Device.X.1." must not take "Device.X.10.").
func TestDeleteReadsOnlyThePrefix(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "d.bolt"))
	var put []store.Object
	for i := 1; i <= 12; i++ {
		put = append(put, store.Object{Path: fmt.Sprintf("Device.X.%d.", i), Params: map[string]string{"N": strconv.Itoa(i)}},
			store.Object{Path: fmt.Sprintf("Device.X.%d.Y.1.", i), Params: map[string]string{}})
	}
	if err := db.Apply(ctx, &store.Batch{Put: put}); err != nil {
		t.Fatal(err)
	}
	if err := db.Apply(ctx, &store.Batch{Delete: []string{"Device.X.1."}}); err != nil {
		t.Fatal(err)
	}
	snap, err := db.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Objects) != 22 {
		t.Fatalf("%d objects left, want 22", len(snap.Objects))
	}
	for _, o := range snap.Objects {
		if o.Path == "Device.X.1." || o.Path == "Device.X.1.Y.1." {
			t.Errorf("%s not deleted", o.Path)
		}
	}
}

// TestNewerFormatRefused checks that a file written by a newer layout is
// not misread.
func TestNewerFormatRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.bolt")
	raw, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw.Update(func(tx *bbolt.Tx) error {
		b, _ := tx.CreateBucketIfNotExists([]byte("meta"))
		return b.Put([]byte("version"), []byte{99})
	})
	raw.Close()
	if _, err := bolt.Open(context.Background(), path); !errors.Is(err, bolt.ErrNewerFormat) {
		t.Fatalf("Open = %v, want ErrNewerFormat", err)
	}
}

// TestCorruptValueIsAnError checks that damaged bytes give an error from
// Load, not a panic or invented values.
func TestCorruptValueIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.bolt")
	db, err := bolt.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("objects")).Put([]byte("Device.X.1."), []byte{5, 200})
	})
	raw.Close()
	if _, err := open(t, path).Load(context.Background()); err == nil {
		t.Fatal("Load of a corrupt object succeeded")
	}
}

// TestCrashLosesNothingAcknowledged kills a writer process with SIGKILL in
// the middle of a stream of Apply calls and checks that every Batch it
// acknowledged is in the file afterwards.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if os.Getenv("USP_BOLT_CRASH_WRITER") != "" {
		crashWriter(os.Getenv("USP_BOLT_CRASH_WRITER"))
		return
	}
	path := filepath.Join(t.TempDir(), "crash.bolt")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNothingAcknowledged$")
	cmd.Env = append(os.Environ(), "USP_BOLT_CRASH_WRITER="+path)
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
	snap, err := open(t, path).Load(context.Background())
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
	db, err := bolt.Open(context.Background(), path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 1; i <= 100000; i++ {
		b := &store.Batch{
			Put:      []store.Object{{Path: fmt.Sprintf("Device.Crash.%d.", i), Params: map[string]string{"N": strconv.Itoa(i)}}},
			Counters: map[string]uint32{"Device.Crash.": uint32(i)},
		}
		if err := db.Apply(context.Background(), b); err != nil {
			fmt.Println("apply:", err)
			os.Exit(1)
		}
		fmt.Fprintln(w, i)
		w.Flush()
	}
	os.Exit(0)
}
