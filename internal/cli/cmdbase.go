package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/uspkit/uspkit/endpoint"
)

// env is what a command sees of the process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// errUsage marks an error caused by how the command was called.
var errUsage = errors.New("usage")

// errFlags marks a flag error the flag package has already printed.
var errFlags = errors.New("bad flags")

// newFlags returns a flag set that reports errors to e.stderr and does not
// exit.
func newFlags(e *env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet("usp "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: usp %s [flags] %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and wraps a failure as errFlags. The usage text that
// -h asks for goes to stdout, that of a wrong flag to stderr (see
// helpSplit).
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if h, ok := fs.Output().(*helpSplit); ok {
		h.parsed(errors.Is(err, flag.ErrHelp))
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errFlags, err)
	}
	return nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// buildVersion is the module version the binary was built from, or
// "devel".
func buildVersion() string {
	if linkVersion != "" {
		return linkVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func validateEndpointID(id string) error { return endpoint.Validate(id) }

// errFailed marks a conformance run with failures: exit status 1 without
// a second message.
type errFailed struct{ summary string }

func (e errFailed) Error() string { return e.summary }
