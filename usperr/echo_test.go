package usperr_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/uspkit/uspkit/usperr"
)

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{strings.Repeat("a", 10), 10, strings.Repeat("a", 10)},
		{strings.Repeat("a", 40), 20, "aaaaaa…(+34 bytes)"},
		{strings.Repeat("é", 20), 21, "ééé…(+34 bytes)"}, // cut between characters
		{strings.Repeat("a", 40), 3, "…(+40 bytes)"},
	} {
		got := usperr.Clip(tc.in, tc.n)
		if got != tc.want {
			t.Errorf("Clip(%d bytes, %d) = %q, want %q", len(tc.in), tc.n, got, tc.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Clip(%q, %d) is not UTF-8", tc.in, tc.n)
		}
	}
}

// TestMessageBounded: err_msg never exceeds MaxMsg bytes.
func TestMessageBounded(t *testing.T) {
	err := usperr.Errorf(usperr.CodeInvalidValue, "value %s", strings.Repeat("v", 100000))
	if n := len(usperr.Message(err)); n > usperr.MaxMsg {
		t.Errorf("message of %d bytes", n)
	}
}

func ExampleClip() {
	v := strings.Repeat("x", 1000)
	fmt.Println(usperr.Echo(v))
	fmt.Println(len(usperr.Echo(v)) <= usperr.MaxEcho)
	// Output:
	// xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…(+952 bytes)
	// true
}
