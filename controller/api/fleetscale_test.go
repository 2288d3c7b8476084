package api_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/store/sqlite"
)

// TestFleetJobScale times a Get job over USP_FLEET_JOB_AGENTS simulated
// agents (skipped when unset), 50 at a time, on an SQLite store: the
// figures of docs/perf.md.
func TestFleetJobScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("USP_FLEET_JOB_AGENTS"))
	if n <= 0 {
		t.Skip("set USP_FLEET_JOB_AGENTS=N to time a job over N simulated agents")
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "controller.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := startFleetCtl(t, db, "127.0.0.1:0")
	start := time.Now()
	f.sims("os::012345-scale", n)
	t.Logf("%d agents online in %v", n, time.Since(start).Round(time.Millisecond))
	// The index is written just after the registry, one commit per
	// Agent: it may lag a burst of new Agents.
	for deadline := time.Now().Add(time.Minute); f.search("/api/v1/agents", "q=os::012345-scale&limit=1").Total < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("index does not hold every agent")
		}
	}
	t.Logf("%d agents indexed in %v", n, time.Since(start).Round(time.Millisecond))
	var g controller.Group
	f.get(oper, "POST", "/api/v1/groups", `{"name":"scale","filter":{"q":"os::012345-scale"}}`, http.StatusCreated, &g)
	start = time.Now()
	var j jobView
	f.get(oper, "POST", "/api/v1/jobs", `{"group":"`+g.ID+`","request":{"kind":"get","paths":["Device.DeviceInfo.SerialNumber"]},"concurrency":50}`, http.StatusCreated, &j)
	created := time.Since(start)
	j = f.waitJob(j.ID, func(j *jobView) bool { return j.State == controller.JobCompleted })
	took := time.Since(start)
	if j.Counts.Succeeded != n {
		t.Fatalf("counts %+v", j.Counts)
	}
	t.Logf("job over %d agents: created in %v, completed in %v (%.0f agents/s)", n, created.Round(time.Millisecond), took.Round(time.Millisecond), float64(n)/took.Seconds())
	start = time.Now()
	var list struct{ Jobs []jobView }
	f.get(viewer, "GET", "/api/v1/jobs", "", http.StatusOK, &list)
	f.get(viewer, "GET", "/api/v1/jobs/"+j.ID, "", http.StatusOK, &j)
	t.Logf("GET /api/v1/jobs and the job with %d results: %v", n, time.Since(start).Round(time.Millisecond))
}
