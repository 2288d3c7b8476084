package conformance

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/uspkit/uspkit/discovery"
)

// mdnsAddr is the runner's IPv4 address on the Agent's link: ProbeHost
// when set, else the first of the mDNS interface.
func (t *T) mdnsAddr(o *discovery.Options) netip.Addr {
	if a, err := netip.ParseAddr(t.r.o.ProbeHost); err == nil {
		return a
	}
	if o.Interface != "" {
		if ifi, err := net.InterfaceByName(o.Interface); err == nil {
			as, _ := ifi.Addrs()
			for _, a := range as {
				if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
					return p.Addr()
				}
			}
		}
	}
	t.Skipf("needs an IPv4 address of the runner on the agent's link (usp conformance --probe-host, or an --mdns-interface with one)")
	return netip.Addr{}
}

// mdnsLocalController is 8.4: the Agent has a Controller whose URL is in
// ".local." (the runner adds it: a WebSocket server of its own, with an
// Endpoint ID of its own and the test Controller's Role, its Notify
// retried every second), and that Controller has a Subscription to Boot!
// (persistent, with NotifRetry, since the Agent sends Boot! before it has
// resolved the name and connected). After a reboot the Agent asks
// for the host name with mDNS, the runner's responder answers, and the
// Agent connects to the Controller and sends it Boot! [R-DIS.5].
func mdnsLocalController(t *T) {
	mdns := t.mdns()
	t.need("Device.Reboot()")
	addr := t.mdnsAddr(mdns)
	id := t.r.o.ControllerID + "-mdns"
	host := fmt.Sprintf("tp469-%d.local", time.Now().UnixNano()%1000000)
	d := t.listenDiscovered(addr.String(), id)
	h, err := discovery.AnswerHost(t.ctx, mdns, host, addr)
	if err != nil {
		t.Fatalf("the runner's mDNS responder for %s: %v", host, err)
	}
	t.Cleanup(func() { h.Close() })

	// The Agent gets the Controller's .local. URL.
	role := t.value(t.controller() + "AssignedRole")
	t.Cleanup(func() { t.deleteController(id) })
	ctrl := t.created(t.addResp(t.Do(addReq(false, obj("Device.LocalAgent.Controller.", preq("EndpointID", id),
		p("AssignedRole", role), p("Enable", "true"), p("USPNotifRetryMinimumWaitInterval", "1"),
		p("USPNotifRetryIntervalMultiplier", "1000"))))), 1)[0]
	row := t.created(t.addResp(t.Do(addReq(false, obj(ctrl+"MTP.", preq("Protocol", "WebSocket"), p("Enable", "false"))))), 1)[0]
	t.setOK(row+"WebSocket.", preq("Host", host), preq("Port", fmt.Sprint(d.port())), preq("Path", "/usp"), p("EnableEncryption", "false"))
	// Connection attempts a second apart: the Agent may try before its
	// address is configured when it boots.
	t.setOK(row+"WebSocket.", p("SessionRetryMinimumWaitInterval", "1"), p("SessionRetryIntervalMultiplier", "1000"))
	added := time.Now()
	t.setOK(row, preq("Enable", "true"))
	if !t.connected(d, added, discoveredWait) {
		t.Fatalf("the agent did not connect to ws://%s:%d/usp (%s.) before the reboot, within %v", host, d.port(), host, discoveredWait)
	}
	// The Controller's Subscription to Boot!: its own, so that it is the
	// Recipient.
	sub := t.created(t.addResp(t.DoAs(d.cli, addReq(false, obj(subTable, preq("Enable", "true"), preq("ID", "tp469-8.4"),
		preq("NotifType", "Event"), preq("ReferenceList", "Device.Boot!"), preq("Persistent", "true"), p("NotifRetry", "true"))))), 1)
	t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, sub...), t.r.o.ReplyTimeout) })
	d.cli.drain()

	since := time.Now()
	t.operateResp(t.Do(operateReq("Device.Reboot()", "tp469-8.4", true, nil)))
	t.rebooted()
	up := t.connected(d, since, discoveredWait)
	var asked []string
	for _, q := range h.Queries() {
		if !q.At.Before(since) {
			asked = append(asked, q.From.String())
		}
	}
	t.Check(len(asked) > 0, "no mDNS question for %s. after the reboot (R-DIS.5)", host)
	t.Check(up, "the agent did not connect to ws://%s:%d/usp within %v of coming back", host, d.port(), discoveredWait)
	if up {
		t.Check(d.cli.notification(t.ctx, discoveredWait, isEvent("Device.Boot!", "tp469-8.4"), true) != nil, "no Boot! event for the Controller at %s (questions from %s)",
			host, strings.Join(asked, ", "))
	}
}
