package telemetry_test

import (
	"context"
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/telemetry"
)

func eachStore(t *testing.T, f func(t *testing.T, db *telemetry.DB)) {
	t.Run("SQLite", func(t *testing.T) {
		db, err := telemetry.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "t.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		f(t, db)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		pg := testenv.Postgres(t)
		db, err := telemetry.OpenPostgres(context.Background(), pg.DSN(pg.NewDatabase(t)))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		f(t, db)
	})
}

// TestStore: samples come back by agent, parameter and time range, raw or
// downsampled with avg, min, max and last; text values keep their text;
// Purge deletes by age.
func TestStore(t *testing.T) {
	eachStore(t, func(t *testing.T, db *telemetry.DB) {
		ctx := context.Background()
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var ss []telemetry.Sample
		for i := range 600 { // one value a second for 10 minutes: i
			ss = append(ss, telemetry.Sample{Agent: "a1", Param: "N", Time: base.Add(time.Duration(i) * time.Second), Value: strconv.Itoa(i)})
		}
		ss = append(ss, telemetry.Sample{Agent: "a2", Param: "N", Time: base, Value: "1000"},
			telemetry.Sample{Agent: "a1", Param: "S", Time: base, Value: "hello"},
			telemetry.Sample{Agent: "a1", Param: "B", Time: base, Value: "true"})
		if err := db.Insert(ctx, ss); err != nil {
			t.Fatal(err)
		}
		raw, err := db.Query(ctx, telemetry.Query{Agent: "a1", Param: "N", From: base.Add(10 * time.Second), To: base.Add(13 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 3 || raw[0].Value != 10 || raw[2].Value != 12 || !raw[0].Time.Equal(base.Add(10*time.Second)) {
			t.Errorf("raw %+v", raw)
		}
		for _, tc := range []struct {
			agg  string
			want []float64
		}{
			{"avg", []float64{29.5, 89.5, 149.5}},
			{"min", []float64{0, 60, 120}},
			{"max", []float64{59, 119, 179}},
			{"last", []float64{59, 119, 179}},
		} {
			ps, err := db.Query(ctx, telemetry.Query{Agent: "a1", Param: "N", To: base.Add(3 * time.Minute), Step: time.Minute, Agg: tc.agg})
			if err != nil {
				t.Fatalf("%s: %v", tc.agg, err)
			}
			var got []float64
			for _, p := range ps {
				got = append(got, p.Value)
				if p.Count != 60 {
					t.Errorf("%s: bucket of %d samples", tc.agg, p.Count)
				}
			}
			if len(got) != len(tc.want) || math.Abs(got[0]-tc.want[0]) > 1e-9 || got[1] != tc.want[1] && tc.agg != "avg" || got[2] != tc.want[2] && tc.agg != "avg" {
				t.Errorf("%s: %v, want %v", tc.agg, got, tc.want)
			}
			if len(ps) > 0 && !ps[1].Time.Equal(base.Add(time.Minute)) {
				t.Errorf("%s: second bucket at %v", tc.agg, ps[1].Time)
			}
		}
		txt, _ := db.Query(ctx, telemetry.Query{Agent: "a1", Param: "S"})
		if len(txt) != 1 || txt[0].Text != "hello" || !math.IsNaN(txt[0].Value) {
			t.Errorf("text %+v", txt)
		}
		b, _ := db.Query(ctx, telemetry.Query{Agent: "a1", Param: "B"})
		if len(b) != 1 || b[0].Value != 1 {
			t.Errorf("boolean %+v", b)
		}
		params, err := db.Params(ctx, "a1")
		if err != nil || len(params) != 3 || params[0] != "B" {
			t.Errorf("params %v %v", params, err)
		}
		n, err := db.Purge(ctx, base.Add(5*time.Minute))
		if err != nil || n != 300+3 {
			t.Errorf("purged %d %v, want 303", n, err)
		}
		left, _ := db.Query(ctx, telemetry.Query{Agent: "a1", Param: "N"})
		if len(left) != 300 {
			t.Errorf("%d left", len(left))
		}
		if _, err := db.Query(ctx, telemetry.Query{Agent: "a1", Param: "N", Step: time.Minute, Agg: "median"}); err == nil {
			t.Error("unknown aggregation accepted")
		}
	})
}
