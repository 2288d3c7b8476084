package agent_test

import (
	"testing"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/schema/schematest"
)

// TestBrokerModelMatchesTR181 compares Device.UnixDomainSockets and
// Device.USPServices with BBF's TR-181 Device:2.16 document.
func TestBrokerModelMatchesTR181(t *testing.T) {
	ref := schematest.LoadTR181(t)
	m := schema.New()
	m.Define("Device.")
	agent.DefineBroker(m)
	for _, d := range schematest.Diff(m, ref) {
		t.Error(d)
	}
}
