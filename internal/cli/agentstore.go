package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/journal"
)

// agentStore is the Agent's persistent store, whichever driver keeps it.
type agentStore interface {
	Load(ctx context.Context) (*store.Snapshot, error)
	Apply(ctx context.Context, b *store.Batch) error
	Close() error
}

// Store drivers `usp agent` offers (agentConfig.Store); docs/config.md
// says when to take which.
const (
	storeSQLite  = "sqlite"  // agent.db
	storeJournal = "journal" // agent.journal/: an append-only journal, least flash wear: the default
	storeBolt    = "bolt"    // agent.bolt: bbolt, a B+tree file
)

// openAgentStore opens the store named kind in dir; "" is storeFor(dir).
func openAgentStore(ctx context.Context, kind, dir string) (agentStore, error) {
	if kind == "" {
		kind = storeFor(dir)
	}
	switch kind {
	case storeSQLite:
		return openSQLiteStore(ctx, dir)
	case storeJournal:
		return journal.Open(ctx, filepath.Join(dir, "agent.journal"), journal.Options{})
	case storeBolt:
		return openBoltStore(ctx, dir) // agentstore_bolt.go; the device build has it with usp_bolt
	}
	return nil, fmt.Errorf("store %q: want %s, %s or %s", kind, storeSQLite, storeJournal, storeBolt)
}

// storeFor is the driver of a configuration without store: the journal,
// which costs the least CPU and writes the fewest bytes per acknowledged
// change and keeps each as durably as SQLite (docs/perf.md "Agent
// stores"); but a data directory that already holds an SQLite database
// and no journal goes on with SQLite, which held the default before:
// changing the driver starts from the factory configuration, and an
// upgrade must not lose the Agent's data model.
func storeFor(dir string) string {
	if hasSQLite(dir) {
		if _, err := os.Stat(filepath.Join(dir, "agent.journal")); errors.Is(err, fs.ErrNotExist) {
			return storeSQLite
		}
	}
	return storeJournal
}
