//go:build usp_device

package cli

import (
	"context"
	"errors"
	"log/slog"
)

// servePprof fails in the device build, which leaves the profiler out
// (runtime/pprof and its compression add about 300 KB).
func servePprof(context.Context, string, *slog.Logger) error {
	return errors.New("--pprof: not in the device build (usp_device)")
}
