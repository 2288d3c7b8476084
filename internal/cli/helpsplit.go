package cli

import (
	"bytes"
	"io"
	"sync"
)

// maxHeld bounds what helpSplit holds before it gives up waiting for the
// flags to be parsed.
const maxHeld = 64 << 10

// helpSplit is a command's stderr. What the command writes before its
// flags are parsed (the flag package's usage text, and anything a
// command's Usage adds) is held; once parse is done it goes to stdout when
// -h asked for it, else to stderr, and later writes pass straight to
// stderr. It is safe for concurrent use.
type helpSplit struct {
	stdout, stderr io.Writer

	mu      sync.Mutex
	held    bytes.Buffer
	passing bool
}

func (h *helpSplit) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.passing {
		return h.stderr.Write(p)
	}
	h.held.Write(p)
	if h.held.Len() > maxHeld {
		h.flush(h.stderr)
	}
	return len(p), nil
}

// parsed ends the holding: what was held goes to stdout for help, else
// to stderr. Later calls do nothing.
func (h *helpSplit) parsed(help bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.passing {
		return
	}
	w := h.stderr
	if help {
		w = h.stdout
	}
	h.flush(w)
}

// flush writes what is held to w and lets later writes through; h.mu is
// held.
func (h *helpSplit) flush(w io.Writer) {
	w.Write(h.held.Bytes())
	h.held.Reset()
	h.passing = true
}
