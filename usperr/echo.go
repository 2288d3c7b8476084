package usperr

import (
	"strconv"
	"unicode/utf8"
)

// Bounds on what an error repeats of the request it answers, so that a
// request with a huge value or path cannot make its answer huge (an
// err_msg quoting a 50,000-byte value twice). Values and paths longer than
// their bound are cut and marked with how much was left out.
const (
	// MaxEcho is the most bytes of a value from a request that an error
	// message quotes.
	MaxEcho = 64
	// MaxEchoPath is the most bytes of a Path Name from a request that an
	// error repeats, in param_path or unaffected_path fields: well above
	// the Path Names of TR-181.
	MaxEchoPath = 256
	// MaxMsg is the most bytes of an err_msg; Message keeps to it.
	MaxMsg = 512
)

// Clip returns s if it has at most n bytes, else its first bytes (whole
// UTF-8 characters) followed by "…(+N bytes)", n bytes at most in all
// when n leaves room for the marker.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	keep := n - len("…(+ bytes)") - len(strconv.Itoa(len(s)))
	if keep < 0 {
		keep = 0
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + "…(+" + strconv.Itoa(len(s)-keep) + " bytes)"
}

// Echo bounds a value quoted in an error message to MaxEcho bytes.
func Echo(s string) string { return Clip(s, MaxEcho) }

// EchoPath bounds a Path Name repeated in an error to MaxEchoPath bytes.
func EchoPath(s string) string { return Clip(s, MaxEchoPath) }
