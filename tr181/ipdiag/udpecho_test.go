package ipdiag_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/tr181/ipdiag"
)

func freeUDPPort(t testing.TB) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func (f *fixture) set(t testing.TB, obj string, vals map[string]string) error {
	t.Helper()
	var ps []datamodel.ParamSetting
	for k, v := range vals {
		ps = append(ps, datamodel.ParamSetting{Param: k, Value: v, Required: true})
	}
	_, err := f.eng.Set(context.Background(), datamodel.Caller{}, false, []datamodel.UpdateObject{{Path: obj, Params: ps}})
	return err
}

func (f *fixture) get(t testing.TB, path string) map[string]string {
	t.Helper()
	res := f.eng.Get(context.Background(), datamodel.Caller{}, []string{path}, 0)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	out := map[string]string{}
	for _, o := range res[0].Objects {
		for k, v := range o.Params {
			out[k] = v
		}
	}
	return out
}

// TestUDPEcho: UDPEchoDiagnostics() against the Agent's own
// UDPEchoConfig server, with Echo Plus: every datagram answered, the
// server's sequence numbers and statistics counted; a server limited to
// another source address answers nothing.
func TestUDPEcho(t *testing.T) {
	f := newFixture(t, nil)
	port := strconv.Itoa(freeUDPPort(t))
	cfg := "Device.IP.Diagnostics.UDPEchoConfig."
	if err := f.set(t, cfg, map[string]string{"Enable": "true", "UDPPort": port, "EchoPlusEnabled": "true"}); err != nil {
		t.Fatal(err)
	}
	out := f.mustRun(t, "Device.IP.Diagnostics.UDPEchoDiagnostics()", map[string]string{"Host": "127.0.0.1", "Port": port, "Timeout": "1000",
		"NumberOfRepetitions": "4", "InterTransmissionTime": "10", "EnableIndividualPacketResults": "true"})
	if out["Status"] != "Complete" || out["SuccessCount"] != "4" || out["FailureCount"] != "0" {
		t.Fatalf("%v", out)
	}
	for i := 1; i <= 4; i++ {
		p := "IndividualPacketResult." + strconv.Itoa(i) + "."
		if out[p+"PacketSuccess"] != "true" || out[p+"TestGenSN"] != strconv.Itoa(i) || out[p+"TestRespSN"] != strconv.Itoa(i) {
			t.Errorf("%s: %s %s %s", p, out[p+"PacketSuccess"], out[p+"TestGenSN"], out[p+"TestRespSN"])
		}
		if out[p+"TestRespRcvTimeStamp"] == "0" {
			t.Errorf("%sTestRespRcvTimeStamp 0", p)
		}
	}
	st := f.get(t, cfg)
	if st["PacketsReceived"] != "4" || st["PacketsResponded"] != "4" || st["BytesReceived"] != "96" || st["EchoPlusSupported"] != "true" {
		t.Errorf("server statistics %v", st)
	}
	if _, err := time.Parse(time.RFC3339Nano, st["TimeFirstPacketReceived"]); err != nil || st["TimeFirstPacketReceived"] == "0001-01-01T00:00:00Z" {
		t.Errorf("TimeFirstPacketReceived %q", st["TimeFirstPacketReceived"])
	}

	if err := f.set(t, cfg, map[string]string{"SourceIPAddress": "127.0.0.2"}); err != nil {
		t.Fatal(err)
	}
	out = f.mustRun(t, "Device.IP.Diagnostics.UDPEchoDiagnostics()", map[string]string{"Host": "127.0.0.1", "Port": port, "Timeout": "200",
		"NumberOfRepetitions": "2", "InterTransmissionTime": "10"})
	if out["Status"] != "Complete" || out["SuccessCount"] != "0" || out["FailureCount"] != "2" {
		t.Errorf("echo from a source the server does not answer: %v", out)
	}
	if err := f.set(t, cfg, map[string]string{"Enable": "false"}); err != nil {
		t.Fatal(err)
	}
	if err := f.set(t, cfg, map[string]string{"SourceIPAddress": "not-an-address"}); err == nil {
		t.Error("SourceIPAddress took a value that is no address")
	}
}

// TestUDPEchoConfigKept: every change is handed to SaveEchoConfig, and a
// new Diag given that configuration runs the server again; a port the
// server cannot listen on fails the Set and changes nothing.
func TestUDPEchoConfigKept(t *testing.T) {
	var saved map[string]string
	f := newFixture(t, &ipdiag.Options{SaveEchoConfig: func(cfg map[string]string) { saved = cfg }})
	port := strconv.Itoa(freeUDPPort(t))
	cfg := "Device.IP.Diagnostics.UDPEchoConfig."
	if err := f.set(t, cfg, map[string]string{"Enable": "true", "UDPPort": port}); err != nil {
		t.Fatal(err)
	}
	if saved["Enable"] != "true" || saved["UDPPort"] != port || saved["EchoPlusEnabled"] != "false" {
		t.Fatalf("saved %v", saved)
	}
	busy, err := net.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.LocalAddr().(*net.UDPAddr).Port)
	if err := f.set(t, cfg, map[string]string{"UDPPort": busyPort}); err == nil {
		t.Fatal("the server moved to a port in use")
	}
	if got := f.get(t, cfg)["UDPPort"]; got != port || saved["UDPPort"] != port {
		t.Errorf("after a failed Set: UDPPort %s, saved %v", got, saved)
	}
	echo := func(f *fixture) string {
		return f.mustRun(t, "Device.IP.Diagnostics.UDPEchoDiagnostics()", map[string]string{"Host": "127.0.0.1", "Port": port, "Timeout": "500"})["SuccessCount"]
	}
	if n := echo(f); n != "1" {
		t.Fatalf("the server as it was does not answer: %s", n)
	}
	f.d.Close()
	g := newFixture(t, nil)
	if err := g.d.RestoreEchoConfig(context.Background(), saved); err != nil {
		t.Fatal(err)
	}
	if n := echo(g); n != "1" || g.get(t, cfg)["Enable"] != "true" {
		t.Errorf("the restored server: %s answered, %v", n, g.get(t, cfg))
	}
}
