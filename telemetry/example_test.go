package telemetry_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/uspkit/uspkit/telemetry"
)

func ExampleParse() {
	reps, err := telemetry.Parse([]byte(`{"Report":[{"CollectionTime":1364529149,"Device":{"DeviceInfo":{"UpTime":42}}}]}`), "application/json; charset=UTF-8")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reps[0].Time.Format(time.RFC3339), reps[0].Values)
	// Output: 2013-03-29T03:52:29Z [{Device.DeviceInfo.UpTime 42}]
}

func ExampleCredentials() {
	c := telemetry.NewCredentials([]byte("a key of the controller's own, 32+ bytes"))
	fmt.Println(c.User("os::012345-SERIAL1"), len(c.Password("os::012345-SERIAL1")))
	// Output: os__012345-SERIAL1 32
}

func ExampleService_Query() {
	dir, _ := os.MkdirTemp("", "telemetry")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := telemetry.OpenSQLite(ctx, filepath.Join(dir, "telemetry.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	svc := telemetry.New(db, telemetry.NewCredentials([]byte("a key of the controller's own, 32+ bytes")), nil)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc.Ingest(ctx, "os::A", []telemetry.Report{
		{Time: t0, Values: []telemetry.Value{{Name: "UpTime", Value: "10"}}},
		{Time: t0.Add(30 * time.Second), Values: []telemetry.Value{{Name: "UpTime", Value: "40"}}},
	})
	ps, _ := svc.Query(ctx, telemetry.Query{Agent: "os::A", Param: "UpTime", Step: time.Minute, Agg: "max"})
	fmt.Println(len(ps), ps[0].Value, ps[0].Count)
	// Output: 1 40 2
}
