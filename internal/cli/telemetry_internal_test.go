package cli

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/telemetry"
)

// TestTelemetryRetention: telemetry.max_age must be a positive duration;
// the Controller's telemetry purges values older than it as it starts
// (and on its schedule after), in the data directory's telemetry.db.
func TestTelemetryRetention(t *testing.T) {
	for _, tc := range []struct {
		maxAge string
		ok     bool
	}{{"", true}, {"24h", true}, {"90m", true}, {"0s", false}, {"-1h", false}, {"a month", false}} {
		err := (&telemetryConfig{MaxAge: tc.maxAge}).check()
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "telemetry.max_age")) {
			t.Errorf("max_age %q: %v", tc.maxAge, err)
		}
	}

	ctx := context.Background()
	data := t.TempDir()
	db, err := telemetry.OpenSQLite(ctx, filepath.Join(data, "telemetry.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc := telemetry.New(db, telemetry.NewCredentials([]byte("0123456789abcdef0123456789abcdef")), nil)
	now := time.Now()
	if _, err := svc.Ingest(ctx, "os::A", []telemetry.Report{
		{Time: now.Add(-3 * time.Hour), Values: []telemetry.Value{{Name: "N", Value: "1"}}},
		{Time: now.Add(-30 * time.Minute), Values: []telemetry.Value{{Name: "N", Value: "2"}}},
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	c, err := controller.New(ctx, controller.Options{EndpointID: "proto::retention"})
	if err != nil {
		t.Fatal(err)
	}
	tel, stop, err := startTelemetry(ctx, &telemetryConfig{MaxAge: "1h"}, data, "", c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for deadline := time.Now().Add(5 * time.Second); tel.Stats().Purged == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	ps, err := tel.Query(ctx, telemetry.Query{Agent: "os::A", Param: "N"})
	if err != nil || tel.Stats().Purged != 1 || len(ps) != 1 || ps[0].Value != 2 {
		t.Fatalf("after the start with max_age 1h: purged %d, left %+v, %v", tel.Stats().Purged, ps, err)
	}
}
