package schematest_test

import (
	"strings"
	"testing"

	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/schema/schematest"
)

func ref() *schema.Model {
	m := schema.New()
	m.Define("Device.").Command("Go()", true, []*schema.Param{schema.Arg("N", schema.Int(), schema.Mandatory)}, nil).Event("E!", schema.Arg("A", schema.String()))
	m.Define("Device.T.{i}.", schema.ObjAddDelete, schema.Keys("K"), schema.AliasKey()).
		Param("K", schema.String(), schema.ReadWrite).
		Param("Alias", schema.String(schema.Named("Alias")), schema.ReadWrite).
		Param("Mode", schema.String(schema.Enum("A", "B")), schema.ReadWrite, schema.Default("A"))
	return m
}

func TestDiff(t *testing.T) {
	if d := schematest.Diff(ref(), ref()); len(d) != 0 {
		t.Fatalf("identical models differ: %v", d)
	}
	cases := map[string]func(m *schema.Model){
		"not in the reference": func(m *schema.Model) { m.Define("Device.X.") },
		"type":                 func(m *schema.Model) { m.Object("Device.T.{i}.").Param("K").Type = schema.Int() },
		"enumeration":          func(m *schema.Model) { m.Object("Device.T.{i}.").Param("Mode").Type.Enums = []string{"A"} },
		"access":               func(m *schema.Model) { m.Object("Device.T.{i}.").Param("K").Access = schema.ReadOnly },
		"default":              func(m *schema.Model) { m.Object("Device.T.{i}.").Param("Mode").Default = "B" },
		"unique keys":          func(m *schema.Model) { m.Object("Device.T.{i}.").UniqueKeys = m.Object("Device.T.{i}.").UniqueKeys[:1] },
		"multi":                func(m *schema.Model) { m.Object("Device.T.{i}.").Access = schema.ObjReadOnly },
		"async":                func(m *schema.Model) { m.Command("Device.Go()").Async = false },
		"argument":             func(m *schema.Model) { m.Command("Device.Go()").Input[0].Mandatory = false },
		"event argument":       func(m *schema.Model) { m.Event("Device.E!").Args[0].Name = "B" },
	}
	for name, change := range cases {
		m := ref()
		change(m)
		d := schematest.Diff(m, ref())
		if len(d) == 0 {
			t.Errorf("%s: no difference found", name)
		} else if !strings.Contains(strings.Join(d, "\n"), "Device.") {
			t.Errorf("%s: %v", name, d)
		}
	}
}
