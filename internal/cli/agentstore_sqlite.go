//go:build !usp_device

package cli

import (
	"context"
	"path/filepath"

	"github.com/uspkit/uspkit/store/sqlite"
)

// defaultStore is the driver of a configuration without store:.
const defaultStore = storeSQLite

// openSQLiteStore opens agent.db in dir.
func openSQLiteStore(ctx context.Context, dir string) (agentStore, error) {
	return sqlite.OpenOptions(ctx, filepath.Join(dir, "agent.db"), sqlite.Options{CacheKiB: agentCacheKiB})
}
