package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uspkit/uspkit/store"
)

// schemaFleet is the fleet index of a Controller (store.AgentIndex): one
// row per Agent with the columns a search sorts on, each indexed, and
// the Agents' tags and stored parameter values in tables keyed for
// lookup by value.
const schemaFleet = `
CREATE TABLE fleet_agents (
	id        text COLLATE "C" PRIMARY KEY,
	online    smallint NOT NULL DEFAULT 0,
	last_seen bigint NOT NULL DEFAULT 0,
	model     text COLLATE "C" NOT NULL DEFAULT '',
	version   text COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX fleet_agents_online ON fleet_agents (online, id);
CREATE INDEX fleet_agents_last_seen ON fleet_agents (last_seen, id);
CREATE INDEX fleet_agents_model ON fleet_agents (model, id);
CREATE INDEX fleet_agents_version ON fleet_agents (version, id);
CREATE TABLE fleet_tags (
	tag text COLLATE "C" NOT NULL,
	id  text COLLATE "C" NOT NULL,
	PRIMARY KEY (tag, id)
);
CREATE INDEX fleet_tags_id ON fleet_tags (id);
CREATE TABLE fleet_params (
	name  text COLLATE "C" NOT NULL,
	value text COLLATE "C" NOT NULL,
	id    text COLLATE "C" NOT NULL,
	PRIMARY KEY (name, value, id)
);
CREATE INDEX fleet_params_id ON fleet_params (id)`

var _ store.AgentIndex = (*DB)(nil)

// agentSQL returns the fleet index's SQL in PostgreSQL's dialect.
func agentSQL() store.AgentSQL {
	return store.AgentSQL{
		Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
		Contains:    func(col, p string) string { return "strpos(" + col + ", " + p + "::text) > 0" },
		InList:      func(col, p string) string { return col + " = ANY(" + p + "::text[])" },
		ListArg: func(ids []string) any {
			if ids == nil {
				ids = []string{}
			}
			return ids
		},
		// The IDs of a tag or a parameter value are read first, then
		// looked up by primary key: the planner otherwise hashes them
		// against a scan of every Agent to count them.
		InQuery: func(col, q string) string { return col + " = ANY(ARRAY(" + q + "))" },
		NoLimit: "LIMIT ALL",
	}
}

// PutAgents creates or replaces the index rows of Agents, in one
// transaction.
func (db *DB) PutAgents(ctx context.Context, recs []store.AgentRecord) error {
	b := &pgx.Batch{}
	for i := range recs {
		r := &recs[i]
		online, seen, model, version := r.Row()
		b.Queue(`INSERT INTO fleet_agents (id, online, last_seen, model, version) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET online = excluded.online, last_seen = excluded.last_seen, model = excluded.model, version = excluded.version`,
			r.ID, online, seen, model, version)
		b.Queue("DELETE FROM fleet_tags WHERE id = $1", r.ID)
		b.Queue("DELETE FROM fleet_params WHERE id = $1", r.ID)
		for _, t := range r.Tags {
			b.Queue("INSERT INTO fleet_tags (tag, id) VALUES ($1, $2) ON CONFLICT DO NOTHING", t, r.ID)
		}
		for k, v := range r.Params {
			b.Queue("INSERT INTO fleet_params (name, value, id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", k, v, r.ID)
		}
	}
	return db.batchTx(ctx, "put agents", b)
}

// batchTx runs b in one READ COMMITTED transaction: the index rows of
// one Agent are written by one Controller, so that conflicts with
// other writers do not arise.
func (db *DB) batchTx(ctx context.Context, what string, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	defer tx.Rollback(ctx)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	return nil
}

// SetAgentOnline records an Agent's online state and last contact; an
// Agent not indexed yet gets a row.
func (db *DB) SetAgentOnline(ctx context.Context, id string, online bool, lastSeen time.Time) error {
	var seen int64
	if !lastSeen.IsZero() {
		seen = lastSeen.UnixMicro()
	}
	on := 0
	if online {
		on = 1
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO fleet_agents (id, online, last_seen) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET online = excluded.online, last_seen = greatest(fleet_agents.last_seen, excluded.last_seen)`, id, on, seen)
	if err != nil {
		return fmt.Errorf("postgres: agent online: %w", err)
	}
	return nil
}

// DeleteAgents removes Agents from the index.
func (db *DB) DeleteAgents(ctx context.Context, ids []string) error {
	b := &pgx.Batch{}
	if len(ids) > 0 {
		b.Queue("DELETE FROM fleet_agents WHERE id = ANY($1::text[])", ids)
		b.Queue("DELETE FROM fleet_tags WHERE id = ANY($1::text[])", ids)
		b.Queue("DELETE FROM fleet_params WHERE id = ANY($1::text[])", ids)
	}
	return db.batchTx(ctx, "delete agents", b)
}

// AllOffline marks every indexed Agent offline and counts them.
func (db *DB) AllOffline(ctx context.Context) (int, error) {
	if _, err := db.pool.Exec(ctx, "UPDATE fleet_agents SET online = 0 WHERE online <> 0"); err != nil {
		return 0, fmt.Errorf("postgres: agents offline: %w", err)
	}
	var n int
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM fleet_agents").Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: counting agents: %w", err)
	}
	return n, nil
}

// SearchAgents runs a search on the fleet index.
func (db *DB) SearchAgents(ctx context.Context, q store.AgentQuery) ([]string, int, error) {
	count, cargs, page, pargs := agentSQL().Search(q)
	var total int
	if err := db.pool.QueryRow(ctx, count, cargs...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("postgres: search agents: %w", err)
	}
	rows, err := db.pool.Query(ctx, page, pargs...)
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: search agents: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: search agents: %w", err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, total, nil
}
