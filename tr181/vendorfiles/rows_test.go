package vendorfiles_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/tr181/vendorfiles"
)

func textLog(name, text string) vendorfiles.LogFile {
	return vendorfiles.LogFile{Name: name, MaximumSize: 1000, Persistent: true, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(text)), nil
	}}
}

// TestAddLogRows: rows added with AddLog follow the Options.Logs rows,
// keep a number asked for when it is free, are listed, read and uploaded
// like the others, refuse a second row of the same Name (the table's
// unique key), and are gone after RemoveLog; the static rows stay.
func TestAddLogRows(t *testing.T) {
	m := schema.New()
	m.Define("Device.")
	deviceinfo.Define(m)
	vendorfiles.Define(m)
	mux := datamodel.NewMux(m)
	files := vendorfiles.Register(mux, vendorfiles.Options{Logs: []vendorfiles.LogFile{textLog("agent.log", "agent\n")}})
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{eng: eng}
	srv := newServer(t)

	for _, tc := range []struct {
		name    string
		ask     uint32
		log     vendorfiles.LogFile
		want    uint32
		wantErr bool
	}{
		{"next number", 0, textLog("eu-a.log", "a\n"), 2, false},
		{"number kept across restarts", 7, textLog("eu-b.log", "b\n"), 7, false},
		{"number taken: the next", 1, textLog("eu-c.log", "c\n"), 8, false},
		{"same name", 0, textLog("eu-a.log", "again\n"), 0, true},
		{"no name", 0, textLog("", "x\n"), 0, true},
		{"name too long", 0, textLog(strings.Repeat("n", 65), "x\n"), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := files.AddLog(tc.ask, tc.log)
			if (err != nil) != tc.wantErr || n != tc.want {
				t.Fatalf("AddLog(%d) = %d, %v; want %d, error %v", tc.ask, n, err, tc.want, tc.wantErr)
			}
		})
	}
	if got := len(f.get(t, "Device.DeviceInfo.VendorLogFile.*.Name")); got != 4 {
		t.Errorf("%d rows, want 4", got)
	}
	if got := f.get(t, "Device.DeviceInfo.VendorLogFileNumberOfEntries")["Device.DeviceInfo.VendorLogFileNumberOfEntries"]; got != "4" {
		t.Errorf("VendorLogFileNumberOfEntries %q, want 4", got)
	}
	row := f.get(t, vendorfiles.LogRef(7)+".")
	p7 := vendorfiles.LogRef(7) + "."
	if row[p7+"Name"] != "eu-b.log" || row[p7+"MaximumSize"] != "1000" || row[p7+"Persistent"] != "true" || row[p7+"Alias"] != "cpe-7" {
		t.Errorf("VendorLogFile.7 = %v", row)
	}
	in := map[string]string{"URL": srv.URL + "/up/b", "Username": srv.user, "Password": srv.pw}
	if err := f.run(t, vendorfiles.LogRef(7)+".Upload()", in); err != nil {
		t.Fatalf("Upload(): %v", err)
	}
	srv.mu.Lock()
	got := string(srv.got["/up/b"])
	srv.mu.Unlock()
	if got != "b\n" {
		t.Errorf("uploaded %q", got)
	}

	files.RemoveLog(7)
	files.RemoveLog(1) // a static row stays
	res := eng.Get(context.Background(), datamodel.Caller{}, []string{vendorfiles.LogRef(7) + "."}, 0)
	if len(res) != 1 || res[0].Err == nil && len(res[0].Objects) > 0 {
		t.Errorf("VendorLogFile.7 after RemoveLog: %+v", res)
	}
	if got := len(f.get(t, "Device.DeviceInfo.VendorLogFile.*.Name")); got != 3 {
		t.Errorf("%d rows after RemoveLog, want 3", got)
	}
	if got := f.get(t, "Device.DeviceInfo.VendorLogFileNumberOfEntries")["Device.DeviceInfo.VendorLogFileNumberOfEntries"]; got != "3" {
		t.Errorf("VendorLogFileNumberOfEntries %q after RemoveLog, want 3", got)
	}
	if n, err := files.AddLog(7, textLog("eu-b.log", "b\n")); err != nil || n != 7 {
		t.Errorf("AddLog(7) after RemoveLog(7) = %d, %v", n, err)
	}
}
