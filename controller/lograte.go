package controller

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logInterval is how often a warning about bad input is logged in full;
// repeats within it are counted and reported with the next one.
const logInterval = 10 * time.Second

// warnings rate-limits the warnings bad input causes, per message, so that
// a peer that floods the Controller with bad Records cannot flood its log:
// the first of a kind is logged, repeats within logInterval only counted,
// and the next one logged says how many were left out.
type warnings struct {
	mu    sync.Mutex
	kinds map[string]*warnKind
}

type warnKind struct {
	last       time.Time
	suppressed int
}

// warn logs msg unless a warning with the same msg was logged in the last
// logInterval.
func (w *warnings) warn(ctx context.Context, log *slog.Logger, msg string, args ...any) {
	now := time.Now()
	w.mu.Lock()
	if w.kinds == nil {
		w.kinds = map[string]*warnKind{}
	}
	k := w.kinds[msg]
	if k == nil {
		k = &warnKind{}
		w.kinds[msg] = k
	}
	if now.Sub(k.last) < logInterval {
		k.suppressed++
		w.mu.Unlock()
		return
	}
	n := k.suppressed
	k.last, k.suppressed = now, 0
	w.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	log.WarnContext(ctx, msg, args...)
}
