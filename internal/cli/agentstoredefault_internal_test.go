//go:build !usp_device

package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/uspkit/uspkit/store/journal"
	"github.com/uspkit/uspkit/store/sqlite"
)

// TestStoreFor: a configuration without store: takes the journal, except
// in a data directory holding an SQLite store (agent.db) and no journal,
// which goes on with SQLite rather than starting from the factory
// configuration.
func TestStoreFor(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"empty", nil, storeJournal},
		{"sqlite store", []string{"agent.db"}, storeSQLite},
		{"sqlite store with its WAL", []string{"agent.db", "agent.db-wal", "agent.db-shm"}, storeSQLite},
		{"journal", []string{"agent.journal/"}, storeJournal},
		{"both", []string{"agent.db", "agent.journal/"}, storeJournal},
		{"bolt", []string{"agent.bolt"}, storeJournal},
		{"other files", []string{"secret.key", "udpecho.json"}, storeJournal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				p := filepath.Join(dir, f)
				var err error
				if f[len(f)-1] == '/' {
					err = os.Mkdir(p, 0o700)
				} else {
					err = os.WriteFile(p, nil, 0o600)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := storeFor(dir); got != tc.want {
				t.Errorf("storeFor = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestOpenAgentStoreDefault: without store:, a new data directory gets
// the journal and one where SQLite kept the data model keeps SQLite.
func TestOpenAgentStoreDefault(t *testing.T) {
	ctx := context.Background()
	fresh := t.TempDir()
	db, err := openAgentStore(ctx, "", fresh)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := db.(*journal.DB); !ok {
		t.Errorf("new data directory: %T, want the journal", db)
	}
	db.Close()

	old := t.TempDir()
	if db, err = openAgentStore(ctx, storeSQLite, old); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = openAgentStore(ctx, "", old); err != nil {
		t.Fatal(err)
	}
	if _, ok := db.(*sqlite.DB); !ok {
		t.Errorf("data directory with agent.db: %T, want SQLite", db)
	}
	db.Close()
}
