// Command usp-agent is `usp agent` alone: the USP Agent with its MTPs and
// stores, without the Controller, the broker and the other tools of usp,
// for devices where memory counts. It takes the flags of `usp agent`:
//
//	usp-agent --config agent.yaml
//
// Built with the usp_device tag it is the device build: without SQLite
// (the journal is the default store), the profiler and the rest of usp,
// for every CPU Go supports with CGO_ENABLED=0, mips and mipsle included:
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=mipsle GOMIPS=softfloat \
//		go build -tags usp_device -trimpath -ldflags='-s -w' ./cmd/usp-agent
//
// bbolt (store: bolt) is in it only with the usp_bolt tag as well, and
// the tags usp_nodiag, usp_nosmm, usp_nohost, usp_nobulk,
// usp_nodiscovery, usp_nostomp and usp_nows leave out the diagnostics,
// Software Modules, the host objects, Bulk Data, discovery and the STOMP
// and WebSocket MTPs (docs/deploy.md, "A smaller device build"); the
// configuration of what was left out is refused.
//
// Unless the environment sets GOGC or GOMEMLIMIT, it runs with GOGC=100
// and GOMEMLIMIT=32MiB (memory.go).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/uspkit/uspkit/internal/cli"
)

func main() {
	memoryDefaults(os.Getenv).apply()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.AgentMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
