package telemetry_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uspkit/uspkit/telemetry"
)

func ExampleService_IngestReport() {
	dir, _ := os.MkdirTemp("", "telemetry")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := telemetry.OpenSQLite(ctx, filepath.Join(dir, "telemetry.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	svc := telemetry.New(db, telemetry.Credentials{}, nil)
	// The payload of an MQTT PUBLISH and its Content Type.
	n, err := svc.IngestReport(ctx, "os::A", []byte("ReportTimestamp,ParameterName,ParameterValue,ParameterType\r\n1700000000,UpTime,10,unsignedInt\r\n"), "text/csv; charset=UTF-8; header=present")
	fmt.Println(n, err)
	_, err = svc.IngestReport(ctx, "os::A", []byte("{"), "application/json")
	fmt.Println(err != nil, svc.Stats().Rejected)
	// Output:
	// 1 <nil>
	// true 1
}
