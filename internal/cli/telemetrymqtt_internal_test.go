//go:build !usp_device

package cli

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/telemetry"
)

// TestReportAgent: the Agent of an MQTT report is the topic level at the
// filter's first "+", an Endpoint ID; anything else is refused.
func TestReportAgent(t *testing.T) {
	for _, tc := range []struct {
		filter, topic, want string
	}{
		{"usp/bulkdata/+/#", "usp/bulkdata/os::012345-A1/report", "os::012345-A1"},
		{"usp/bulkdata/+/#", "usp/bulkdata/os::012345-A1", "os::012345-A1"},
		{"site/+/bulk/+", "site/proto::x/bulk/y", "proto::x"},
		{"usp/bulkdata/+/#", "usp/bulkdata/nobody/report", ""},
		{"usp/bulkdata/+/#", "usp/bulkdata", ""},
		{"usp/bulkdata/#", "usp/bulkdata/os::012345-A1", ""},
	} {
		got, err := reportAgent(tc.filter, tc.topic)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("reportAgent(%q, %q) = %q, %v; want %q", tc.filter, tc.topic, got, err, tc.want)
		}
	}
	for f, want := range map[string]string{"usp/bulkdata/+/#": "usp/bulkdata/{user}/#", "a/+/b/+": "a/{user}/b/+", "a/#": ""} {
		if got := reportPattern(f); got != want {
			t.Errorf("reportPattern(%q) = %q, want %q", f, got, want)
		}
	}
	if got := bulkSubscription("usp/bulkdata/+/#", "ctl"); got != "$share/ctl/usp/bulkdata/+/#" {
		t.Errorf("shared subscription %q", got)
	}
	if got := bulkSubscription("usp/bulkdata/+/#", ""); got != "usp/bulkdata/+/#" {
		t.Errorf("subscription %q", got)
	}
	for f, ok := range map[string]bool{"": true, "off": true, "usp/bulkdata/+/#": true, "usp/bulkdata/#": false, "a/b+/c": false, "a/#/+": false, "$share/g/+/x": false} {
		if err := checkBulkMQTTTopic(f); (err == nil) != ok {
			t.Errorf("checkBulkMQTTTopic(%q): %v", f, err)
		}
	}
}

// TestBulkMQTTHandle: a report with no Agent or a malformed body gets a
// log line and stores nothing; a good one is stored as a collector
// transfer is.
func TestBulkMQTTHandle(t *testing.T) {
	ctx := context.Background()
	db, err := telemetry.OpenSQLite(ctx, filepath.Join(t.TempDir(), "telemetry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := telemetry.New(db, telemetry.Credentials{}, nil)
	var logs bytes.Buffer
	b := &bulkMQTTIngest{svc: svc, filter: defaultBulkMQTTTopic, log: slog.New(slog.NewTextHandler(&logs, nil))}
	const id = "os::012345-H1"
	b.handle(ctx, "usp/bulkdata/nobody/r", []byte("{\"Report\":[{\"A\":1}]}"), "application/json")
	b.handle(ctx, "usp/bulkdata/"+id+"/r", []byte("{\"Report\":["), "application/json")
	b.handle(ctx, "usp/bulkdata/"+id+"/r", []byte("{\"Report\":[{\"A\":1}]}"), "application/xml")
	if n := strings.Count(logs.String(), "level=WARN"); n != 3 {
		t.Errorf("%d warnings, want 3:\n%s", n, logs.String())
	}
	if p, _ := svc.Params(ctx, id); len(p) != 0 {
		t.Errorf("stored %v from refused reports", p)
	}
	b.handle(ctx, "usp/bulkdata/"+id+"/r", []byte("{\"Report\":[{\"CollectionTime\":1700000000,\"A\":1}]}"), "application/json")
	if p, _ := svc.Params(ctx, id); len(p) != 1 || p[0] != "A" {
		t.Errorf("params %v, want [A]", p)
	}
	if st := svc.Stats(); st.Reports != 1 || st.Rejected != 2 {
		t.Errorf("stats %+v, want 1 report and 2 rejected", st)
	}
}
