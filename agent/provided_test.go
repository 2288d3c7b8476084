package agent_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/host"
	"github.com/uspkit/uspkit/wire"
)

// withMux replaces the harness's data model with m served by mux.
func withMux(mux *datamodel.Mux) envOption {
	return func(o *agent.Options) { o.Mux = mux }
}

// TestAnnounce: changes to provided objects announced by their provider
// reach the subscriptions as ObjectCreation (with the unique keys),
// ObjectDeletion and ValueChange notifications; changes to unknown paths
// are ignored.
func TestAnnounce(t *testing.T) {
	m := schema.New()
	agent.Define(m)
	m.Define("Device.X_TEST_Port.{i}.", schema.Keys("Name")).Param("Name", schema.String()).Param("Speed", schema.UnsignedInt())
	mux := datamodel.NewMux(m)
	mux.HandleFunc("Device.X_TEST_Port.{i}.", func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
		return nil
	})
	e := start(t, nil, withMux(mux))
	e.ctl.subscribe(t, "oc", "ObjectCreation", "Device.X_TEST_Port.")
	e.ctl.subscribe(t, "od", "ObjectDeletion", "Device.X_TEST_Port.")
	e.ctl.subscribe(t, "vc", "ValueChange", "Device.X_TEST_Port.4.Speed")
	ctx := context.Background()
	e.agent.Announce(ctx, []datamodel.Change{
		{Op: datamodel.OpAdd, Path: "Device.X_NOPE.1."},
		{Op: datamodel.OpAdd, Path: "Device.X_TEST_Port.4.", Params: map[string]string{"Name": "p4", "Speed": "10"}},
	})
	n := e.ctl.notification(2 * time.Second).GetBody().GetRequest().GetNotify()
	if oc := n.GetObjCreation(); n.GetSubscriptionId() != "oc" || oc.GetObjPath() != "Device.X_TEST_Port.4." || oc.GetUniqueKeys()["Name"] != "p4" ||
		len(oc.GetUniqueKeys()) != 1 {
		t.Errorf("creation: %v", n)
	}
	e.agent.Announce(ctx, []datamodel.Change{{Op: datamodel.OpSet, Path: "Device.X_TEST_Port.4.", Params: map[string]string{"Speed": "100"}}})
	n = e.ctl.notification(2 * time.Second).GetBody().GetRequest().GetNotify()
	if vc := n.GetValueChange(); n.GetSubscriptionId() != "vc" || vc.GetParamPath() != "Device.X_TEST_Port.4.Speed" || vc.GetParamValue() != "100" {
		t.Errorf("value change: %v", n)
	}
	e.agent.Announce(ctx, []datamodel.Change{{Op: datamodel.OpDelete, Path: "Device.X_TEST_Port.4."}})
	n = e.ctl.notification(2 * time.Second).GetBody().GetRequest().GetNotify()
	if n.GetSubscriptionId() != "od" || n.GetObjDeletion().GetObjPath() != "Device.X_TEST_Port.4." {
		t.Errorf("deletion: %v", n)
	}
	if n := e.ctl.notification(300 * time.Millisecond); n != nil {
		t.Errorf("unexpected %v", n)
	}
}

// TestWatching: a provider asks whether anyone listens for rows of a
// table: only ObjectCreation and ObjectDeletion subscriptions whose
// references cover the table count.
func TestWatching(t *testing.T) {
	e := start(t, nil)
	tables := []string{"Device.Hosts.Host.", "Device.Hosts.Host.{i}.IPv4Address.", "Device.IP.Interface."}
	check := func(step string, want ...bool) {
		t.Helper()
		for i, tb := range tables {
			if got := e.agent.Watching(tb); got != want[i] {
				t.Errorf("%s: Watching(%s) = %v", step, tb, got)
			}
		}
	}
	check("none", false, false, false)
	e.ctl.subscribe(t, "vc", "ValueChange", "Device.Hosts.Host.")
	check("ValueChange only", false, false, false)
	e.ctl.subscribe(t, "oc", "ObjectCreation", "Device.Hosts.Host.*.IPv4Address.")
	check("address rows", true, true, false) // rows of the table below need rows of this one
	e.ctl.subscribe(t, "od", "ObjectDeletion", "Device.Hosts.")
	check("partial path", true, true, false)
	e.ctl.subscribe(t, "all", "ObjectCreation", "Device.")
	check("everything", true, true, true)
}

// TestHostJoinNotified: a host joining the network (a neighbour entry
// added with `ip neigh add` in a network namespace the host objects
// read) reaches a Controller subscribed to Device.Hosts.Host. as an
// ObjectCreation with its PhysAddress, and leaving as an
// ObjectDeletion.
func TestHostJoinNotified(t *testing.T) {
	p := testenv.NewNetnsPair(t)
	m := schema.New()
	agent.Define(m)
	areas := []host.Area{host.AreaIP, host.AreaHosts}
	host.Define(m, areas...)
	h, err := host.New(&host.Options{Areas: areas, Netns: filepath.Join("/var/run/netns", p.A), Interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	mux := datamodel.NewMux(m)
	h.Register(mux)
	e := start(t, nil, withMux(mux))
	e.ctl.subscribe(t, "join", "ObjectCreation", "Device.Hosts.Host.")
	e.ctl.subscribe(t, "leave", "ObjectDeletion", "Device.Hosts.Host.")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, e.agent) }()
	defer func() { cancel(); <-done }()
	time.Sleep(150 * time.Millisecond) // the baseline reading
	addr := strings.TrimSuffix(p.AddrB, ".2") + ".70"
	ip := func(args ...string) {
		t.Helper()
		if out, err := p.Command(p.A, "ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	// next returns the next notification about a Host row itself (a
	// partial path also covers the rows of the Host's address tables).
	next := func() *wire.Notify {
		t.Helper()
		for range 10 {
			n := e.ctl.notification(3 * time.Second).GetBody().GetRequest().GetNotify()
			path := n.GetObjCreation().GetObjPath() + n.GetObjDeletion().GetObjPath()
			if n == nil || strings.Count(path, ".") == 4 {
				return n
			}
		}
		return nil
	}
	ip("neigh", "add", addr, "lladdr", "02:00:00:00:00:70", "dev", p.IfA, "nud", "permanent")
	n := next()
	oc := n.GetObjCreation()
	if n.GetSubscriptionId() != "join" || !strings.HasPrefix(oc.GetObjPath(), "Device.Hosts.Host.") || oc.GetUniqueKeys()["PhysAddress"] != "02:00:00:00:00:70" {
		t.Fatalf("join: %v", n)
	}
	r := e.ctl.do(get(oc.GetObjPath() + "IPAddress"))
	if got := value(t, r, oc.GetObjPath()+"IPAddress"); got != addr {
		t.Errorf("IPAddress %q, want %s", got, addr)
	}
	ip("neigh", "del", addr, "dev", p.IfA)
	n = next()
	if n.GetSubscriptionId() != "leave" || n.GetObjDeletion().GetObjPath() != oc.GetObjPath() {
		t.Errorf("leave: %v", n)
	}
}

// TestHostStatsValueChange: traffic on an interface moves its Stats
// counters, and a Controller subscribed to one gets a ValueChange
// notification (the Agent polls provided parameters it watches).
func TestHostStatsValueChange(t *testing.T) {
	p := testenv.NewNetnsPair(t)
	bash := testenv.LookPath(t, "bash", "bash")
	m := schema.New()
	agent.Define(m)
	host.Define(m, host.AreaIP)
	h, err := host.New(&host.Options{Areas: []host.Area{host.AreaIP}, Netns: filepath.Join("/var/run/netns", p.A), MaxAge: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	mux := datamodel.NewMux(m)
	h.Register(mux)
	e := start(t, nil, withMux(mux))
	r := e.ctl.do(get("Device.IP.Interface.[Name==\"" + p.IfA + "\"].Stats.PacketsSent"))
	var param string
	for _, rp := range r.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, res := range rp.GetResolvedPathResults() {
			param = res.GetResolvedPath() + "PacketsSent"
		}
	}
	if param == "" {
		t.Fatalf("no interface %s: %v", p.IfA, r)
	}
	e.ctl.subscribe(t, "stats", "ValueChange", param)
	time.Sleep(300 * time.Millisecond) // the baseline
	script := "for i in 1 2 3; do echo x > /dev/udp/" + p.AddrB + "/9; done"
	if out, err := p.Command(p.A, bash, "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("sending: %v\n%s", err, out)
	}
	// The counter may be caught between packets (the ARP request first):
	// notifications follow it until it has counted the three datagrams.
	last := ""
	for range 10 {
		n := e.ctl.notification(3 * time.Second).GetBody().GetRequest().GetNotify()
		vc := n.GetValueChange()
		if n.GetSubscriptionId() != "stats" || vc.GetParamPath() != param {
			t.Fatalf("notify: %v (last value %q)", n, last)
		}
		last = vc.GetParamValue()
		if v, err := strconv.Atoi(last); err == nil && v >= 3 {
			return
		}
	}
	t.Errorf("PacketsSent %q after three datagrams", last)
}
