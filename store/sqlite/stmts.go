package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Apply's statements, prepared once when the database opens: SQLite parses
// and plans a statement in full every time it is prepared, which cost an
// Agent's Add and Set more CPU than running it.
const (
	stPutObject = iota
	stPutCounter
	stDeleteItem
	stPutItem
	stDeleteRange
	stDeleteFrom
	nStmts
)

var stmtSQL = [nStmts]string{
	stPutObject:   "INSERT INTO objects (path, params) VALUES (?, ?) ON CONFLICT(path) DO UPDATE SET params = excluded.params",
	stPutCounter:  "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
	stDeleteItem:  "DELETE FROM items WHERE kind = ? AND id = ?",
	stPutItem:     "INSERT INTO items (kind, id, data) VALUES (?, ?, ?) ON CONFLICT(kind, id) DO UPDATE SET data = excluded.data",
	stDeleteRange: deleteRangeSQL,
	stDeleteFrom:  deleteFromSQL,
}

// prepare prepares Apply's statements on the database.
func (s *DB) prepare(ctx context.Context) error {
	for i, q := range stmtSQL {
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("preparing %q: %w", q, err)
		}
		s.stmts[i] = st
	}
	return nil
}

// closeStmts closes the prepared statements.
func (s *DB) closeStmts() error {
	var errs []error
	for _, st := range s.stmts {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// txStmts binds the prepared statements to one transaction as each is
// first needed. Tx.StmtContext reuses the statement already prepared on
// the transaction's connection (the only one: SetMaxOpenConns(1)).
type txStmts struct {
	ctx   context.Context
	tx    *sql.Tx
	db    *DB
	bound [nStmts]*sql.Stmt
}

// exec runs statement i in the transaction.
func (t *txStmts) exec(i int, args ...any) error {
	st := t.bound[i]
	if st == nil {
		st = t.tx.StmtContext(t.ctx, t.db.stmts[i])
		t.bound[i] = st
	}
	_, err := st.ExecContext(t.ctx, args...)
	return err
}

// close releases the transaction's statements (their connection's
// statements stay prepared).
func (t *txStmts) close() {
	for _, st := range t.bound {
		if st != nil {
			st.Close()
		}
	}
}
