package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/uspkit/uspkit/store"
)

// migrations are applied in order; the database records how many ran.
var migrations = []string{
	`CREATE TABLE objects (path TEXT PRIMARY KEY, params TEXT NOT NULL);
	 CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
	 CREATE TABLE items (kind TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (kind, id));`,
	fleetSchema,
}

// DB is an SQLite-backed store, safe for concurrent use.
type DB struct {
	db    *sql.DB
	path  string
	stmts [nStmts]*sql.Stmt // Apply's, prepared by Open
}

// Open opens (creating if needed) the database file at path and brings its
// schema up to date.
//
// The database and its -wal and -shm files are readable by their owner
// only (mode 0600), whatever mode existing ones had: they hold
// configuration, queued messages and, for an Agent, credentials.
func Open(ctx context.Context, path string) (*DB, error) {
	return OpenOptions(ctx, path, Options{})
}

// Options tune an SQLite database.
type Options struct {
	// CacheKiB caps SQLite's page cache, in KiB; 0 keeps SQLite's default
	// (2,000 KiB). A device Agent's tables are small and its reads come
	// from memory, so a small cache keeps its resident memory down after a
	// burst of writes.
	CacheKiB int
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, path string, opt Options) (*DB, error) {
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=secure_delete(1)"
	if opt.CacheKiB > 0 {
		dsn += fmt.Sprintf("&_pragma=cache_size(-%d)", opt.CacheKiB)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One writer connection: SQLite serialises writers anyway, and this
	// keeps busy errors away.
	db.SetMaxOpenConns(1)
	s := &DB{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	// SQLite gives -wal and -shm the database's mode; older files may
	// predate that.
	if err := restrictFiles(path); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return s, nil
}

// Path returns the database file's path.
func (s *DB) Path() string { return s.path }

// Close closes the database.
func (s *DB) Close() error {
	err := s.closeStmts()
	return errors.Join(err, s.db.Close())
}

func (s *DB) migrate(ctx context.Context) error {
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this program's %d", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Load returns everything stored.
func (s *DB) Load(ctx context.Context) (*store.Snapshot, error) {
	snap := &store.Snapshot{Counters: map[string]uint32{}}
	rows, err := s.db.QueryContext(ctx, "SELECT path, params FROM objects ORDER BY path")
	if err != nil {
		return nil, fmt.Errorf("sqlite: load objects: %w", err)
	}
	for rows.Next() {
		var o store.Object
		var params string
		if err := rows.Scan(&o.Path, &params); err != nil {
			rows.Close()
			return nil, err
		}
		if err := json.Unmarshal([]byte(params), &o.Params); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: object %s: %w", o.Path, err)
		}
		snap.Objects = append(snap.Objects, o)
	}
	rows.Close()
	if err := loadRows(ctx, s.db, "SELECT name, value FROM counters", func(r *sql.Rows) error {
		var name string
		var v uint32
		err := r.Scan(&name, &v)
		snap.Counters[name] = v
		return err
	}); err != nil {
		return nil, err
	}
	err = loadRows(ctx, s.db, "SELECT kind, id, data FROM items ORDER BY kind, id", func(r *sql.Rows) error {
		var it store.Item
		err := r.Scan(&it.Kind, &it.ID, &it.Data)
		snap.Items = append(snap.Items, it)
		return err
	})
	return snap, err
}

func loadRows(ctx context.Context, db *sql.DB, q string, f func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	return rows.Err()
}

// Apply applies b in one transaction, durable when it returns nil.
func (s *DB) Apply(ctx context.Context, b *store.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	ts := &txStmts{ctx: ctx, tx: tx, db: s}
	err = ts.apply(b)
	ts.close()
	if err != nil {
		tx.Rollback()
		return fmt.Errorf("sqlite: apply: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

func (t *txStmts) apply(b *store.Batch) error {
	for _, d := range b.Delete {
		if err := t.deletePrefix(d); err != nil {
			return err
		}
	}
	var buf []byte
	for _, o := range b.Put {
		var err error
		if buf, err = appendParams(buf[:0], o.Params); err != nil {
			return err
		}
		if err := t.exec(stPutObject, o.Path, string(buf)); err != nil {
			return err
		}
	}
	for name, v := range b.Counters {
		if err := t.exec(stPutCounter, name, v); err != nil {
			return err
		}
	}
	for _, it := range b.DeleteItems {
		if err := t.exec(stDeleteItem, it.Kind, it.ID); err != nil {
			return err
		}
	}
	for _, it := range b.PutItems {
		if err := t.exec(stPutItem, it.Kind, it.ID, it.Data); err != nil {
			return err
		}
	}
	return nil
}
