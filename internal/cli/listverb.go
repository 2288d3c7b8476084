//go:build !usp_device

package cli

import (
	"context"
	"encoding/json"
)

// getList runs a listing verb without arguments: `usp NAME [flags]` reads
// path from the REST API into list. It reports false when it has already
// written the answer itself (--json) and there is nothing left to print.
func getList(ctx context.Context, e *env, name, path string, args []string, list any) (bool, error) {
	fs := newFlags(e, name, "")
	mk := clientFlags(fs)
	if err := parse(fs, args); err != nil {
		return false, err
	}
	c, err := mk()
	if err != nil {
		return false, err
	}
	b, err := c.do(ctx, "GET", path, nil)
	if err != nil {
		return false, err
	}
	if c.json {
		_, err := e.stdout.Write(b)
		return false, err
	}
	return true, json.Unmarshal(b, list)
}
