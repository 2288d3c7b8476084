package telemetry

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Sample is one value of one parameter of one Agent at one time.
type Sample struct {
	Agent string
	Param string
	Time  time.Time
	Value string
}

// Query selects the samples of one Agent's parameter in [From, To).
type Query struct {
	Agent, Param string
	// From and To bound the time range; the zero From means no lower
	// bound, the zero To no upper bound.
	From, To time.Time
	// Step, when positive, groups the samples into buckets of Step (from
	// the Unix epoch) and gives one point per non-empty bucket with Agg
	// of its numeric values: "avg" (also for ""), "min", "max" or "last".
	// 0 gives every sample.
	Step time.Duration
	Agg  string
	// Limit bounds the points returned; 0 means 10000.
	Limit int
}

// Point is one sample or one bucket of a Query's answer.
type Point struct {
	Time time.Time `json:"t"`
	// Value is the numeric value; NaN for text (then Text holds it).
	Value float64 `json:"-"`
	Text  string  `json:"text,omitempty"`
	// Count is the number of samples in the bucket (1 without Step).
	Count int `json:"n"`
}

// MarshalJSON writes {"t": time, "v": number or null, "text": …, "n": count}.
func (p Point) MarshalJSON() ([]byte, error) {
	b := []byte(`{"t":`)
	b = strconv.AppendQuote(b, p.Time.Format(time.RFC3339Nano))
	b = append(b, `,"v":`...)
	if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendFloat(b, p.Value, 'g', -1, 64)
	}
	if p.Text != "" {
		b = append(b, `,"text":`...)
		tb, _ := json.Marshal(p.Text)
		b = append(b, tb...)
	}
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, int64(p.Count), 10)
	return append(b, '}'), nil
}

// DB stores samples in SQLite or PostgreSQL: table telemetry_samples with
// an index on (agent, param, t) and one on t for the purge. Times are
// Unix milliseconds; numeric values are kept as numbers, others as text.
// It is safe for concurrent use.
type DB struct {
	db       *sql.DB
	postgres bool
}

const schemaSQL = `
CREATE TABLE IF NOT EXISTS telemetry_samples (
	agent TEXT NOT NULL,
	param TEXT NOT NULL,
	t     BIGINT NOT NULL,
	num   DOUBLE PRECISION,
	txt   TEXT
);
CREATE INDEX IF NOT EXISTS telemetry_samples_apt ON telemetry_samples (agent, param, t);
CREATE INDEX IF NOT EXISTS telemetry_samples_t ON telemetry_samples (t)`

// OpenSQLite opens (creating) the SQLite database file at path, readable
// by its owner only.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("telemetry: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return setup(ctx, db, false, path)
}

// OpenPostgres connects to the PostgreSQL database dsn (a pgx connection
// string) and creates the table if it is missing.
func OpenPostgres(ctx context.Context, dsn string) (*DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	db.SetMaxOpenConns(8)
	return setup(ctx, db, true, "postgres")
}

func setup(ctx context.Context, db *sql.DB, pg bool, where string) (*DB, error) {
	for stmt := range strings.SplitSeq(schemaSQL, ";") {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("telemetry: %s: creating the table: %w", where, err)
		}
	}
	return &DB{db: db, postgres: pg}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// ph returns the n-th placeholder (from 1).
func (d *DB) ph(n int) string {
	if d.postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// insertRows is the number of rows of one INSERT statement.
const insertRows = 200

// Insert stores samples in one transaction.
func (d *DB) Insert(ctx context.Context, samples []Sample) error {
	if len(samples) == 0 {
		return nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer tx.Rollback()
	for len(samples) > 0 {
		chunk := samples[:min(len(samples), insertRows)]
		samples = samples[len(chunk):]
		var b strings.Builder
		b.WriteString("INSERT INTO telemetry_samples (agent, param, t, num, txt) VALUES ")
		args := make([]any, 0, 5*len(chunk))
		for i, s := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			n := 5 * i
			fmt.Fprintf(&b, "(%s,%s,%s,%s,%s)", d.ph(n+1), d.ph(n+2), d.ph(n+3), d.ph(n+4), d.ph(n+5))
			var num, txt any
			if f, err := strconv.ParseFloat(s.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				num = f
			} else if s.Value == "true" || s.Value == "false" {
				num = map[bool]float64{true: 1, false: 0}[s.Value == "true"]
			} else {
				txt = s.Value
			}
			args = append(args, s.Agent, s.Param, s.Time.UnixMilli(), num, txt)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("telemetry: insert: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	return nil
}

// Query answers q.
func (d *DB) Query(ctx context.Context, q Query) ([]Point, error) {
	if q.Limit <= 0 {
		q.Limit = 10000
	}
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.From.IsZero() {
		from = q.From.UnixMilli()
	}
	if !q.To.IsZero() {
		to = q.To.UnixMilli()
	}
	where := fmt.Sprintf("agent = %s AND param = %s AND t >= %s AND t < %s", d.ph(1), d.ph(2), d.ph(3), d.ph(4))
	args := []any{q.Agent, q.Param, from, to}
	var query string
	if q.Step <= 0 {
		query = "SELECT t, num, txt, 1 FROM telemetry_samples WHERE " + where + " ORDER BY t LIMIT " + strconv.Itoa(q.Limit)
	} else {
		step := q.Step.Milliseconds()
		if step <= 0 {
			step = 1
		}
		bucket := fmt.Sprintf("(t - (t %% %d))", step)
		var agg string
		switch q.Agg {
		case "", "avg":
			agg = "avg(num)"
		case "min", "max":
			agg = q.Agg + "(num)"
		case "last":
			if d.postgres {
				agg = "(array_agg(num ORDER BY t DESC) FILTER (WHERE num IS NOT NULL))[1]"
			} else {
				// SQLite takes the bare column from the row of max().
				query = "SELECT b, num, NULL, n FROM (SELECT " + bucket + " AS b, max(t), num, count(*) AS n FROM telemetry_samples WHERE " + where +
					" AND num IS NOT NULL GROUP BY b) ORDER BY b LIMIT " + strconv.Itoa(q.Limit)
			}
		default:
			return nil, fmt.Errorf("telemetry: aggregation %q is not avg, min, max or last", q.Agg)
		}
		if query == "" {
			query = "SELECT " + bucket + " AS b, " + agg + ", NULL, count(num) FROM telemetry_samples WHERE " + where +
				" AND num IS NOT NULL GROUP BY b ORDER BY b LIMIT " + strconv.Itoa(q.Limit)
		}
	}
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("telemetry: query: %w", err)
	}
	defer rows.Close()
	var out []Point
	for rows.Next() {
		var t int64
		var num sql.NullFloat64
		var txt sql.NullString
		var n int
		if err := rows.Scan(&t, &num, &txt, &n); err != nil {
			return nil, fmt.Errorf("telemetry: query: %w", err)
		}
		p := Point{Time: time.UnixMilli(t).UTC(), Value: math.NaN(), Count: n}
		if num.Valid {
			p.Value = num.Float64
		} else {
			p.Text = txt.String
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Params lists the parameters stored for agent, sorted.
func (d *DB) Params(ctx context.Context, agent string) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, "SELECT DISTINCT param FROM telemetry_samples WHERE agent = "+d.ph(1)+" ORDER BY param", agent)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Purge deletes the samples older than before and returns how many.
func (d *DB) Purge(ctx context.Context, before time.Time) (int64, error) {
	res, err := d.db.ExecContext(ctx, "DELETE FROM telemetry_samples WHERE t < "+d.ph(1), before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("telemetry: purge: %w", err)
	}
	return res.RowsAffected()
}
