package cli

import (
	"context"
	"fmt"
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
	storeSQLite  = "sqlite"  // agent.db: the default
	storeJournal = "journal" // agent.journal/: an append-only journal, least flash wear
	storeBolt    = "bolt"    // agent.bolt: bbolt, a B+tree file
)

// openAgentStore opens the store named kind in dir; "" is defaultStore:
// SQLite, or the journal in the device build (agentstore_device.go).
func openAgentStore(ctx context.Context, kind, dir string) (agentStore, error) {
	if kind == "" {
		kind = defaultStore
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
