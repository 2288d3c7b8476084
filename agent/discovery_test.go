package agent_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/wire"
)

// params returns every parameter of a GetResp as path → value.
func params(m *wire.Msg) map[string]string {
	out := map[string]string{}
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, r := range rp.GetResolvedPathResults() {
			for k, v := range r.GetResultParams() {
				out[r.GetResolvedPath()+k] = v
			}
		}
	}
	return out
}

// find returns the path of the instance below table whose parameter name
// has value, or "".
func find(ps map[string]string, table, name, value string) string {
	for p, v := range ps {
		rest, ok := strings.CutPrefix(p, table)
		inst, named := strings.CutSuffix(rest, "."+name)
		if ok && named && v == value && !strings.Contains(inst, ".") {
			return strings.TrimSuffix(p, name)
		}
	}
	return ""
}

func leaseInfo(t *testing.T, name string) discovery.VendorInfo {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "dhcp", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := discovery.ReadLease(f)
	if err != nil {
		t.Fatal(err)
	}
	return l.Info()
}

// TestDHCPDiscovery: a DHCP lease's BBF options fill the Controller entry
// (TR-369 "DHCP Options for Controller Discovery", TP-469 8.2): the
// null-terminated ProvisioningCode without its NUL [R-DIS.1c], the retry
// values as strings [R-DIS.1a], the Endpoint ID, and the MTP of its URL
// with an MQTT client to reach the broker. A later lease updates the same
// entry, and a value the data model refuses is left out.
func TestDHCPDiscovery(t *testing.T) {
	e := start(t, nil)
	ctx := t.Context()
	d, err := agent.FromDHCP(leaseInfo(t, "dhclient.leases"))
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := e.agent.Discovered(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	all := params(e.ctl.do(get("Device.LocalAgent.", "Device.MQTT.Client.")))
	if got := find(all, "Device.LocalAgent.Controller.", "Alias", agent.AliasDHCP); got != ctrl {
		t.Fatalf("the cpe-dhcp entry is %q, Discovered said %q", got, ctrl)
	}
	want := map[string]string{"EndpointID": "proto::dhcp-ctr", "ProvisioningCode": "PROV-42", "USPNotifRetryMinimumWaitInterval": "30",
		"USPNotifRetryIntervalMultiplier": "2500", "Enable": "true", "MTP.1.Protocol": "MQTT", "MTP.1.MQTT.Topic": "usp/controller"}
	for k, v := range want {
		if all[ctrl+k] != v {
			t.Errorf("%s%s = %q, want %q", ctrl, k, all[ctrl+k], v)
		}
	}
	client := find(all, "Device.MQTT.Client.", "BrokerAddress", "127.0.0.1")
	if client == "" || all[client+"BrokerPort"] != "1883" || all[client+"Enable"] != "true" {
		t.Fatalf("no enabled MQTT client for the discovered broker: %v", all)
	}
	mt := find(all, "Device.LocalAgent.MTP.", "MQTT.Reference", strings.TrimSuffix(client, "."))
	if mt == "" || all[mt+"Enable"] != "true" || all[mt+"Protocol"] != "MQTT" || all[mt+"MQTT.ResponseTopicConfigured"] != "usp/agent/"+agentID {
		t.Fatalf("no Device.LocalAgent.MTP references %s", client)
	}

	// The same Controller again through udhcpc's environment: updated in
	// place, with a WebSocket MTP; 999 is below the multiplier's range.
	d, err = agent.FromDHCP(leaseInfo(t, "udhcpc.env"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.agent.Discovered(ctx, d)
	if err != nil || again != ctrl {
		t.Fatalf("second lease: %q, %v; want %q", again, err, ctrl)
	}
	all = params(e.ctl.do(get(ctrl)))
	if r := params(e.ctl.do(get("Device.LocalAgent.ControllerTrust.UntrustedRole"))); all[ctrl+"AssignedRole"] != r["Device.LocalAgent.ControllerTrust.UntrustedRole"] {
		t.Errorf("a DHCP-discovered Controller has role %q, not the untrusted role %v", all[ctrl+"AssignedRole"], r)
	}
	want = map[string]string{"ProvisioningCode": "PROV-43", "USPNotifRetryIntervalMultiplier": "2500", "MTP.2.Protocol": "WebSocket",
		"MTP.2.WebSocket.Host": "127.0.0.1", "MTP.2.WebSocket.Port": "8081", "MTP.2.WebSocket.Path": "/usp", "MTP.2.WebSocket.EnableEncryption": "false"}
	for k, v := range want {
		if all[ctrl+k] != v {
			t.Errorf("%s%s = %q, want %q", ctrl, k, all[ctrl+k], v)
		}
	}
}

// TestMDNSDiscoveredController: a Controller's DNS-SD service becomes a
// Controller entry of its own, keyed by its Endpoint ID [R-DIS.8].
func TestMDNSDiscoveredController(t *testing.T) {
	e := start(t, nil)
	s := discovery.Service{Instance: "proto::lan-ctr", Type: discovery.ControllerWebSocket, Host: "lan-ctr.local", Port: 8443, Path: "/usp", Encrypt: true}
	d, err := agent.FromService(s)
	if err != nil {
		t.Fatal(err)
	}
	d.Role = "Full Access"
	ctrl, err := e.agent.Discovered(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	all := params(e.ctl.do(get(ctrl)))
	want := map[string]string{"EndpointID": "proto::lan-ctr", "MTP.1.WebSocket.Host": "lan-ctr.local", "MTP.1.WebSocket.Port": "8443",
		"MTP.1.WebSocket.Path": "/usp", "MTP.1.WebSocket.EnableEncryption": "true"}
	for k, v := range want {
		if all[ctrl+k] != v {
			t.Errorf("%s%s = %q, want %q", ctrl, k, all[ctrl+k], v)
		}
	}
	if r := all[ctrl+"AssignedRole"]; r == "" || r == all["Device.LocalAgent.ControllerTrust.UntrustedRole"] {
		t.Errorf("AssignedRole %q is not Full Access", r)
	}
	if _, err := e.agent.Discovered(t.Context(), agent.DiscoveredController{EndpointID: "x::no-role", Role: "Nobody"}); err == nil {
		t.Error("an unknown role was accepted")
	}
	if a := all[ctrl+"Alias"]; !strings.HasPrefix(a, "cpe-") {
		t.Errorf("Alias %q is not assigned by the Agent", a)
	}
	d, err = agent.FromService(discovery.Service{Instance: "proto::v6", Type: discovery.ControllerWebSocket, Port: 1,
		Addrs: []netip.Addr{netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("192.0.2.7")}})
	if err != nil || d.Host != "192.0.2.7" {
		t.Errorf("FromService chose %q (%v), want the IPv4 address", d.Host, err)
	}
	if _, err := agent.FromService(discovery.Service{Instance: "os::agt", Type: discovery.AgentWebSocket, Port: 1}); err == nil {
		t.Error("an Agent's service was taken for a Controller")
	}
	if _, err := e.agent.Discovered(t.Context(), agent.DiscoveredController{Alias: "mine", EndpointID: "x::y"}); err == nil {
		t.Error("an Alias without cpe- was accepted")
	}
}

// TestServices: the Agent's DNS-SD services come from its data model: the
// WebSocket server's port and path [R-WS.3], the MQTT reply-to topic at the
// broker [R-MQTT.36] [R-MQTT.38], the STOMP destination at the server
// [R-STOMP.31] [R-STOMP.32], named by the Endpoint ID [R-DIS.8] with the
// name attribute [R-DIS.9]; a disabled MTP is left out.
func TestServices(t *testing.T) {
	e := start(t, nil, func(o *agent.Options) {
		o.Factory.MTPs = []agent.MTPConfig{
			{Alias: "ws", Protocol: "WebSocket", Params: map[string]string{"WebSocket.Port": "5683", "WebSocket.Path": "/usp", "WebSocket.EnableEncryption": "true"}},
			{Alias: "mq", Protocol: "MQTT", Params: map[string]string{"MQTT.ResponseTopicConfigured": "usp/agent/a1"},
				Connection: map[string]string{"BrokerAddress": "broker.example", "BrokerPort": "1883", "EnableEncryption": "false"}},
			{Alias: "st", Protocol: "STOMP", Params: map[string]string{"STOMP.Destination": "/queue/a1"},
				Connection: map[string]string{"Host": "stomp.example", "Port": "61613", "EnableEncryption": "false"}},
			{Alias: "off", Protocol: "WebSocket", Disabled: true, Params: map[string]string{"WebSocket.Port": "5684"}},
		}
	})
	got := e.agent.Services(t.Context(), "kitchen")
	want := []discovery.Service{
		{Instance: agentID, Type: discovery.AgentWebSocket, Name: "kitchen", Port: 5683, Path: "/usp", Encrypt: true},
		{Instance: agentID, Type: discovery.AgentMQTT, Name: "kitchen", Host: "broker.example", Port: 1883, Path: "usp/agent/a1"},
		{Instance: agentID, Type: discovery.AgentSTOMP, Name: "kitchen", Host: "stomp.example", Port: 61613, Path: "/queue/a1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
