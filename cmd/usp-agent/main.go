// Command usp-agent is `usp agent` alone: the USP Agent with its MTPs and
// stores, without the Controller, the broker and the other tools of usp,
// for devices where memory counts. It takes the flags of `usp agent`:
//
//	usp-agent --config agent.yaml
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/uspkit/uspkit/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.AgentMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
