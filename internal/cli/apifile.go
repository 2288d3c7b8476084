//go:build !usp_device

package cli

import (
	"fmt"
	"os"
	"path/filepath"
)

// publishAPI writes the REST API's URL to dir/api.url (serverFile), where
// the client verbs look for a running `usp up` or `usp controller` (the
// admin token is dir/admin.token already), and returns the function that
// removes it when the server stops.
func publishAPI(dir, url string) (remove func(), err error) {
	path := filepath.Join(dir, serverFile)
	if err := os.WriteFile(path, []byte(url+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("publishing the API address: %w", err)
	}
	return func() { os.Remove(path) }, nil
}
