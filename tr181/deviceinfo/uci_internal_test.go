package deviceinfo

import (
	"errors"
	"reflect"
	"testing"
)

const uciSample = `
# /etc/config/system
config system
	option hostname 'OpenWrt'
	option timezone "UTC"

config board 'main'
	option serial A1B2\ C3
	option model 'Archer '\''C7'\'''
	option vendor "TP-\"Link\""
	list tags 'a'
	list tags "b c"

config system 'second'
	option hostname second # a comment
`

func TestParseUCI(t *testing.T) {
	s, err := parseUCI(uciSample)
	if err != nil {
		t.Fatal(err)
	}
	want := []uciSection{
		{Type: "system", Options: map[string][]string{"hostname": {"OpenWrt"}, "timezone": {"UTC"}}},
		{Type: "board", Name: "main", Options: map[string][]string{"serial": {"A1B2 C3"}, "model": {"Archer 'C7'"}, "vendor": {`TP-"Link"`}, "tags": {"a", "b c"}}},
		{Type: "system", Name: "second", Options: map[string][]string{"hostname": {"second"}}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("parseUCI:\n got %+v\nwant %+v", s, want)
	}
}

func TestParseUCIErrors(t *testing.T) {
	tests := []struct{ name, text string }{
		{"OptionOutsideSection", "option a 'b'\n"},
		{"UnterminatedSingle", "config a\n\toption b 'c\n"},
		{"UnterminatedDouble", "config a\n\toption b \"c\n"},
		{"UnknownKeyword", "config a\n\tfoo b c\n"},
		{"ConfigWithoutType", "config\n"},
		{"OptionWithoutValue", "config a\n\toption b\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseUCI(tc.text); !errors.Is(err, errUCISyntax) {
				t.Errorf("parseUCI(%q) = %v, want errUCISyntax", tc.text, err)
			}
		})
	}
}

func TestUCILookup(t *testing.T) {
	s, err := parseUCI(uciSample)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"system.@system[0].hostname", "OpenWrt", true},
		{"system.@system[1].hostname", "second", true},
		{"system.@system[-1].hostname", "second", true},
		{"system.@system[-2].timezone", "UTC", true},
		{"system.@system[2].hostname", "", false},
		{"system.main.serial", "A1B2 C3", true},
		{"system.@board[0].model", "Archer 'C7'", true},
		{"system.main.tags", "a b c", true},
		{"system.main.nope", "", false},
		{"system.nope.serial", "", false},
	}
	for _, tc := range tests {
		p, err := parseUCIPath(tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if v, ok := p.lookup(s); v != tc.want || ok != tc.ok {
			t.Errorf("%s = %q %v, want %q %v", tc.path, v, ok, tc.want, tc.ok)
		}
	}
}

func TestParseUCIPathRejects(t *testing.T) {
	for _, p := range []string{"", "a", "a.b", "a.b.c.d", "../etc.a.b", "a/b.c.d", "a.@b.c", "a.@b[x].c", "a.@[0].c", "a.b.", "a..c", "a.b c.d"} {
		if _, err := parseUCIPath(p); err == nil {
			t.Errorf("parseUCIPath(%q) accepted", p)
		}
	}
}

// FuzzParseUCI checks that no input crashes the parser, and that what it
// accepts it parses the same way again once printed back.
func FuzzParseUCI(f *testing.F) {
	f.Add(uciSample)
	f.Add("config a 'b'\n\toption c 'd'\\''e'\n")
	f.Add("config a\n\tlist x \"y\\\"z\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := parseUCI(text)
		if err != nil {
			return
		}
		for _, sec := range s {
			if sec.Type == "" {
				t.Fatalf("a section without a type from %q", text)
			}
		}
		for _, p := range []string{"a.@a[0].b", "a.b.c", "a.@x[-1].y"} {
			u, _ := parseUCIPath(p)
			u.lookup(s)
		}
	})
}
