package ws

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var extCases = []struct {
	name string
	in   string
	want []extension // nil with err
	err  bool
}{
	{"empty", "", nil, false},
	{"bare name", "bbf-usp-protocol", []extension{{name: "bbf-usp-protocol", raw: "bbf-usp-protocol"}}, false},
	{"spec form", `bbf-usp-protocol; eid="doc::agent"`, []extension{{name: "bbf-usp-protocol",
		params: []extParam{{"eid", "doc::agent", true}}, raw: `bbf-usp-protocol; eid="doc::agent"`}}, false},
	{"no blanks, token value", `bbf-usp-protocol;eid=x`, []extension{{name: "bbf-usp-protocol",
		params: []extParam{{"eid", "x", true}}, raw: `bbf-usp-protocol;eid=x`}}, false},
	{"blanks around =", "a ; b = \"c\"\t", []extension{{name: "a",
		params: []extParam{{"b", "c", true}}, raw: `a ; b = "c"`}}, false},
	{"list with empty elements", ` , a; x, ,b;y="1,2;3" ,`, []extension{
		{name: "a", params: []extParam{{name: "x"}}, raw: "a; x"},
		{name: "b", params: []extParam{{"y", "1,2;3", true}}, raw: `b;y="1,2;3"`}}, false},
	{"quoted-pair", `e; eid="a\"b\\c"`, []extension{{name: "e",
		params: []extParam{{"eid", `a"b\c`, true}}, raw: `e; eid="a\"b\\c"`}}, false},
	{"empty quoted", `e; eid=""`, []extension{{name: "e",
		params: []extParam{{"eid", "", true}}, raw: `e; eid=""`}}, false},
	{"obs-text", "e; eid=\"\xe9\"", []extension{{name: "e",
		params: []extParam{{"eid", "\xe9", true}}, raw: "e; eid=\"\xe9\""}}, false},
	{"unterminated", `e; eid="abc`, nil, true},
	{"backslash at end", `e; eid="abc\`, nil, true},
	{"control char", "e; eid=\"a\x01\"", nil, true},
	{"missing name", "; eid=x", nil, true},
	{"missing param name", "e; =x", nil, true},
	{"missing value", "e; eid=", nil, true},
	{"colon in token", "e; eid=doc::agent", nil, true},
	{"garbage after", `e; eid="x" y`, nil, true},
	{"separator name", "e/f", nil, true},
}

func TestParseExtensions(t *testing.T) {
	for _, tc := range extCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseExtensions(tc.in)
			if tc.err {
				if !errors.Is(err, errExtSyntax) {
					t.Fatalf("parseExtensions(%q) = %+v, %v; want errExtSyntax", tc.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseExtensions(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(extension{}, extParam{})); diff != "" {
				t.Errorf("parseExtensions(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestExtensionEID(t *testing.T) {
	for _, tc := range []struct {
		name    string
		values  []string
		eid     string
		offered bool
	}{
		{"none", nil, "", false},
		{"other extension", []string{"permessage-deflate"}, "", false},
		{"spec form", []string{`bbf-usp-protocol; eid="doc::agent"`}, "doc::agent", true},
		{"name and param case", []string{`BBF-USP-Protocol; EID="doc::agent"`}, "doc::agent", true},
		{"no eid", []string{"bbf-usp-protocol"}, "", true},
		{"eid without value", []string{"bbf-usp-protocol; eid"}, "", true},
		{"second header", []string{"permessage-deflate", `bbf-usp-protocol; eid="x::y"`}, "x::y", true},
		{"malformed value skipped", []string{`bbf-usp-protocol; eid="x`, `bbf-usp-protocol; eid="y::z"`}, "y::z", true},
		{"first eid wins", []string{`bbf-usp-protocol; eid="a::1", bbf-usp-protocol; eid="a::2"`}, "a::1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eid, offered := extensionEID(tc.values)
			if eid != tc.eid || offered != tc.offered {
				t.Errorf("extensionEID(%q) = %q, %v; want %q, %v", tc.values, eid, offered, tc.eid, tc.offered)
			}
		})
	}
}

func TestFormatExtension(t *testing.T) {
	for _, eid := range []string{"doc::agent", `odd"id\with;comma,s`, "os::00D09E-SN%2D42"} {
		h := formatExtension(eid)
		if got, ok := extensionEID([]string{h}); got != eid || !ok {
			t.Errorf("formatExtension(%q) = %s, which reads back as %q", eid, h, got)
		}
	}
	if got, want := formatExtension("doc::agent"), `bbf-usp-protocol; eid="doc::agent"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestTakeExtension(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		eid    string
		left   []string
	}{
		{"absent", nil, "", nil},
		{"only ours", []string{`bbf-usp-protocol; eid="a::b"`}, "a::b", nil},
		{"others kept", []string{`x; p=1, bbf-usp-protocol; eid="a::b", y`}, "a::b", []string{"x; p=1, y"}},
		{"malformed kept", []string{`z="`, `bbf-usp-protocol; eid="a::b"`}, "a::b", []string{`z="`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.values {
				h.Add(hdrExtensions, v)
			}
			if eid := takeExtension(h); eid != tc.eid {
				t.Errorf("eid %q, want %q", eid, tc.eid)
			}
			if diff := cmp.Diff(tc.left, h.Values(hdrExtensions)); diff != "" {
				t.Errorf("header left (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWithEIDQuery checks the request URI query of [R-WS.10b].
func TestWithEIDQuery(t *testing.T) {
	for _, tc := range []struct{ raw, eid, want string }{
		{"", "doc::agent", "eid=doc::agent"},
		{"a=1", "doc::agent", "a=1&eid=doc::agent"},
		{"eid=old&a=1&EID=x&ei%64=y", "doc::agent", "a=1&EID=x&eid=doc::agent"},
		{"a=1&&b", "x y&z=+%#", "a=1&b&eid=x%20y%26z%3D%2B%25%23"},
		{"", "os::00D09E-SN%2D42", "eid=os::00D09E-SN%252D42"},
	} {
		got := withEIDQuery(tc.raw, tc.eid)
		if got != tc.want {
			t.Errorf("withEIDQuery(%q, %q) = %q, want %q", tc.raw, tc.eid, got, tc.want)
		}
		q, _ := url.ParseQuery(got)
		if v := q["eid"]; len(v) != 1 || v[0] != tc.eid {
			t.Errorf("%q decodes to eid %q, want %q", got, v, tc.eid)
		}
	}
}
