package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/uspkit/uspkit/store"
)

// fleetSchema is the fleet index of a Controller (store.AgentIndex): one
// row per Agent with the columns a search sorts on, each indexed, and
// the Agents' tags and stored parameter values in tables keyed for
// lookup by value.
const fleetSchema = `
CREATE TABLE fleet_agents (
	id        TEXT PRIMARY KEY,
	online    INTEGER NOT NULL DEFAULT 0,
	last_seen INTEGER NOT NULL DEFAULT 0,
	model     TEXT NOT NULL DEFAULT '',
	version   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX fleet_agents_online ON fleet_agents (online, id);
CREATE INDEX fleet_agents_last_seen ON fleet_agents (last_seen, id);
CREATE INDEX fleet_agents_model ON fleet_agents (model, id);
CREATE INDEX fleet_agents_version ON fleet_agents (version, id);
CREATE TABLE fleet_tags (
	tag TEXT NOT NULL,
	id  TEXT NOT NULL,
	PRIMARY KEY (tag, id)
) WITHOUT ROWID;
CREATE INDEX fleet_tags_id ON fleet_tags (id);
CREATE TABLE fleet_params (
	name  TEXT NOT NULL,
	value TEXT NOT NULL,
	id    TEXT NOT NULL,
	PRIMARY KEY (name, value, id)
) WITHOUT ROWID;
CREATE INDEX fleet_params_id ON fleet_params (id);`

var _ store.AgentIndex = (*DB)(nil)

// agentSQL returns the fleet index's SQL in SQLite's dialect.
func agentSQL() store.AgentSQL {
	return store.AgentSQL{
		Placeholder: func(n int) string { return "?" + strconv.Itoa(n) },
		Contains:    func(col, p string) string { return "instr(" + col + ", " + p + ") > 0" },
		InList:      func(col, p string) string { return col + " IN (SELECT value FROM json_each(" + p + "))" },
		ListArg:     store.JSONList,
		NoLimit:     "LIMIT -1",
	}
}

// sortFewRows is the most matches a search sorts rather than reads in
// the order of the sort key's index.
const sortFewRows = 5000

// PutAgents creates or replaces the index rows of Agents, in one
// transaction.
func (s *DB) PutAgents(ctx context.Context, recs []store.AgentRecord) error {
	return s.inTx(ctx, "put agents", func(tx *sql.Tx) error {
		for i := range recs {
			if err := putAgent(ctx, tx, &recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func putAgent(ctx context.Context, tx *sql.Tx, r *store.AgentRecord) error {
	online, seen, model, version := r.Row()
	if _, err := tx.ExecContext(ctx, `INSERT INTO fleet_agents (id, online, last_seen, model, version) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET online = excluded.online, last_seen = excluded.last_seen, model = excluded.model, version = excluded.version`,
		r.ID, online, seen, model, version); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM fleet_tags WHERE id = ?", r.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM fleet_params WHERE id = ?", r.ID); err != nil {
		return err
	}
	for _, t := range r.Tags {
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO fleet_tags (tag, id) VALUES (?, ?)", t, r.ID); err != nil {
			return err
		}
	}
	for k, v := range r.Params {
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO fleet_params (name, value, id) VALUES (?, ?, ?)", k, v, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// SetAgentOnline records an Agent's online state and last contact; an
// Agent not indexed yet gets a row.
func (s *DB) SetAgentOnline(ctx context.Context, id string, online bool, lastSeen time.Time) error {
	var seen int64
	if !lastSeen.IsZero() {
		seen = lastSeen.UnixMicro()
	}
	on := 0
	if online {
		on = 1
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO fleet_agents (id, online, last_seen) VALUES (?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET online = excluded.online, last_seen = max(last_seen, excluded.last_seen)`, id, on, seen)
	if err != nil {
		return fmt.Errorf("sqlite: agent online: %w", err)
	}
	return nil
}

// DeleteAgents removes Agents from the index.
func (s *DB) DeleteAgents(ctx context.Context, ids []string) error {
	return s.inTx(ctx, "delete agents", func(tx *sql.Tx) error {
		for _, id := range ids {
			for _, q := range []string{"DELETE FROM fleet_agents WHERE id = ?", "DELETE FROM fleet_tags WHERE id = ?", "DELETE FROM fleet_params WHERE id = ?"} {
				if _, err := tx.ExecContext(ctx, q, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// AllOffline marks every indexed Agent offline and counts them.
func (s *DB) AllOffline(ctx context.Context) (int, error) {
	if _, err := s.db.ExecContext(ctx, "UPDATE fleet_agents SET online = 0 WHERE online <> 0"); err != nil {
		return 0, fmt.Errorf("sqlite: agents offline: %w", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM fleet_agents").Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: counting agents: %w", err)
	}
	return n, nil
}

// SearchAgents runs a search on the fleet index.
func (s *DB) SearchAgents(ctx context.Context, q store.AgentQuery) ([]string, int, error) {
	d := agentSQL()
	count, cargs := d.Count(q)
	var total int
	if err := s.db.QueryRowContext(ctx, count, cargs...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlite: search agents: %w", err)
	}
	// Without statistics on ranges SQLite walks the index of the sort key
	// and filters a seen_before/seen_after range, which reads most of the
	// table when few rows match (the last hour, say). When the count
	// says few match, sorting them is cheaper: "+" keeps the planner off
	// the sort key's index so that it reaches them through last_seen's.
	// (An equality filter needs none: its index, (column, id), is in ID
	// order already.)
	prefix := ""
	if total <= sortFewRows && seenRange(q) {
		prefix = "+"
	}
	page, pargs := d.Page(q, prefix)
	rows, err := s.db.QueryContext(ctx, page, pargs...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: search agents: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, 0, fmt.Errorf("sqlite: search agents: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("sqlite: search agents: %w", err)
	}
	return ids, total, nil
}

// inTx runs f in one transaction.
func (s *DB) inTx(ctx context.Context, what string, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return nil
}

// seenRange says whether q bounds last_seen.
func seenRange(q store.AgentQuery) bool {
	for _, f := range q.Filters {
		if !f.SeenBefore.IsZero() || !f.SeenAfter.IsZero() {
			return true
		}
	}
	return false
}
