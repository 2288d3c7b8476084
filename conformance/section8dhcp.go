package conformance

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// Timing of the DHCP cases.
const (
	dhcpWait       = 60 * time.Second // for a DHCP request after a reboot
	discoveredWait = 60 * time.Second // for the Agent to reach a discovered Controller
)

// fqdnDomain is the domain of the FQDN case 8.3 hands out (".test" is
// reserved for testing, RFC 2606).
const fqdnDomain = "tp469.test"

// dhcp returns the runner's DHCP server, or skips the case.
func (t *T) dhcp() *DHCPServer {
	if d := t.r.o.Discovery; d != nil && d.DHCP != nil {
		return d.DHCP
	}
	t.Skipf("needs the runner's DHCP server on the agent's link (usp conformance --dhcp-interface)")
	return nil
}

// rebootForDHCP reboots the Agent and returns the first DHCP DISCOVER or
// REQUEST its DHCP client sends afterwards, when the Agent is back.
func (t *T) rebootForDHCP(srv *DHCPServer, key string) DHCPMessage {
	t.need("Device.Reboot()")
	since := time.Now()
	t.operateResp(t.Do(operateReq("Device.Reboot()", key, true, nil)))
	ctx, cancel := context.WithTimeout(t.ctx, dhcpWait)
	m, err := srv.WaitRequest(ctx, since, DHCPDiscover, DHCPRequest)
	cancel()
	t.rebooted()
	if err != nil {
		t.Fatalf("no DHCP DISCOVER or REQUEST on %s within %v of Reboot()", srv.Interface(), dhcpWait)
	}
	return m
}

// dhcpRequestOptions is 8.1: after a reboot, the DHCPv4 requests of the
// Agent carry a V-I Vendor Class option (124) with the BBF enterprise
// number 3561 and the vendor-class-data "usp" [R-DIS.1].
func dhcpRequestOptions(t *T) {
	srv := t.dhcp()
	since := time.Now()
	t.rebootForDHCP(srv, "tp469-8.1")
	n := 0
	for _, m := range srv.Requests(since) {
		if m.Type != DHCPDiscover && m.Type != DHCPRequest && m.Type != DHCPInform {
			continue
		}
		n++
		data, ok := m.Options[discovery.OptionV4VendorClass]
		classes, err := VendorClasses(data, discovery.EnterpriseBBF)
		t.Check(ok && err == nil && slices.Contains(classes, "usp"),
			"DHCP message type %d from %s: option 124 %x has no vendor-class-data \"usp\" for enterprise %d (%v)",
			m.Type, m.HW, data, discovery.EnterpriseBBF, err)
	}
	t.Check(n > 0, "no DHCP request recorded")
}

// dhcpProvisioningCode is 8.2 with the runner's DHCP server: the server
// gives a null-terminated ProvisioningCode (and the test Controller's
// Endpoint ID), the Agent reboots and requests an address, and the code
// reaches the test Controller's entry without its NUL [R-DIS.1a]
// [R-DIS.1c].
func dhcpProvisioningCode(t *T, srv *DHCPServer) {
	ctrl := t.controller()
	code := ctrl + "ProvisioningCode"
	before := t.value(code)
	t.setOK(ctrl, preq("ProvisioningCode", "tp469-8.2-before"))
	t.Cleanup(func() { t.setOK(ctrl, preq("ProvisioningCode", before)) })
	want := fmt.Sprintf("tp469-8.2-%d", time.Now().UnixNano()%1000000)
	if err := srv.SetVendorInfo(&discovery.VendorInfo{ProvisioningCode: want + "\x00", EndpointID: t.c.id}); err != nil {
		t.Fatalf("option 125: %v", err)
	}
	t.Cleanup(func() { srv.SetVendorInfo(nil) })
	m := t.rebootForDHCP(srv, "tp469-8.2")
	t.Check(m.Requested(discovery.OptionV4VendorInfo), "the DHCP request does not ask for option 125 (parameter request list %v)", m.Options[optParamRequest])
	got := ""
	for deadline := time.Now().Add(leaseWait); time.Now().Before(deadline) && t.ctx.Err() == nil; time.Sleep(200 * time.Millisecond) {
		if got = flat(t.getResp(t.Do(getReq(ctrl))))[code]; got == want {
			return
		}
	}
	t.Fatalf("%s is %q, not the DHCP server's %q, %v after the reboot", code, got, want, leaseWait)
}

// discoveredServer is a WebSocket server of the runner's own, standing
// for a Controller the Agent discovers: it records the connections the
// Agent opens and speaks USP to it as Controller id.
type discoveredServer struct {
	srv *ws.Server
	cli *client
	up  chan peerUp // the connections that came up
}

// peerUp is a connection to a discoveredServer that came up.
type peerUp struct {
	id string // the peer's Endpoint ID
	at time.Time
}

// listenDiscovered starts a discoveredServer on host (an IP address) and
// stops it at the end of the case.
func (t *T) listenDiscovered(host, id string) *discoveredServer {
	d := &discoveredServer{up: make(chan peerUp, 64)}
	srv, err := ws.Listen(t.ctx, net.JoinHostPort(host, "0"), &ws.Options{EndpointID: id, Path: "/usp",
		OnState: func(_ context.Context, p mtp.Peer, s mtp.State, _ error) {
			if s == mtp.StateUp {
				select {
				case d.up <- peerUp{p.EndpointID, time.Now()}:
				default:
				}
			}
		}})
	if err != nil {
		t.Fatalf("the runner's WebSocket server: %v", err)
	}
	d.srv = srv
	d.cli = newClient(t.ctx, t.r.o.Logger, id, t.r.o.AgentID, srv, t.r.o.AgentID)
	t.Cleanup(d.cli.close)
	return d
}

// port is the server's TCP port.
func (d *discoveredServer) port() uint16 {
	ap, _ := netip.ParseAddrPort(d.srv.Addr().String())
	return ap.Port()
}

// connected waits up to wait for the Agent to open a WebSocket connection
// with its Endpoint ID at or after since.
func (t *T) connected(d *discoveredServer, since time.Time, wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case u := <-d.up:
			if u.id == t.r.o.AgentID && !u.at.Before(since) {
				return true
			}
		case <-timer.C:
			return false
		case <-t.ctx.Done():
			return false
		}
	}
}

// deleteController removes the Agent's Controller entry of Endpoint ID id,
// if there is one.
func (t *T) deleteController(id string) {
	m, err := t.c.do(t.ctx, getReq("Device.LocalAgent.Controller.*.EndpointID"), t.r.o.ReplyTimeout)
	if err != nil {
		return
	}
	for path, v := range flat(m.GetBody().GetResponse().GetGetResp()) {
		if v == id {
			t.c.do(t.ctx, deleteReq(true, strings.TrimSuffix(path, "EndpointID")), t.r.o.ReplyTimeout)
		}
	}
}

// dhcpFQDN is 8.3: the DHCP server names the Controller by a bare FQDN;
// after a reboot the Agent asks the DNS server the DHCP server gave for
// the DNS-SD records of the FQDN (PTR, then SRV and TXT) [R-DIS.7] and
// connects to the Controller they describe: a WebSocket server of the
// runner's, with an Endpoint ID of its own.
func dhcpFQDN(t *T) {
	srv := t.dhcp()
	dnsSrv := t.r.o.Discovery.DNS
	if dnsSrv == nil {
		t.Skipf("needs the runner's DNS server (usp conformance --dhcp-interface starts one)")
	}
	id := t.r.o.ControllerID + "-dnssd"
	d := t.listenDiscovered(srv.Addr().String(), id)
	dnsSrv.SetController(&DNSController{Domain: fqdnDomain, EndpointID: id, Type: discovery.ControllerWebSocket,
		Host: "controller." + fqdnDomain, Addr: srv.Addr(), Port: d.port(), Path: "/usp"})
	t.Cleanup(func() { dnsSrv.SetController(nil) })
	if err := srv.SetVendorInfo(&discovery.VendorInfo{ControllerURL: fqdnDomain, EndpointID: id}); err != nil {
		t.Fatalf("option 125: %v", err)
	}
	t.Cleanup(func() { srv.SetVendorInfo(nil) })
	t.Cleanup(func() { t.deleteController(id) })
	since := time.Now()
	t.rebootForDHCP(srv, "tp469-8.3")
	up := t.connected(d, since, discoveredWait)
	asked := map[uint16]bool{}
	for _, q := range dnsSrv.Queries(since) {
		if strings.HasSuffix(q.Name, "."+fqdnDomain+".") {
			asked[q.Type] = true
		}
	}
	ptr := "_usp-ctr-ws._tcp." + fqdnDomain
	t.Check(asked[dnsPTR], "the agent did not ask %s for the PTR records of %s (DNS-SD, R-DIS.7)", dnsSrv.Addr(), ptr)
	t.Check(asked[dnsSRV] && asked[dnsTXT], "the agent did not ask for the SRV and TXT records of the instance (R-DIS.7)")
	t.Check(up, "the agent did not connect to the WebSocket server the DNS-SD records of %s give within %v", fqdnDomain, discoveredWait)
	if up {
		_, err := d.cli.do(t.ctx, getReq("Device.LocalAgent.EndpointID"), t.r.o.ReplyTimeout)
		t.Check(err == nil, "no USP answer over the connection to the discovered controller: %v", err)
	}
}

// DNS record types the cases look for.
const (
	dnsPTR = 12
	dnsTXT = 16
	dnsSRV = 33
)
