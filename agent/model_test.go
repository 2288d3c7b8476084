package agent_test

import (
	"testing"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/schema/schematest"
)

// TestModelMatchesTR181 checks every object, parameter, command and event
// the Agent defines against BBF's TR-181 2.16 document.
func TestModelMatchesTR181(t *testing.T) {
	ref := schematest.LoadTR181(t)
	m := schema.New()
	agent.Define(m)
	for _, d := range schematest.Diff(m, ref) {
		t.Error(d)
	}
	if m.Len() < 15 {
		t.Errorf("only %d objects defined", m.Len())
	}
}
