package datamodel_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
)

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestDeletedRowsGiveMemoryBack: an engine that held 4,000 rows of a
// table with two unique keys and deleted all but 10 holds about as much
// memory as one that only ever had 10 (the stored objects' map and the
// key indexes are rebuilt once most of their entries are gone), and the
// keys are still checked [R-ADD.5].
func TestDeletedRowsGiveMemoryBack(t *testing.T) {
	ctx := context.Background()
	h0 := liveHeap()
	big := itemEngine(t, 4000)
	for first := 11; first <= 4000; first += 100 {
		var paths []string
		for n := first; n < first+100 && n <= 4000; n++ {
			paths = append(paths, fmt.Sprintf("Device.Item.%d.", n))
		}
		if _, err := big.Delete(ctx, admin, false, paths); err != nil {
			t.Fatal(err)
		}
	}
	h1 := liveHeap()
	small := itemEngine(t, 10)
	h2 := liveHeap()
	bigKept, smallKept := h1-h0, h2-h1
	t.Logf("engine after 4,000 rows and deletes: %d B; engine of 10 rows: %d B", bigKept, smallKept)
	if bigKept > smallKept+128<<10 {
		t.Errorf("the engine keeps %d B after deleting all but 10 of 4,000 rows, one of 10 rows %d B", bigKept, smallKept)
	}
	res, err := big.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Item.",
		Params: []datamodel.ParamSetting{{Param: "Name", Value: "item-3", Required: true}}}})
	if err == nil && (len(res) == 0 || res[0].Err == nil) {
		t.Errorf("Add with the Name of a remaining row: %v", res)
	}
	if res, err = big.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Item.",
		Params: []datamodel.ParamSetting{{Param: "Name", Value: "item-3000", Required: true}}}}); err != nil || res[0].Err != nil {
		t.Errorf("Add with the Name of a deleted row: %v %v", err, res)
	}
	runtime.KeepAlive(big)
	runtime.KeepAlive(small)
}
