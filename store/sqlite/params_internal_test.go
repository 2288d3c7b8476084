package sqlite

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestAppendParamsMatchesJSON: appendParams writes what encoding/json
// writes for the same map, byte for byte, for every character class it
// escapes and for strings that are not UTF-8.
func TestAppendParamsMatchesJSON(t *testing.T) {
	var all []byte
	for c := range 0x80 {
		all = append(all, byte(c))
	}
	for _, m := range []map[string]string{
		nil,
		{},
		{"Alias": "cpe-1", "Enable": "true", "ReferenceList": "Device.LocalAgent.SoftwareVersion"},
		{"all ASCII": string(all)},
		{"html": "<a href=\"x\">&amp;</a>", "ctl": "\x00\x01\b\f\n\r\t\x1f\x7f"},
		{"unicode": "héllo wörld ✓ \u2028 \u2029 \U0001F600", "é": "ü"},
		{"not UTF-8": "a\xffb", "b": "c"},
		{"\xfe": "key not UTF-8"},
		{"": ""},
	} {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendParams(nil, m)
		if err != nil || string(got) != string(want) {
			t.Errorf("appendParams(%q) = %s, %v\nwant %s", m, got, err, want)
		}
	}
}

// FuzzAppendParams compares appendParams with encoding/json on any key
// and value.
func FuzzAppendParams(f *testing.F) {
	f.Add("Alias", "cpe-1")
	f.Add("<", "\u2028\xff")
	f.Fuzz(func(t *testing.T, k, v string) {
		m := map[string]string{k: v, "z" + k: v + "x"}
		want, _ := json.Marshal(m)
		got, err := appendParams([]byte("prefix"), m)
		if err != nil || string(got) != "prefix"+string(want) {
			t.Fatalf("%s", fmt.Sprintf("appendParams(%q) = %s, %v\nwant prefix%s", m, got, err, want))
		}
	})
}
