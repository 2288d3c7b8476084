//go:build usp_device

package cli

import (
	"context"
	"fmt"
)

// defaultStore is the driver of a configuration without store: in the
// device build: the journal, which writes the fewest bytes per change to
// flash and builds for every CPU Go supports.
const defaultStore = storeJournal

// openSQLiteStore fails: the device build leaves SQLite out (it has no
// port to mips, and would double the binary on the others).
func openSQLiteStore(context.Context, string) (agentStore, error) {
	return nil, fmt.Errorf("store %q: not in the device build (usp_device); use %s or %s", storeSQLite, storeJournal, storeBolt)
}
