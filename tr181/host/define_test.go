package host_test

import (
	"testing"

	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/schema/schematest"
	"github.com/uspkit/uspkit/tr181/host"
)

// TestModelMatchesTR181 checks every object and parameter of every area
// against TR-181 Device:2.16.
func TestModelMatchesTR181(t *testing.T) {
	ref := schematest.LoadTR181(t)
	m := schema.New()
	m.Define("Device.")
	host.Define(m)
	for _, d := range schematest.Diff(m, ref) {
		t.Error(d)
	}
	if m.Object("Device.IP.Interface.{i}.Stats.") == nil || m.Object("Device.Time.") == nil {
		t.Error("areas missing")
	}
}
