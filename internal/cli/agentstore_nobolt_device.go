//go:build usp_device && !usp_bolt

package cli

import (
	"context"
	"fmt"
)

// openBoltStore fails: the device build has bbolt only with the usp_bolt
// tag (go build -tags usp_device,usp_bolt).
func openBoltStore(context.Context, string) (agentStore, error) {
	return nil, fmt.Errorf("store %q: not in this device build (build it with the usp_bolt tag); use %s", storeBolt, storeJournal)
}
