package ws

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseExtensions: no input panics; what parses re-formats to a
// canonical form that parses to the same extensions, and each element's raw
// text parses alone to that element. Seeds: testdata/fuzz/FuzzParseExtensions.
func FuzzParseExtensions(f *testing.F) {
	for _, tc := range extCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exts, err := parseExtensions(s)
		if err != nil {
			return
		}
		canon := formatExtensions(exts)
		again, err := parseExtensions(canon)
		if err != nil {
			t.Fatalf("%q formats to %q, which fails: %v", s, canon, err)
		}
		if formatExtensions(again) != canon {
			t.Fatalf("%q: canonical form unstable: %q then %q", s, canon, formatExtensions(again))
		}
		for _, e := range exts {
			one, err := parseExtensions(e.raw)
			if err != nil || len(one) != 1 || formatExtensions(one) != formatExtensions([]extension{e}) {
				t.Fatalf("%q: element %q does not parse alone: %v", s, e.raw, err)
			}
		}
		extensionEID([]string{s})
	})
}

// formatExtensions writes extensions canonically, every value quoted.
func formatExtensions(exts []extension) string {
	var b strings.Builder
	for i, e := range exts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.name)
		for _, p := range e.params {
			b.WriteString("; ")
			b.WriteString(p.name)
			if p.hasValue {
				b.WriteString(`="`)
				b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p.value))
				b.WriteString(`"`)
			}
		}
	}
	return b.String()
}

// FuzzEndpointIDEncoding: every Endpoint ID a client can send reaches the
// server unchanged, in the extension header [R-WS.10a] and in the request
// URI query whatever query data it already has [R-WS.10b].
// Seeds: testdata/fuzz/FuzzEndpointIDEncoding.
func FuzzEndpointIDEncoding(f *testing.F) {
	f.Add("doc::agent", "")
	f.Add("os::00D09E-SN%2D42", "a=1&eid=old")
	f.Add(`odd"id\x`, "eid&ei%64=1&%zz=2;x")
	f.Fuzz(func(t *testing.T, eid, rawQuery string) {
		if !validEID(eid) {
			return
		}
		h := formatExtension(eid)
		if got, ok := extensionEID([]string{h}); got != eid || !ok {
			t.Fatalf("extension %q reads back as %q, %v", h, got, ok)
		}
		q := withEIDQuery(rawQuery, eid)
		v, _ := url.ParseQuery(q)
		if got := v["eid"]; len(got) != 1 || got[0] != eid {
			t.Fatalf("query %q (from %q) has eid %q, want [%q]", q, rawQuery, got, eid)
		}
		// As the Client does it: on the query of a parsed URL.
		u, err := url.Parse("ws://h/usp?" + rawQuery)
		if err != nil {
			return
		}
		u.RawQuery = withEIDQuery(u.RawQuery, eid)
		pu, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("URL %q does not parse: %v", u.String(), err)
		}
		if got := pu.Query()["eid"]; len(got) != 1 || got[0] != eid {
			t.Fatalf("URL %q has eid %q, want [%q]", u.String(), got, eid)
		}
	})
}
