package conformance

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/uspkit/uspkit/discovery"
)

// DiscoverySetup lets the cases of TP-469 section 8 see and drive the
// Agent's discovery.
type DiscoverySetup struct {
	// MDNS is where the Agent runs mDNS (its interface and port); nil
	// skips 8.5 to 8.7.
	MDNS *discovery.Options
	// Lease, if set, is the DHCP lease file the Agent reads (usp agent's
	// discovery.dhcp_lease). For 8.2 the runner writes the BBF vendor
	// options into it, standing in for the DHCP server and the host's DHCP
	// client, and the Agent takes them up when the file changes, without
	// the reboot of the test procedure.
	Lease string
	// DHCP, if set, is the runner's DHCP server on the Agent's link: 8.1
	// checks the requests the Agent's DHCP client sends after a reboot,
	// 8.2 and 8.3 give their options with it (8.2 then needs no Lease).
	DHCP *DHCPServer
	// DNS, if set, is the runner's DNS server, the one DHCP gives: 8.3
	// answers the Agent's DNS-SD questions with it.
	DNS *DNSServer
}

// Timing of section 8.
const (
	leaseWait    = 30 * time.Second // 8.2: for the Agent to take a new lease up
	announceWait = 30 * time.Second // 8.5, 8.6: for the announcements after a reboot
	queryWait    = 10 * time.Second // 8.7: for the answer to a query
)

// section8 implements the discovery cases that the runner can drive with
// Options.Discovery.
func section8() map[string]caseFunc {
	return map[string]caseFunc{
		"8.1": {boot: true, wait: bootWait + dhcpWait, run: dhcpRequestOptions},
		"8.2": {wait: bootWait + dhcpWait + leaseWait, run: dhcpReceivedOptions},
		"8.3": {boot: true, wait: bootWait + dhcpWait + discoveredWait, run: dhcpFQDN},
		"8.4": {boot: true, wait: bootWait + 3*discoveredWait, run: mdnsLocalController},
		"8.5": {boot: true, wait: bootWait + announceWait, run: func(t *T) { mdnsAnnounced(t, false) }},
		"8.6": {boot: true, wait: bootWait + announceWait, run: func(t *T) { mdnsAnnounced(t, true) }},
		"8.7": {wait: queryWait * 3, run: mdnsQueried},
	}
}

// mdns returns where the Agent runs mDNS, or skips the case.
func (t *T) mdns() *discovery.Options {
	if d := t.r.o.Discovery; d != nil && d.MDNS != nil {
		return d.MDNS
	}
	t.Skipf("needs the agent's mDNS interface (usp conformance --mdns-interface)")
	return nil
}

// dhcpReceivedOptions is 8.2: a null-terminated ProvisioningCode from the
// DHCP server reaches the test Controller's entry without its NUL
// [R-DIS.1a] [R-DIS.1c]. With the runner's DHCP server and reboots it
// follows the procedure (dhcpProvisioningCode); else the runner writes the
// lease file.
func dhcpReceivedOptions(t *T) {
	d := t.r.o.Discovery
	if d != nil && d.DHCP != nil && t.r.o.Reboot {
		dhcpProvisioningCode(t, d.DHCP)
		return
	}
	if d == nil || d.Lease == "" {
		t.Skipf("needs the runner's DHCP server and reboots (usp conformance --dhcp-interface --reboot), or the DHCP lease file the agent reads (--dhcp-lease)")
	}
	ctrl := t.controller()
	code := ctrl + "ProvisioningCode"
	before := t.value(code)
	t.setOK(ctrl, preq("ProvisioningCode", "tp469-8.2-before"))
	t.Cleanup(func() { t.setOK(ctrl, preq("ProvisioningCode", before)) })
	want := fmt.Sprintf("tp469-8.2-%d", time.Now().UnixNano()%1000000)
	v := discovery.VendorInfo{ProvisioningCode: want + "\x00", EndpointID: t.c.id}
	opt, err := v.AppendV4(nil)
	if err != nil {
		t.Fatalf("encoding option 125: %v", err)
	}
	if err := os.WriteFile(d.Lease, []byte("opt125="+fmt.Sprintf("%x", opt)+"\n"), 0o600); err != nil {
		t.Fatalf("writing the lease: %v", err)
	}
	t.Cleanup(func() { os.WriteFile(d.Lease, nil, 0o600) })
	got := ""
	for deadline := time.Now().Add(leaseWait); time.Now().Before(deadline) && t.ctx.Err() == nil; time.Sleep(200 * time.Millisecond) {
		r := t.getResp(t.Do(getReq(ctrl)))
		if got = flat(r)[code]; got == want {
			return
		}
	}
	t.Fatalf("%s is %q, not the lease's %q, after %v", code, got, want, leaseWait)
}

// agentServices lists the DNS-SD service types the Agent's MTPs call for:
// one per enabled Device.LocalAgent.MTP of a protocol DNS-SD has.
func (t *T) agentServices() []string {
	r := t.getResp(t.Do(getReq("Device.LocalAgent.MTP.")))
	seen := map[string]bool{}
	var out []string
	vals := flat(r)
	for p, v := range vals {
		mtp, ok := strings.CutSuffix(p, "Protocol")
		if !ok || vals[mtp+"Enable"] != "true" || strings.HasPrefix(vals[mtp+"Alias"], "cpe-fixed") {
			continue
		}
		if st := discovery.ServiceType(false, v); st != "" && !seen[st] {
			seen[st] = true
			out = append(out, st)
		}
	}
	if len(out) == 0 {
		t.Skipf("the agent has no MTP that DNS-SD advertises (WebSocket, MQTT, STOMP) in Device.LocalAgent.MTP")
	}
	return out
}

// mdnsAnnounced is 8.5 (and 8.6 with withName): after a reboot the Agent
// multicasts, unasked, SRV and TXT records named by its Endpoint ID for
// every MTP [R-DIS.8], each TXT with "path" (and "name") [R-DIS.9].
func mdnsAnnounced(t *T, withName bool) {
	mdns := t.mdns()
	t.need("Device.Reboot()")
	types := t.agentServices()
	passive := *mdns
	passive.Passive = true
	ctx, cancel := context.WithTimeout(t.ctx, bootWait+announceWait)
	defer cancel()
	heard := map[string]discovery.Service{}
	done := make(chan error, 1)
	go func() {
		done <- discovery.Browse(ctx, &passive, types, func(s discovery.Service) {
			if s.Instance == t.r.o.AgentID && s.Port != 0 {
				heard[s.Type] = s
				if len(heard) == len(types) {
					cancel()
				}
			}
		})
	}()
	time.Sleep(200 * time.Millisecond) // the listener has joined the group
	t.operateResp(t.Do(operateReq("Device.Reboot()", "tp469-8.5", true, nil)))
	<-done
	t.rebooted()
	for _, st := range types {
		s, ok := heard[st]
		t.Check(ok, "no unsolicited SRV and TXT records for %s.%s.local. after the reboot", t.r.o.AgentID, st)
		if _, has := s.TXT("path"); ok && !has {
			t.Check(false, "the TXT record of %s has no path attribute", s.InstanceName())
		}
		if withName && ok {
			t.Check(s.Name != "", "the TXT record of %s has no name attribute", s.InstanceName())
		}
	}
}

// mdnsQueried is 8.7: the Agent answers mDNS queries for its services
// with their SRV, TXT and address records.
func mdnsQueried(t *T) {
	mdns := t.mdns()
	for _, st := range t.agentServices() {
		ctx, cancel := context.WithTimeout(t.ctx, queryWait)
		s, err := discovery.Lookup(ctx, mdns, t.r.o.AgentID, st)
		cancel()
		t.Check(err == nil && s.Port != 0 && len(s.Addrs) > 0, "no answer to a query for %s.%s.local.: %v", t.r.o.AgentID, st, err)
		if err == nil {
			_, hasPath := s.TXT("path")
			t.Check(hasPath && s.Name != "", "the answer for %s lacks path or name in its TXT record: %+v", s.InstanceName(), s)
		}
	}
}
