package api_test

import (
	"os"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/controller/api"
)

// TestPolicyDocumented: docs/security.md lists every rule of
// DefaultPolicy, with its reason and read role.
func TestPolicyDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range api.DefaultPolicy() {
		read := string(r.Read)
		switch {
		case strings.HasSuffix(r.Path, ")"):
			read = "—" // a read returns no commands
		case read == "":
			read = string(api.Viewer)
		}
		if row := "| `" + r.Path + "` | " + r.Why + " | " + read + " |"; !strings.Contains(doc, row) {
			t.Errorf("docs/security.md lacks the row %s", row)
		}
	}
}
