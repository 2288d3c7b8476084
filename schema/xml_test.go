package schema_test

import (
	"os"
	"testing"

	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/schema/schematest"
)

func loadTR181(t testing.TB) *schema.Model { return schematest.LoadTR181(t) }

func TestLoadTR181(t *testing.T) {
	m := loadTR181(t)
	if n := m.Len(); n < 500 || n > 5000 {
		t.Errorf("%d objects", n)
	}
	ctrl := m.Object("Device.LocalAgent.Controller.{i}.")
	if ctrl == nil || !ctrl.Multi || ctrl.Access != schema.ObjAddDelete {
		t.Fatalf("Controller table: %+v", ctrl)
	}
	if len(ctrl.UniqueKeys) != 2 || ctrl.UniqueKeys[0].Params[0] != "EndpointID" || !ctrl.UniqueKeys[0].Functional ||
		ctrl.UniqueKeys[1].Params[0] != "Alias" || ctrl.UniqueKeys[1].Functional {
		t.Errorf("Controller keys: %+v", ctrl.UniqueKeys)
	}
	if ctrl.NumEntriesParam != "ControllerNumberOfEntries" || ctrl.EnableParam != "Enable" {
		t.Errorf("Controller entries/enable: %q %q", ctrl.NumEntriesParam, ctrl.EnableParam)
	}
	up := m.Param("Device.DeviceInfo.UpTime")
	if up == nil || up.Type.Base != schema.BaseUnsignedInt || up.Access != schema.ReadOnly || up.Type.ValueType() != schema.ValueUnsignedInt {
		t.Errorf("UpTime: %+v", up)
	}
	alias := ctrl.Param("Alias")
	if alias == nil || alias.Type.Name != "Alias" || alias.Access != schema.ReadWrite || len(alias.Type.Sizes) != 1 || *alias.Type.Sizes[0].Max != 64 {
		t.Errorf("Alias: %+v", alias)
	}
	if r := m.Command("Device.Reboot()"); r == nil || r.Async {
		t.Errorf("Reboot(): %+v", r)
	}
	dl := m.Command("Device.DeviceInfo.FirmwareImage.{i}.Download()")
	if dl == nil || !dl.Async || len(dl.Input) < 3 || dl.Input[0].Name != "URL" || !dl.Input[0].Mandatory {
		t.Errorf("Download(): %+v", dl)
	}
	boot := m.Event("Device.Boot!")
	if boot == nil || len(boot.Args) < 3 || boot.Args[0].Name != "CommandKey" {
		t.Errorf("Boot!: %+v", boot)
	}
	nt := m.Param("Device.LocalAgent.Subscription.{i}.NotifType")
	if nt == nil {
		t.Fatal("no NotifType")
	}
	for _, v := range []string{"ValueChange", "ObjectCreation", "ObjectDeletion", "OperationComplete", "Event"} {
		if err := nt.Type.Validate(v); err != nil {
			t.Errorf("NotifType %s: %v", v, err)
		}
	}
	// OnBoardRequest notifications come from SendOnBoardRequest(), not from
	// a subscription.
	for _, v := range []string{"Bogus", "OnBoardRequest"} {
		if err := nt.Type.Validate(v); err == nil {
			t.Errorf("NotifType accepted %s", v)
		}
	}
	if ch := m.Children(m.Object("Device.LocalAgent.")); len(ch) < 5 {
		t.Errorf("LocalAgent children: %d", len(ch))
	}
	if p := m.Parent(ctrl); p == nil || p.Path != "Device.LocalAgent." {
		t.Errorf("parent of Controller: %v", p)
	}
}

func BenchmarkLoadTR181(b *testing.B) {
	data, err := os.ReadFile(schematest.SharedFile(b, "tr-181-2-16-0-usp-full.xml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schema.LoadXML(bytesReader(data), nil); err != nil {
			b.Fatal(err)
		}
	}
}
