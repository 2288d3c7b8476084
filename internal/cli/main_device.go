//go:build usp_device

package cli

import (
	"context"
	"fmt"
	"io"
)

// Main, in the device build, runs the one command it has: `usp agent`.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "agent" {
		fmt.Fprintln(stderr, "usp: the device build (usp_device) has only the agent command: usp agent --config FILE")
		return 2
	}
	return AgentMain(ctx, args[1:], stdin, stdout, stderr)
}
