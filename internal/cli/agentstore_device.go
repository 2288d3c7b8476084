//go:build usp_device

package cli

import (
	"context"
	"fmt"
)

// openSQLiteStore fails: the device build leaves SQLite out (it has no
// port to mips, and would double the binary on the others).
func openSQLiteStore(context.Context, string) (agentStore, error) {
	return nil, fmt.Errorf("store %q: not in the device build (usp_device); use %s or %s", storeSQLite, storeJournal, storeBolt)
}

// hasSQLite is false: the device build has no SQLite store to go on with.
func hasSQLite(string) bool { return false }
