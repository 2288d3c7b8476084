package conformance

import (
	"fmt"
	"time"

	"github.com/uspkit/uspkit/wire"
)

// valueChange waits for the first ValueChange Notify that match accepts
// after a change, up to Options.ValueChangeWait: TP-469 only says "Allow
// the EUT to send a Notify message", and TR-369 leaves how an Agent
// detects a change to it (an Agent may poll). The case's result notes how
// long the Notify took; a case that uses it sets caseFunc.valueChange.
func (t *T) valueChange(match func(*wire.Notify) bool) *wire.Msg {
	d := t.r.o.ValueChangeWait
	start := time.Now()
	n := t.Notify(d, match)
	if n == nil {
		t.Notef("no ValueChange Notify within %v", d)
	} else {
		t.Notef("ValueChange Notify after %v (waits up to %v)", time.Since(start).Round(time.Millisecond), d)
	}
	return n
}

// noValueChange is the failure text when valueChange returned nil.
func (t *T) noValueChange() string {
	return fmt.Sprintf("no ValueChange Notify within %v", t.r.o.ValueChangeWait)
}

// Notef adds a line to the case result's Note.
func (t *T) Notef(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.note != "" {
		t.note += "; "
	}
	t.note += fmt.Sprintf(format, args...)
}
