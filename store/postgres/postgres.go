package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uspkit/uspkit/store"
)

// schemaV1 is the first schema. Text keys use the "C" collation, so that
// ORDER BY and the range scans of prefix deletes compare bytes, as Go's
// strings.Compare does, whatever the database's locale.
const schemaV1 = `
CREATE TABLE objects (
	path   text COLLATE "C" PRIMARY KEY,
	params jsonb NOT NULL
);
CREATE TABLE counters (
	name  text COLLATE "C" PRIMARY KEY,
	value bigint NOT NULL CHECK (value >= 0)
);
CREATE TABLE items (
	kind text COLLATE "C" NOT NULL,
	id   text COLLATE "C" NOT NULL,
	data bytea NOT NULL,
	PRIMARY KEY (kind, id)
)`

// migrations returns the schema changes in order; schema_version holds
// how many have run.
func migrations() []string { return []string{schemaV1, schemaFleet} }

// migrationLock is the key of the transaction-level advisory lock held
// while the schema is checked and migrated ("uspkit" in ASCII).
const migrationLock = 0x7573706b6974

const createVersionTable = `
CREATE TABLE schema_version (
	one     boolean PRIMARY KEY DEFAULT true CHECK (one),
	version integer NOT NULL
);
INSERT INTO schema_version (version) VALUES (0)`

// DB is a PostgreSQL-backed store, safe for concurrent use (see the
// package documentation for the isolation it gives).
type DB struct {
	pool *pgxpool.Pool
}

// Open connects to the database named by dsn, a pgx connection string
// (URL or keyword/value form, including pgxpool's pool_* settings), and
// brings its schema up to date. It fails if the schema is newer than this
// program knows.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "uspkit"
	}
	where := cfg.ConnConfig.Host + "/" + cfg.ConnConfig.Database
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", where, err)
	}
	db := &DB{pool: pool}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: %w", where, err)
	}
	return db, nil
}

// Close closes every connection, waiting for those in use to be
// returned. It always returns nil.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migrate creates or upgrades the schema in one transaction, holding an
// advisory lock so that concurrent Opens take turns. It creates nothing
// when the schema is current, so a role without CREATE rights can open a
// database that was migrated before.
func (db *DB) migrate(ctx context.Context) error {
	steps := migrations()
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass('schema_version') IS NOT NULL").Scan(&exists); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, createVersionTable); err != nil {
			return fmt.Errorf("creating schema_version: %w", err)
		}
	}
	var version int
	if err := tx.QueryRow(ctx, "SELECT version FROM schema_version").Scan(&version); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if version > len(steps) {
		return fmt.Errorf("database schema version %d is newer than this program's %d", version, len(steps))
	}
	if version == len(steps) {
		return tx.Commit(ctx)
	}
	for i := version; i < len(steps); i++ {
		if _, err := tx.Exec(ctx, steps[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.Exec(ctx, "UPDATE schema_version SET version = $1", len(steps)); err != nil {
		return fmt.Errorf("recording schema version: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

const (
	selectObjects  = `SELECT path, params FROM objects ORDER BY path`
	selectCounters = `SELECT name, value FROM counters`
	selectItems    = `SELECT kind, id, data FROM items ORDER BY kind, id`
)

// Load returns everything stored, as of one moment.
func (db *DB) Load(ctx context.Context) (*store.Snapshot, error) {
	snap := &store.Snapshot{Counters: map[string]uint32{}}
	b := &pgx.Batch{}
	// One snapshot that never shows a state outside a serial order of the
	// Apply transactions, and that is never aborted for it: a DEFERRABLE
	// read waits, briefly, for a safe snapshot instead.
	b.BeginTx(pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadOnly, DeferrableMode: pgx.Deferrable})
	b.Queue(selectObjects).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var o store.Object
			if err := rows.Scan(&o.Path, &o.Params); err != nil {
				return fmt.Errorf("object: %w", err)
			}
			snap.Objects = append(snap.Objects, o)
		}
		return rows.Err()
	})
	b.Queue(selectCounters).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var name string
			var v uint32
			if err := rows.Scan(&name, &v); err != nil {
				return fmt.Errorf("counter: %w", err)
			}
			snap.Counters[name] = v
		}
		return rows.Err()
	})
	b.Queue(selectItems).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var it store.Item
			if err := rows.Scan(&it.Kind, &it.ID, &it.Data); err != nil {
				return fmt.Errorf("item: %w", err)
			}
			snap.Items = append(snap.Items, it)
		}
		return rows.Err()
	})
	br := db.pool.SendBatch(ctx, b)
	tx := br.Tx()
	defer tx.Rollback(ctx)
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("postgres: load: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("postgres: load: %w", err)
	}
	return snap, nil
}
