package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// AgentMain runs `usp agent` with args (its flags, without the command
// name) and returns the exit status as Main does. A program that calls it,
// and not Main, links only the Agent, its MTPs and stores (cmd/usp-agent):
// a smaller binary of which fewer pages are resident.
func AgentMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runCommand(ctx, "agent", runAgent, args, stdin, stdout, stderr)
}

// runCommand runs one command and turns its error into an exit status and
// a line on stderr.
func runCommand(ctx context.Context, name string, run func(context.Context, *env, []string) error, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	split := &helpSplit{stdout: stdout, stderr: stderr}
	e := &env{stdin: stdin, stdout: stdout, stderr: split}
	err := run(ctx, e, args)
	split.parsed(errors.Is(err, flag.ErrHelp))
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errFlags):
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "usp %s: %s\n", name, oneLine(err.Error()))
		return 2
	}
	var failed errFailed
	if errors.As(err, &failed) {
		return 1
	}
	fmt.Fprintf(stderr, "usp %s: %s\n", name, oneLine(err.Error()))
	return 1
}
