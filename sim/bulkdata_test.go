package sim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/sim"
	"github.com/uspkit/uspkit/telemetry"
)

// TestBulkDataIngest measures the controller's ingest of Bulk Data
// reports: simulated Agents POST reports of 20 parameters to the
// collector (telemetry.Service behind net/http), stored in SQLite and in
// PostgreSQL. USP_BULK_AGENTS sets the number of Agents (default 200;
// 10000 for docs/perf.md), each sending USP_BULK_REPORTS reports
// (default 3) back to back.
func TestBulkDataIngest(t *testing.T) {
	agents, reports := envInt("USP_BULK_AGENTS", 200), envInt("USP_BULK_REPORTS", 3)
	for _, store := range []string{"SQLite", "PostgreSQL"} {
		t.Run(store, func(t *testing.T) {
			ctx := context.Background()
			var db *telemetry.DB
			var err error
			if store == "SQLite" {
				db, err = telemetry.OpenSQLite(ctx, filepath.Join(t.TempDir(), "telemetry.db"))
			} else {
				pg := testenv.Postgres(t)
				db, err = telemetry.OpenPostgres(ctx, pg.DSN(pg.NewDatabase(t)))
			}
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			creds := telemetry.NewCredentials([]byte("0123456789abcdef0123456789abcdef"))
			svc := telemetry.New(db, creds, nil)
			mux := http.NewServeMux()
			col := svc.Collector()
			var mu sync.Mutex
			var served []time.Duration
			mux.Handle("POST /bulkdata/{agent}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				start := time.Now()
				col.ServeHTTP(w, r)
				mu.Lock()
				served = append(served, time.Since(start))
				mu.Unlock()
			}))
			srv := httptest.NewServer(mux)
			defer srv.Close()
			ids := make([]string, agents)
			for i := range ids {
				ids[i] = "os::012345-SIM" + strconv.Itoa(i)
			}
			start := time.Now()
			st := sim.RunBulkData(ctx, sim.BulkData{URL: srv.URL, Login: func(id string) (string, string) { return creds.User(id), creds.Password(id) },
				Interval: time.Millisecond, Params: 20, Reports: reports}, ids)
			took := time.Since(start)
			want := int64(agents * reports)
			if st.Reports != want || st.Failed != 0 {
				t.Fatalf("sent %d reports, %d failed, want %d", st.Reports, st.Failed, want)
			}
			if got := svc.Stats(); got.Reports != want || got.Rows != want*20 {
				t.Fatalf("collector stored %+v, want %d reports", got, want)
			}
			ps, err := svc.Query(ctx, telemetry.Query{Agent: ids[agents-1], Param: "Device.Sim.Stats.20.BytesSent"})
			if err != nil || len(ps) != reports {
				t.Fatalf("query: %d points, %v", len(ps), err)
			}
			slices.Sort(served)
			t.Logf("%s: %d agents × %d reports of 20 parameters in %v: %.0f reports/s, %.0f rows/s; collector time per report p50 %v p99 %v; "+
				"as the agents saw it (waiting for one of 128 connections) p50 %v p99 %v",
				store, agents, reports, took.Round(time.Millisecond), float64(st.Reports)/took.Seconds(), float64(st.Rows)/took.Seconds(),
				served[len(served)/2].Round(time.Microsecond), served[len(served)*99/100].Round(time.Microsecond),
				st.P50.Round(time.Microsecond), st.P99.Round(time.Microsecond))
		})
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
