package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/sqlite"
)

// BenchmarkApplyAdd is the batch of an Agent's Add of a Subscription: one
// row of a dozen parameters and the table's instance counter, committed
// durably (synchronous=FULL), in a table of 1,000 rows.
func BenchmarkApplyAdd(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	row := func(n int) store.Object {
		return store.Object{Path: fmt.Sprintf("Device.LocalAgent.Subscription.%d.", n), Params: map[string]string{
			"Alias": fmt.Sprint("cpe-", n), "Enable": "false", "ID": fmt.Sprint("bench-", n), "NotifType": "ValueChange",
			"ReferenceList": "Device.LocalAgent.SoftwareVersion", "Recipient": "Device.LocalAgent.Controller.1",
			"CreationDate": "2026-12-03T17:00:00Z", "NotifExpiration": "0", "NotifRetry": "false", "Persistent": "false",
			"TimeToLive": "0", "TriggerAction": "Notify", "TriggerConfigSettings": ""}}
	}
	const rows = 1000
	var batch store.Batch
	for i := range rows {
		batch.Put = append(batch.Put, row(i+1))
	}
	if err := db.Apply(ctx, &batch); err != nil {
		b.Fatal(err)
	}
	n := rows
	b.ReportAllocs()
	cpu := processCPU(b)
	for b.Loop() {
		n++
		if err := db.Apply(ctx, &store.Batch{Put: []store.Object{row(n)},
			Counters: map[string]uint32{"Device.LocalAgent.Subscription.": uint32(n)}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time the process has used (user and system), in
// nanoseconds: an fsync's wait is not CPU, so this is what a commit costs
// the machine.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
