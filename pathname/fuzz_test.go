package pathname_test

import (
	"errors"
	"testing"

	"github.com/uspkit/uspkit/pathname"
)

// FuzzParse checks, in every mode, that no input panics, that errors are
// *Error values pointing inside the input, and that a successful parse
// formats to a canonical form that parses back to an equal value. For
// absolute paths it also checks that the string helpers agree with Path.
// The seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, tc := range validCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range []pathname.Mode{pathname.ModeAbsolute, pathname.ModeRelative, pathname.ModeReference} {
			p, err := parseMode(s, m)
			if err != nil {
				checkError(t, s, err)
				continue
			}
			checkRoundTrip(t, s, m, p)
			if m == pathname.ModeAbsolute {
				checkHelpers(t, s, p)
			}
		}
	})
}

func checkError(t *testing.T, s string, err error) {
	var pe *pathname.Error
	if !errors.As(err, &pe) {
		t.Fatalf("%q: error %T is not *pathname.Error", s, err)
	}
	if pe.Offset < 0 || pe.Offset > len(s) || pe.Msg == "" || pe.USPErrorCode() != 7008 {
		t.Fatalf("%q: bad error %+v", s, pe)
	}
}

func checkRoundTrip(t *testing.T, s string, m pathname.Mode, p pathname.Path) {
	out := p.String()
	q, err := parseMode(out, m)
	if err != nil {
		t.Fatalf("%q (mode %d) formats to %q, which fails: %v", s, m, out, err)
	}
	if !p.Equal(q) {
		t.Fatalf("%q (mode %d) formats to %q, which parses to a different value", s, m, out)
	}
	if again := q.String(); again != out {
		t.Fatalf("%q: canonical form not stable: %q then %q", s, out, again)
	}
	pat := p.Pattern()
	pp, err := parseMode(pat, m)
	if err != nil {
		t.Fatalf("%q: pattern %q fails: %v", s, pat, err)
	}
	if !p.Match(pp) {
		t.Fatalf("%q does not match its pattern %q", s, pat)
	}
}

func checkHelpers(t *testing.T, s string, p pathname.Path) {
	pat, err := pathname.AppendPattern(nil, s)
	if err != nil || string(pat) != p.Pattern() {
		t.Fatalf("%q: AppendPattern = %q, %v; Path.Pattern = %q", s, pat, err, p.Pattern())
	}
	if !pathname.Match(string(pat), s) || !pathname.Match(s, s) {
		t.Fatalf("%q: Match with its pattern or itself is false", s)
	}
	obj, elem, err := pathname.Split(s)
	pobj, pelem := p.Split()
	if err != nil || elem != pelem {
		t.Fatalf("%q: Split = %q, %q, %v; Path.Split elem %q", s, obj, elem, err, pelem)
	}
	if q, err := pathname.Parse(obj); err != nil || !q.Equal(pobj) {
		t.Fatalf("%q: Split object %q does not parse to Path.Split's %q (%v)", s, obj, pobj, err)
	}
	sc := pathname.NewScanner(s, pathname.ModeAbsolute)
	n := 0
	for sc.Next() {
		n++
	}
	if sc.Err() != nil || n != len(p.Segments) || sc.Kind() != p.Kind {
		t.Fatalf("%q: scanner disagrees with Parse", s)
	}
}
