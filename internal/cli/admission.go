//go:build !usp_device

package cli

import (
	"context"
	"fmt"
	"net/url"

	"github.com/uspkit/uspkit/controller"
)

// runAgentsPending: usp agents pending — the agents waiting for approval
// (see the controller's admission setting).
func runAgentsPending(ctx context.Context, e *env, args []string) error {
	var agents []controller.Agent
	if ok, err := getList(ctx, e, "agents pending", "/api/v1/pending", args, &agents); !ok || err != nil {
		return err
	}
	if len(agents) == 0 {
		fmt.Fprintln(e.stdout, "no agent is waiting for approval")
	}
	for _, a := range agents {
		fmt.Fprintf(e.stdout, "%s %s %s trust=%s last_seen=%s\n", a.ID, a.MTP, a.Address, a.Trust, a.LastSeen.Format("2006-01-02T15:04:05Z"))
	}
	return nil
}

// runAgentsApprove: usp agents approve ENDPOINT_ID.
func runAgentsApprove(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "agents approve", "ENDPOINT_ID")
	mk := clientFlags(fs)
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	if _, err := c.do(ctx, "POST", "/api/v1/agents/"+url.PathEscape(id)+"/approve", nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "approved %s\n", id)
	return nil
}
