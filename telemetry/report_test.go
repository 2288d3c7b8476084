package telemetry_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/telemetry"
)

// TestIngestReport: a report body from another transport than HTTP is
// decoded as its media type says (or as its first byte tells), bounded by
// MaxBody, and counted like a collector transfer.
func TestIngestReport(t *testing.T) {
	ctx := context.Background()
	db, err := telemetry.OpenSQLite(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := telemetry.New(db, telemetry.Credentials{}, &telemetry.Options{MaxBody: 200})
	for _, tc := range []struct {
		name, body, ct string
		rows           int
		err            bool
	}{
		{"json", `{"Report":[{"CollectionTime":1700000000,"A":1}]}`, "application/json", 1, false},
		{"json sniffed", `{"Report":[{"CollectionTime":1700000000,"B":2}]}`, "", 1, false},
		{"csv sniffed", "ReportTimestamp,ParameterName,ParameterValue,ParameterType\r\n1700000000,C,3,int\r\n", "", 1, false},
		{"malformed", `{"Report":[`, "application/json", 0, true},
		{"other type", `<x/>`, "application/xml", 0, true},
		{"too large", `{"Report":[{"D":"` + strings.Repeat("x", 200) + `"}]}`, "application/json", 0, true},
	} {
		n, err := svc.IngestReport(ctx, "os::A", []byte(tc.body), tc.ct)
		if n != tc.rows || (err != nil) != tc.err || (err != nil && !errors.Is(err, telemetry.ErrFormat)) {
			t.Errorf("%s: %d, %v", tc.name, n, err)
		}
	}
	if st := svc.Stats(); st.Reports != 3 || st.Rejected != 3 {
		t.Errorf("stats %+v", st)
	}
}
