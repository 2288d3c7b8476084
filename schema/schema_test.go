package schema_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

func loadVendor(t testing.TB) *schema.Model {
	t.Helper()
	f, err := os.Open("testdata/vendor.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := schema.LoadXML(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoadVendorXML(t *testing.T) {
	m := loadVendor(t)
	fan := m.Object("Device.Fan.{i}.")
	if fan == nil || !fan.Multi || fan.Access != schema.ObjAddDelete || fan.MaxEntries != 4 {
		t.Fatalf("Fan: %+v", fan)
	}
	if len(fan.UniqueKeys) != 2 || fan.UniqueKeys[0].Functional || !fan.UniqueKeys[1].Functional ||
		fan.UniqueKeys[1].Params[0] != "Name" || !fan.IsKey("Alias") || fan.IsKey("Speed") {
		t.Errorf("keys: %+v", fan.UniqueKeys)
	}
	if fan.NumEntriesParam != "FanNumberOfEntries" || fan.EnableParam != "Enable" {
		t.Errorf("entries/enable: %q %q", fan.NumEntriesParam, fan.EnableParam)
	}
	if p := fan.Param("Name"); p == nil || !p.HasDefault || p.Default != "fan" || p.Access != schema.ReadWrite {
		t.Errorf("Name: %+v", p)
	}
	if p := fan.Param("Speed"); p == nil || p.Type.Name != "Percent" || p.Type.Base != schema.BaseUnsignedInt {
		t.Errorf("Speed: %+v", p)
	}
	if p := fan.Param("Secret"); p == nil || !p.Secured {
		t.Errorf("Secret: %+v", p)
	}
	if fan.Param("OldRPM") != nil {
		t.Error("deleted parameter kept")
	}
	beep := m.Command("Device.Beep()")
	if beep == nil || beep.Async || len(beep.Input) != 1 || !beep.Input[0].Mandatory {
		t.Errorf("Beep(): %+v", beep)
	}
	cal := m.Command("Device.Calibrate()")
	if cal == nil || !cal.Async || len(cal.Output) != 2 || cal.Output[1].Name != "Point.{i}.X" {
		t.Errorf("Calibrate(): %+v", cal)
	}
	if ev := m.Event("Device.Overheat!"); ev == nil || len(ev.Args) != 1 || ev.Args[0].Type.Base != schema.BaseInt {
		t.Errorf("Overheat!: %+v", ev)
	}
	if ch := m.Children(m.Object("Device.")); len(ch) != 1 || ch[0] != fan {
		t.Errorf("children of Device.: %v", ch)
	}

	deleted, err := schema.LoadXML(strings.NewReader(mustRead(t, "testdata/vendor.xml")), &schema.LoadOptions{Deleted: true})
	if err != nil {
		t.Fatal(err)
	}
	if deleted.Param("Device.Fan.{i}.OldRPM") == nil {
		t.Error("Deleted option did not keep the deleted parameter")
	}
}

func mustRead(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoadXMLErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"not xml":         "<<<",
		"no model":        `<document></document>`,
		"unknown type":    `<document><model name="x"><object name="Device." access="readOnly"><parameter name="P"><syntax><dataType ref="Nope"/></syntax></parameter></object></model></document>`,
		"bad pattern":     `<document><model name="x"><object name="Device." access="readOnly"><parameter name="P"><syntax><string><pattern value="("/></string></syntax></parameter></object></model></document>`,
		"bad range":       `<document><model name="x"><object name="Device." access="readOnly"><parameter name="P"><syntax><int><range minInclusive="x"/></int></syntax></parameter></object></model></document>`,
		"object no dot":   `<document><model name="x"><object name="Device" access="readOnly"/></model></document>`,
		"bad obj access":  `<document><model name="x"><object name="Device." access="sometimes"/></model></document>`,
		"param no syntax": `<document><model name="x"><object name="Device." access="readOnly"><parameter name="P"/></object></model></document>`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := schema.LoadXML(strings.NewReader(doc), nil); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestValidate(t *testing.T) {
	m := loadVendor(t)
	fan := m.Object("Device.Fan.{i}.")
	ty := func(name string) *schema.Type { return fan.Param(name).Type }
	cases := []struct {
		typ   *schema.Type
		value string
		code  uint32 // 0: valid
	}{
		{schema.Boolean(), "true", 0},
		{schema.Boolean(), "0", 0},
		{schema.Boolean(), "yes", usperr.CodeInvalidType},
		{schema.Int(), "-2147483648", 0},
		{schema.Int(), "2147483648", usperr.CodeInvalidType},
		{schema.Int(), "1.5", usperr.CodeInvalidType},
		{schema.UnsignedInt(), "4294967295", 0},
		{schema.UnsignedInt(), "-1", usperr.CodeInvalidType},
		{schema.UnsignedInt(), "+1", usperr.CodeInvalidType},
		{schema.Long(), "-9223372036854775808", 0},
		{schema.UnsignedLong(), "18446744073709551615", 0},
		{schema.UnsignedLong(), "18446744073709551616", usperr.CodeInvalidType},
		{schema.Int(schema.Between(-5, 5)), "5", 0},
		{schema.Int(schema.Between(-5, 5)), "6", usperr.CodeInvalidValue},
		{schema.UnsignedInt(schema.Min(1)), "0", usperr.CodeInvalidValue},
		{schema.Decimal(), "-1.25", 0},
		{schema.Decimal(), ".5", 0},
		{schema.Decimal(), "1e3", usperr.CodeInvalidType},
		{schema.DateTime(), "2024-02-29T12:00:00Z", 0},
		{schema.DateTime(), "2024-02-29T12:00:00.123+01:00", 0},
		{schema.DateTime(), "0001-01-01T00:00:00Z", 0},
		{schema.DateTime(), "2024-02-30T12:00:00Z", usperr.CodeInvalidType},
		{schema.DateTime(), "yesterday", usperr.CodeInvalidType},
		{schema.Base64(schema.Len(0, 2)), "AAA=", 0},
		{schema.Base64(schema.Len(0, 2)), "AAAA", usperr.CodeInvalidValue},
		{schema.Base64(), "!!", usperr.CodeInvalidType},
		{schema.HexBinary(schema.Len(2, 2)), "0a0B", 0},
		{schema.HexBinary(), "0g", usperr.CodeInvalidType},
		{schema.String(schema.MaxLen(3)), "äöü", 0},
		{schema.String(schema.MaxLen(3)), "abcd", usperr.CodeInvalidValue},
		{schema.String(), "\xff", usperr.CodeInvalidType},
		{schema.String(schema.Enum("A", "B")), "C", usperr.CodeInvalidValue},
		{schema.String(schema.Pattern(`[0-9]+`)), "12", 0},
		{schema.String(schema.Pattern(`[0-9]+`)), "12a", usperr.CodeInvalidValue},
		{schema.String(schema.ListOf(2, 0)), "a,b", 0},
		{schema.String(schema.ListOf(2, 0)), "a,b,c", usperr.CodeInvalidValue},
		{schema.String(schema.ListOf(0, 3)), "a,bc", usperr.CodeInvalidValue},
		{schema.UnsignedInt(schema.ListOf(0, 0)), "1, 2,3", 0},
		{schema.UnsignedInt(schema.ListOf(0, 0)), "", 0},
		{schema.UnsignedInt(schema.ListOf(0, 0)), "1,x", usperr.CodeInvalidType},
		{ty("Speed"), "100", 0},
		{ty("Speed"), "101", usperr.CodeInvalidValue},
		{ty("Alias"), strings.Repeat("a", 16), 0},
		{ty("Alias"), strings.Repeat("a", 17), usperr.CodeInvalidValue},
		{ty("Mode"), "Manual", 0},
		{ty("Mode"), "manual", usperr.CodeInvalidValue},
		{ty("Zones"), "A1,B2,C3", 0},
		{ty("Zones"), "A1,B2,C3,D4", usperr.CodeInvalidValue},
		{ty("Zones"), "A1,b2", usperr.CodeInvalidValue},
		{ty("Name"), "", usperr.CodeInvalidValue},
	}
	for _, c := range cases {
		err := c.typ.Validate(c.value)
		if got := codeOf(err); got != c.code {
			t.Errorf("%s %q: code %d (%v), want %d", c.typ.Base, c.value, got, err, c.code)
		}
	}
}

func codeOf(err error) uint32 {
	if err == nil {
		return 0
	}
	var ve *schema.ValueError
	if !errors.As(err, &ve) {
		return 1
	}
	return usperr.Code(err)
}

func TestDefine(t *testing.T) {
	m := schema.New()
	m.Define("Device.").Command("Reboot()", false, nil, nil).Event("Boot!", schema.Arg("Cause", schema.String()))
	m.Define("Device.LocalAgent.").Param("EndpointID", schema.String(schema.MaxLen(64)))
	m.Define("Device.LocalAgent.Controller.{i}.", schema.ObjAddDelete, schema.Keys("EndpointID"), schema.AliasKey(),
		schema.NumEntries("ControllerNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("EndpointID", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Password", schema.String(), schema.WriteOnly, schema.Secured, schema.ValueChangeWillIgnore)

	c := m.Object("Device.LocalAgent.Controller.{i}.")
	if c == nil || !c.Multi || !c.Access.CanAdd() || !c.Access.CanDelete() || len(c.UniqueKeys) != 2 {
		t.Fatalf("Controller: %+v", c)
	}
	if p := m.Param("Device.LocalAgent.Controller.{i}.Enable"); p == nil || p.Default != "false" || !p.Access.Writable() {
		t.Errorf("Enable: %+v", p)
	}
	if p := c.Param("Password"); !p.Secured || p.Access != schema.WriteOnly || p.ValueChange != schema.ValueChangeWillIgnore {
		t.Errorf("Password: %+v", p)
	}
	if m.Command("Device.Reboot()") == nil || m.Event("Device.Boot!") == nil {
		t.Error("command or event missing")
	}
	if m.Param("Device.Nope") != nil || m.Command("Nope()") != nil {
		t.Error("lookup of unknown items")
	}
	if got := m.Parent(c).Path; got != "Device.LocalAgent." {
		t.Errorf("parent %s", got)
	}

	sub, missing := m.Subset([]string{"Device.", "Device.Reboot()", "Device.LocalAgent.", "Device.Nope."})
	if sub.Len() != 2 || len(missing) != 1 || missing[0] != "Device.Nope." {
		t.Errorf("subset: %d objects, missing %v", sub.Len(), missing)
	}
	if sub.Event("Device.Boot!") != nil || sub.Command("Device.Reboot()") == nil || sub.Param("Device.LocalAgent.EndpointID") == nil {
		t.Error("subset kept the wrong items")
	}

	for name, f := range map[string]func(){
		"no dot":     func() { m.Define("Device.X") },
		"no parent":  func() { m.Define("Device.A.B.") },
		"no type":    func() { m.Define("Device.Y.").Param("P", nil) },
		"bad cmd":    func() { m.Define("Device.Z.").Command("Go", false, nil, nil) },
		"bad event":  func() { m.Define("Device.Z.").Event("Went", nil...) },
		"bad regexp": func() { schema.Pattern("(") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// FuzzLoadXML checks that no document makes the loader panic, and that a
// model it accepts answers lookups for every object it lists.
func FuzzLoadXML(f *testing.F) {
	f.Add(mustRead(f, "testdata/vendor.xml"))
	f.Add(`<document><model name="x"><object name="Device." access="readOnly"/></model></document>`)
	f.Fuzz(func(t *testing.T, doc string) {
		m, err := schema.LoadXML(strings.NewReader(doc), nil)
		if err != nil {
			return
		}
		for _, o := range m.Objects() {
			if m.Object(o.Path) != o {
				t.Fatalf("lookup of %s", o.Path)
			}
			for _, p := range o.Params {
				_ = p.Type.Validate("1")
			}
		}
	})
}
