package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/sqlite"
	"github.com/uspkit/uspkit/store/storetest"
)

// TestAgentIndex runs the fleet index suite on SQLite.
func TestAgentIndex(t *testing.T) {
	storetest.RunAgentIndex(t, func(t *testing.T) store.AgentIndex { return open(t, filepath.Join(t.TempDir(), "fleet.db")) })
}

// TestAgentIndexUsesIndexes checks the query plans: no search of one
// column scans the whole table.
func TestAgentIndexUsesIndexes(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "fleet.db"))
	for _, q := range []string{
		"SELECT id FROM fleet_agents WHERE model = 'x' ORDER BY model, id LIMIT 100",
		"SELECT id FROM fleet_agents WHERE version = 'x' ORDER BY id LIMIT 100",
		"SELECT id FROM fleet_agents WHERE last_seen > 5 ORDER BY last_seen DESC, id DESC LIMIT 100",
		"SELECT id FROM fleet_agents WHERE id IN (SELECT id FROM fleet_tags WHERE tag = 'x') ORDER BY id LIMIT 100",
		"SELECT id FROM fleet_agents WHERE id IN (SELECT id FROM fleet_params WHERE name = 'x' AND value = 'y') ORDER BY id LIMIT 100",
	} {
		plan := db.ExplainForTest(context.Background(), q)
		for _, line := range plan {
			if line == "SCAN fleet_agents" || line == "SCAN fleet_tags" || line == "SCAN fleet_params" {
				t.Errorf("%s: full scan in plan %q", q, plan)
			}
		}
	}
}

// BenchmarkAgentIndex searches 100,000 Agents (USP_BENCH_AGENTS
// overrides the number) in SQLite; the database is kept in
// USP_BENCH_DB when set, so that later runs skip the registration.
func BenchmarkAgentIndex(b *testing.B) {
	n := 100000
	if v := os.Getenv("USP_BENCH_AGENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	path := os.Getenv("USP_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "fleet.db")
	}
	storetest.BenchAgentIndex(b, openTB(b, path), n, nil)
}

func openTB(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
