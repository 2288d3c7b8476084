//go:build !usp_device

package cli

import (
	"context"
	"os"
	"path/filepath"

	"github.com/uspkit/uspkit/store/sqlite"
)

// openSQLiteStore opens agent.db in dir.
func openSQLiteStore(ctx context.Context, dir string) (agentStore, error) {
	return sqlite.OpenOptions(ctx, filepath.Join(dir, "agent.db"), sqlite.Options{CacheKiB: agentCacheKiB})
}

// hasSQLite reports whether dir holds an SQLite store, agent.db.
func hasSQLite(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "agent.db"))
	return err == nil
}
