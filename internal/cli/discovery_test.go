package cli_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// mdnsLoopback is the loopback interface and a UDP port of the test's own
// for mDNS, so that nothing is sent on a real network.
func mdnsLoopback(t *testing.T) (string, int) {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 && i.Flags&net.FlagUp != 0 {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			return i.Name, c.LocalAddr().(*net.UDPAddr).Port
		}
	}
	t.Skip("no loopback interface is up")
	return "", 0
}

// discWSController runs a Controller with a WebSocket server on addr
// (127.0.0.1:0 when ""), registering every Agent that connects with the
// Endpoint ID it claims (no certificates here), until the test ends.
func discWSController(t *testing.T, addr ...string) (*controller.Controller, *ws.Server) {
	t.Helper()
	listen := "127.0.0.1:0"
	if len(addr) > 0 {
		listen = addr[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	var c *controller.Controller
	srv, err := ws.Listen(ctx, listen, &ws.Options{EndpointID: mtpCtrlID, Path: "/usp", OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if c != nil {
			c.OnState("WebSocket")(ctx, p, s, err)
		}
	}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c, err = controller.New(ctx, controller.Options{EndpointID: mtpCtrlID, Store: store.NewMemory(), Admission: controller.AdmitAll,
		MTPs: []controller.MTP{{Protocol: "WebSocket", Transport: srv, Identity: controller.IdentityClaimed}}, RequestTimeout: 10 * time.Second})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return c, srv
}

func discParams(t *testing.T, c *controller.Controller, agentID string, paths ...string) map[string]string {
	t.Helper()
	m, err := c.Do(context.Background(), agentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths}}})
	if err != nil {
		t.Fatal(err)
	}
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

// TestAgentFindsControllerMDNS: `usp agent` with discovery.browse finds a
// Controller advertised as _usp-ctr-ws._tcp, records it with the role the
// file names, and connects to it [R-DIS.3] [R-DIS.8] [R-WS.3].
func TestAgentFindsControllerMDNS(t *testing.T) {
	bin := buildUSP(t)
	iface, port := mdnsLoopback(t)
	c, srv := discWSController(t)
	_, p, _ := net.SplitHostPort(srv.Addr().String())
	var wsPort uint16
	fmt.Sscan(p, &wsPort)
	r, err := discovery.Advertise(t.Context(), &discovery.Options{Interface: iface, Port: port}, discovery.Service{
		Instance: mtpCtrlID, Type: discovery.ControllerWebSocket, Host: "127.0.0.1", Port: wsPort, Path: "/usp"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const id = "os::012345-MDNS1"
	extra := fmt.Sprintf("discovery:\n  interface: %s\n  port: %d\n  browse: true\n  role: Full Access\n", iface, port)
	startAgentProcessWith(t, bin, id, "", extra)
	waitAgent(t, c, id, true)
	ps := discParams(t, c, id, "Device.LocalAgent.Controller.")
	var ctrl string
	for k, v := range ps {
		if strings.HasSuffix(k, ".EndpointID") && v == mtpCtrlID {
			ctrl = strings.TrimSuffix(k, "EndpointID")
		}
	}
	if ctrl == "" || ps[ctrl+"MTP.1.WebSocket.Path"] != "/usp" || ps[ctrl+"MTP.1.WebSocket.Port"] != p {
		t.Fatalf("the discovered controller's entry: %v", ps)
	}
}

// TestAgentDHCPLease: `usp agent` with discovery.dhcp_lease takes the
// Controller of the lease's BBF options, connects to it, and shows the
// null-terminated ProvisioningCode without its NUL (TP-469 8.2)
// [R-DIS.1a] [R-DIS.1c], and fills Device.GatewayInfo from the Gateway's
// options, emptying it when a lease has none [R-DIS.2c].
func TestAgentDHCPLease(t *testing.T) {
	bin := buildUSP(t)
	c, srv := discWSController(t)
	v := discovery.VendorInfo{ControllerURL: "ws://" + srv.Addr().String() + "/usp", ProvisioningCode: "PROV-8.2\x00", EndpointID: mtpCtrlID,
		RetryMinimumWaitInterval: "7", Gateway: discovery.DeviceInfo{ManufacturerOUI: "00D09E", SerialNumber: "GW-42", ProductClass: "Gateway"}}
	opt, err := v.AppendV4(nil)
	if err != nil {
		t.Fatal(err)
	}
	lease := filepath.Join(t.TempDir(), "dhclient.leases")
	var hexColon []string
	for _, b := range opt {
		hexColon = append(hexColon, fmt.Sprintf("%x", b))
	}
	if err := os.WriteFile(lease, []byte("lease {\n  interface \"eth0\";\n  option vivso "+strings.Join(hexColon, ":")+";\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const id = "os::012345-DHCP1"
	extra := fmt.Sprintf("discovery:\n  dhcp_lease: %s\n  dhcp_poll: 100ms\n  role: Full Access\n", lease)
	startAgentProcessWith(t, bin, id, "", extra)
	waitAgent(t, c, id, true)
	ps := discParams(t, c, id, "Device.LocalAgent.Controller.")
	found := false
	for k, v := range ps {
		if strings.HasSuffix(k, ".ProvisioningCode") && v == "PROV-8.2" {
			ctrl := strings.TrimSuffix(k, "ProvisioningCode")
			found = ps[ctrl+"EndpointID"] == mtpCtrlID && ps[ctrl+"USPNotifRetryMinimumWaitInterval"] == "7" && ps[ctrl+"Alias"] == "cpe-dhcp"
		}
	}
	if !found {
		t.Fatalf("no cpe-dhcp Controller entry with the lease's values: %v", ps)
	}
	// [R-DIS.2c] the Gateway's identity from the same options, with CWMP.
	gw := discParams(t, c, id, "Device.GatewayInfo.")
	for k, v := range map[string]string{"ManagementProtocol": "CWMP", "ManufacturerOUI": "00D09E", "SerialNumber": "GW-42", "ProductClass": "Gateway"} {
		if gw["Device.GatewayInfo."+k] != v {
			t.Errorf("Device.GatewayInfo.%s = %q, want %q", k, gw["Device.GatewayInfo."+k], v)
		}
	}
	// A lease without them empties Device.GatewayInfo.
	if err := os.WriteFile(lease, []byte("lease {\n  interface \"eth0\";\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		gw = discParams(t, c, id, "Device.GatewayInfo.")
		if gw["Device.GatewayInfo.ManagementProtocol"] == "" && gw["Device.GatewayInfo.SerialNumber"] == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Device.GatewayInfo after a lease without the Gateway's options: %v", gw)
		}
	}
}

// TestAgentAdvertisesMDNS: `usp agent` with discovery.advertise announces
// its WebSocket server unasked and answers queries, with "path" and "name"
// in the TXT record (TP-469 8.5, 8.6, 8.7) [R-DIS.4] [R-DIS.9] [R-WS.3].
func TestAgentAdvertisesMDNS(t *testing.T) {
	bin := buildUSP(t)
	iface, port := mdnsLoopback(t)
	wsPort := testenv.FreePort(t)
	const id = "os::012345-ADV1"
	mtps := fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n", wsPort)
	extra := fmt.Sprintf("discovery:\n  interface: %s\n  port: %d\n  advertise: true\n  name: kitchen light\n  subtypes: [_gateway]\n", iface, port)
	startAgentProcessWith(t, bin, id, mtps, extra)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got discovery.Service
	discovery.Browse(ctx, &discovery.Options{Interface: iface, Port: port}, []string{"_gateway._sub." + discovery.AgentWebSocket}, func(s discovery.Service) {
		if s.Instance == id {
			got = s
			cancel()
		}
	})
	if got.Path != "/usp" || got.Name != "kitchen light" || int(got.Port) != wsPort || got.Encrypt {
		t.Fatalf("the agent's advertisement: %+v", got)
	}
}

// TestAgentResolvesLocalController: with mDNS on, `usp agent` resolves a
// Controller's ".local." WebSocket host with mDNS and connects to it
// [R-DIS.5] (the behaviour TP-469 8.4 looks for).
func TestAgentResolvesLocalController(t *testing.T) {
	bin := buildUSP(t)
	iface, port := mdnsLoopback(t)
	c, srv := discWSController(t)
	_, p, _ := net.SplitHostPort(srv.Addr().String())
	// A responder that knows ctl-test.local; the agent does not browse, so
	// only resolving the name brings it to the controller.
	r, err := discovery.Advertise(t.Context(), &discovery.Options{Interface: iface, Port: port}, discovery.Service{
		Instance: "proto::other", Type: discovery.ControllerSTOMP, Host: "ctl-test.local", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
		Port: 61613, Path: "/queue/x"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const id = "os::012345-LOCAL1"
	ctrls := fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n          host: ctl-test.local\n          port: %s\n          path: /usp\n"+
		"discovery:\n  interface: %s\n  port: %d\n  advertise: true\n", mtpCtrlID, p, iface, port)
	startAgentProcessWith(t, bin, id, "", ctrls)
	waitAgent(t, c, id, true)
}

// TestGatewayInfoUSP: a USP Agent advertised with mDNS from the address of
// the DHCP server marks the Gateway as USP with its Endpoint ID [R-DIS.2d],
// over the identity the DHCP options gave [R-DIS.2c].
func TestGatewayInfoUSP(t *testing.T) {
	bin := buildUSP(t)
	iface, port := mdnsLoopback(t)
	c, srv := discWSController(t)
	v := discovery.VendorInfo{ControllerURL: "ws://" + srv.Addr().String() + "/usp", EndpointID: mtpCtrlID,
		Gateway: discovery.DeviceInfo{ManufacturerOUI: "00D09E", SerialNumber: "GW-7", ProductClass: "Gateway"}}
	opt, err := v.AppendV4(nil)
	if err != nil {
		t.Fatal(err)
	}
	lease := filepath.Join(t.TempDir(), "udhcpc.env")
	if err := os.WriteFile(lease, []byte(fmt.Sprintf("interface=lan\nserverid=127.0.0.1\nopt125=%x\n", opt)), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := discovery.Advertise(t.Context(), &discovery.Options{Interface: iface, Port: port}, discovery.Service{
		Instance: "os::00D09E-GW-7", Type: discovery.AgentWebSocket, Port: 5683, Path: "/usp", Name: "gateway"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const id = "os::012345-GWUSP"
	startAgentProcessWith(t, bin, id, "", fmt.Sprintf("discovery:\n  interface: %s\n  port: %d\n  browse: true\n  dhcp_lease: %s\n  dhcp_poll: 100ms\n  role: Full Access\n",
		iface, port, lease))
	waitAgent(t, c, id, true)
	var gw map[string]string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		gw = discParams(t, c, id, "Device.GatewayInfo.")
		if gw["Device.GatewayInfo.ManagementProtocol"] == "USP" {
			break
		}
	}
	want := map[string]string{"ManagementProtocol": "USP", "EndpointID": "os::00D09E-GW-7", "ManufacturerOUI": "00D09E", "SerialNumber": "GW-7"}
	for k, v := range want {
		if gw["Device.GatewayInfo."+k] != v {
			t.Errorf("Device.GatewayInfo.%s = %q, want %q", k, gw["Device.GatewayInfo."+k], v)
		}
	}
}

// TestAgentBoundsBrowsedControllers: a host that advertises many
// Controllers makes `usp agent` record at most 16 of them.
func TestAgentBoundsBrowsedControllers(t *testing.T) {
	bin := buildUSP(t)
	iface, port := mdnsLoopback(t)
	c, srv := discWSController(t)
	_, p, _ := net.SplitHostPort(srv.Addr().String())
	var svcs []discovery.Service
	for i := range 24 {
		svcs = append(svcs, discovery.Service{Instance: fmt.Sprintf("proto::flood-%d", i), Type: discovery.ControllerWebSocket, Host: "127.0.0.1",
			Port: uint16(9 + i), Path: "/usp"})
	}
	r, err := discovery.Advertise(t.Context(), &discovery.Options{Interface: iface, Port: port}, svcs...)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const id = "os::012345-FLOOD1"
	ctrls := fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n          host: 127.0.0.1\n          port: %s\n          path: /usp\n"+
		"discovery:\n  interface: %s\n  port: %d\n  browse: true\n", mtpCtrlID, p, iface, port)
	startAgentProcessWith(t, bin, id, "", ctrls)
	waitAgent(t, c, id, true)
	var n string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		n = discParams(t, c, id, "Device.LocalAgent.ControllerNumberOfEntries")["Device.LocalAgent.ControllerNumberOfEntries"]
		if n == "17" {
			break
		}
	}
	time.Sleep(time.Second) // no more come
	n = discParams(t, c, id, "Device.LocalAgent.ControllerNumberOfEntries")["Device.LocalAgent.ControllerNumberOfEntries"]
	if n != "17" {
		t.Fatalf("ControllerNumberOfEntries = %s, want 17 (the configured one and 16 advertised)", n)
	}
}

// TestAgentReadvertises: when a Controller moves the Agent's WebSocket
// server to another port, the advertisement follows the data model
// (goodbye for the old records, the new ones announced).
func TestAgentReadvertises(t *testing.T) {
	bin := buildUSP(t)
	iface, port := mdnsLoopback(t)
	c, srv := discWSController(t)
	_, p, _ := net.SplitHostPort(srv.Addr().String())
	first, second := testenv.FreePort(t), testenv.FreePort(t)
	const id = "os::012345-READV1"
	mtps := fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n", first)
	ctrls := fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n          host: 127.0.0.1\n          port: %s\n          path: /usp\n"+
		"discovery:\n  interface: %s\n  port: %d\n  advertise: true\n  refresh: 200ms\n", mtpCtrlID, p, iface, port)
	startAgentProcessWith(t, bin, id, mtps, ctrls)
	waitAgent(t, c, id, true)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ports := make(chan uint16, 16)
	done := make(chan error, 1)
	go func() {
		done <- discovery.Browse(ctx, &discovery.Options{Interface: iface, Port: port}, []string{discovery.AgentWebSocket}, func(s discovery.Service) {
			if s.Instance == id {
				select {
				case ports <- s.Port:
				default:
				}
			}
		})
	}()
	defer func() { cancel(); <-done }()
	wait := func(want int) {
		t.Helper()
		for {
			select {
			case got := <-ports:
				if int(got) == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("the agent's WebSocket service never had port %d", want)
			}
		}
	}
	wait(first)
	set := &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.LocalAgent.MTP.1.WebSocket.",
		ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Port", Value: fmt.Sprint(second), Required: true}}}}}}}
	if _, err := c.Do(t.Context(), id, set); err != nil {
		t.Fatal(err)
	}
	wait(second)
}
