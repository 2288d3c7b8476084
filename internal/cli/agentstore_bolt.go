//go:build !usp_device || usp_bolt

package cli

import (
	"context"
	"path/filepath"

	"github.com/uspkit/uspkit/store/bolt"
)

// openBoltStore opens agent.bolt in dir. The device build links bbolt
// only with the usp_bolt tag (about 150 KB on mipsle): its default, the
// journal, needs none of it.
func openBoltStore(ctx context.Context, dir string) (agentStore, error) {
	return bolt.Open(ctx, filepath.Join(dir, "agent.bolt"))
}
