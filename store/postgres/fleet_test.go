package postgres_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/storetest"
)

// TestAgentIndex runs the fleet index suite on PostgreSQL.
func TestAgentIndex(t *testing.T) {
	testenv.Postgres(t) // skips here when PostgreSQL is missing
	storetest.RunAgentIndex(t, func(t *testing.T) store.AgentIndex {
		db, _ := fresh(t)
		return db
	})
}

// BenchmarkAgentIndex searches 100,000 Agents (USP_BENCH_AGENTS
// overrides the number) in PostgreSQL, after VACUUM ANALYZE (the state
// autovacuum keeps a table in); USP_BENCH_PG_PARAMS adds settings to the
// connection string.
func BenchmarkAgentIndex(b *testing.B) {
	n := 100000
	if v := os.Getenv("USP_BENCH_AGENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	db, dsn := fresh(b)
	if p := os.Getenv("USP_BENCH_PG_PARAMS"); p != "" {
		// Planner settings for the searches, such as random_page_cost=1.1.
		db = open(b, dsn+" "+p)
	}
	storetest.BenchAgentIndex(b, db, n, func() { execSQL(b, dsn, "VACUUM ANALYZE") })
}
