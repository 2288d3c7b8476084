package storebench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/bolt"
	"github.com/uspkit/uspkit/store/journal"
	"github.com/uspkit/uspkit/store/sqlite"
)

type driver interface {
	Load(ctx context.Context) (*store.Snapshot, error)
	Apply(ctx context.Context, b *store.Batch) error
	Close() error
}

var drivers = []struct {
	name string
	open func(ctx context.Context, dir string) (driver, error)
}{
	{"bolt", func(ctx context.Context, dir string) (driver, error) {
		return bolt.Open(ctx, filepath.Join(dir, "s.bolt"))
	}},
	{"journal", func(ctx context.Context, dir string) (driver, error) {
		return journal.Open(ctx, filepath.Join(dir, "j"), journal.Options{})
	}},
	{"sqlite", func(ctx context.Context, dir string) (driver, error) {
		return sqlite.Open(ctx, filepath.Join(dir, "s.db"))
	}},
}

// ioCounters reads the process's write counters: bytes passed to write
// system calls and bytes the kernel sent to the block device.
func ioCounters(b *testing.B) (wchar, disk int64) {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "wchar":
			wchar = n
		case "write_bytes":
			disk = n
		}
	}
	return wchar, disk
}

func row(i int) store.Object {
	return store.Object{Path: fmt.Sprintf("Device.LocalAgent.Subscription.%d.", i), Params: map[string]string{
		"Enable": "true", "ID": fmt.Sprintf("sub-%d", i), "NotifType": "ValueChange", "Recipient": "Device.LocalAgent.Controller.1",
		"ReferenceList": "Device.DeviceInfo.SoftwareVersion", "Persistent": "true", "TimeToLive": "0", "NotifRetry": "false",
	}}
}

func fill(b *testing.B, d driver, n int) {
	ctx := context.Background()
	for start := 1; start <= n; start += 1000 {
		var batch store.Batch
		for i := start; i < start+1000 && i <= n; i++ {
			batch.Put = append(batch.Put, row(i))
		}
		if err := d.Apply(ctx, &batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSet is one acknowledged Set of one parameter in a table of
// 1,000 rows: one durable transaction rewriting one object.
func BenchmarkSet(b *testing.B) {
	for _, dr := range drivers {
		b.Run(dr.name, func(b *testing.B) {
			ctx := context.Background()
			d, err := dr.open(ctx, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			fill(b, d, 1000)
			w0, d0 := ioCounters(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				o := row(i%1000 + 1)
				o.Params["TimeToLive"] = strconv.Itoa(i) // a new value every time
				if err := d.Apply(ctx, &store.Batch{Put: []store.Object{o}}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			w1, d1 := ioCounters(b)
			b.ReportMetric(float64(w1-w0)/float64(b.N), "written-B/op")
			b.ReportMetric(float64(d1-d0)/float64(b.N), "disk-B/op")
		})
	}
}

// BenchmarkDelete deletes one row (and its descendants) from a table of
// 10,000 rows, re-adding it untimed.
func BenchmarkDelete(b *testing.B) {
	for _, dr := range drivers {
		b.Run(dr.name, func(b *testing.B) {
			ctx := context.Background()
			d, err := dr.open(ctx, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			fill(b, d, 10000)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n := i%10000 + 1
				if err := d.Apply(ctx, &store.Batch{Delete: []string{row(n).Path}}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := d.Apply(ctx, &store.Batch{Put: []store.Object{row(n)}}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkStart opens a store of 10,000 rows and loads it, as an agent
// does when it starts.
func BenchmarkStart(b *testing.B) {
	for _, dr := range drivers {
		b.Run(dr.name, func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			d, err := dr.open(ctx, dir)
			if err != nil {
				b.Fatal(err)
			}
			fill(b, d, 10000)
			d.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d, err := dr.open(ctx, dir)
				if err != nil {
					b.Fatal(err)
				}
				snap, err := d.Load(ctx)
				if err != nil || len(snap.Objects) != 10000 {
					b.Fatalf("load: %v, %d objects", err, len(snap.Objects))
				}
				d.Close()
			}
		})
	}
}
