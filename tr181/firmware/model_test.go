package firmware_test

import (
	"testing"

	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/schema/schematest"
	"github.com/uspkit/uspkit/tr181/firmware"
)

func TestModelMatchesTR181(t *testing.T) {
	ref := schematest.LoadTR181(t)
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.DeviceInfo.")
	m.Define("Device.LocalAgent.")
	firmware.Define(m)
	for _, d := range schematest.Diff(m, ref) {
		t.Error(d)
	}
}
