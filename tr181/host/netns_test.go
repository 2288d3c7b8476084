package host_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/host"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// nsHost is a Host reading namespace A of a fresh NetnsPair, served by
// an engine.
type nsHost struct {
	t    *testing.T
	pair *testenv.NetnsPair
	h    *host.Host
	eng  *datamodel.Engine
}

func newNSHost(t *testing.T, opt host.Options) *nsHost {
	t.Helper()
	p := testenv.NewNetnsPair(t)
	return attach(t, p, opt)
}

// attach serves namespace A of p through a new Host.
func attach(t *testing.T, p *testenv.NetnsPair, opt host.Options) *nsHost {
	t.Helper()
	opt.Netns = filepath.Join("/var/run/netns", p.A)
	if opt.MaxAge == 0 {
		opt.MaxAge = -1
	}
	h, err := host.New(&opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	m := schema.New()
	m.Define("Device.")
	host.Define(m, opt.Areas...)
	mux := datamodel.NewMux(m)
	h.Register(mux)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &nsHost{t: t, pair: p, h: h, eng: eng}
}

// get returns every parameter under path, by full path.
func (n *nsHost) get(path string) map[string]string {
	n.t.Helper()
	res := n.eng.Get(context.Background(), datamodel.Caller{}, []string{path}, 0)
	if res[0].Err != nil {
		n.t.Fatalf("get %s: %v", path, res[0].Err)
	}
	out := map[string]string{}
	for _, o := range res[0].Objects {
		for k, v := range o.Params {
			out[o.Path+k] = v
		}
	}
	return out
}

// ip runs ip -j in namespace A and decodes its output into v.
func (n *nsHost) ip(v any, args ...string) {
	n.t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", n.pair.A, "-j"}, args...)...).Output()
	if err != nil {
		n.t.Fatalf("ip %v: %v", args, err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		n.t.Fatalf("ip %v: %v\n%s", args, err, out)
	}
}

// run runs ip in namespace A.
func (n *nsHost) run(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", n.pair.A}, args...)...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %v: %v\n%s", args, err, out)
	}
}

// rows returns the instances of table (its path) found in got, by the
// value of their param.
func rows(got map[string]string, table, param string) map[string]string {
	out := map[string]string{}
	for k, v := range got {
		rest, ok := strings.CutPrefix(k, table)
		if !ok {
			continue
		}
		num, name, _ := strings.Cut(rest, ".")
		if name == param {
			out[v] = table + num + "."
		}
	}
	return out
}

type ipLink struct {
	Ifname    string `json:"ifname"`
	Address   string `json:"address"`
	MTU       int    `json:"mtu"`
	LinkType  string `json:"link_type"`
	Operstate string `json:"operstate"`
	Stats64   struct {
		RX struct{ Bytes, Packets uint64 } `json:"rx"`
		TX struct{ Bytes, Packets uint64 } `json:"tx"`
	} `json:"stats64"`
}

type ipAddr struct {
	Ifname   string `json:"ifname"`
	AddrInfo []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		Prefixlen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

// TestInterfacesMatchIP: Device.IP.Interface and Device.Ethernet.Interface
// show what `ip -j link` and `ip -j addr` show in the namespace.
func TestInterfacesMatchIP(t *testing.T) {
	n := newNSHost(t, host.Options{Areas: []host.Area{host.AreaIP, host.AreaEthernet}})
	got := n.get("Device.IP.Interface.")
	var links []ipLink
	n.ip(&links, "link")
	byName := rows(got, "Device.IP.Interface.", "Name")
	if len(byName) != len(links) {
		t.Errorf("%d IP interfaces, ip link lists %d: %v", len(byName), len(links), byName)
	}
	for _, l := range links {
		p, ok := byName[l.Ifname]
		if !ok {
			t.Errorf("%s: no IP interface", l.Ifname)
			continue
		}
		if got[p+"MaxMTUSize"] != strconv.Itoa(min(l.MTU, 65535)) { // loopback's 65536 is over TR-181's bound
			t.Errorf("%s: MaxMTUSize %s, mtu %d", l.Ifname, got[p+"MaxMTUSize"], l.MTU)
		}
		wantLoop := strconv.FormatBool(l.LinkType == "loopback")
		if got[p+"Loopback"] != wantLoop {
			t.Errorf("%s: Loopback %s", l.Ifname, got[p+"Loopback"])
		}
		if l.Operstate == "UP" && got[p+"Status"] != "Up" {
			t.Errorf("%s: Status %s, operstate %s", l.Ifname, got[p+"Status"], l.Operstate)
		}
	}
	var addrs []ipAddr
	n.ip(&addrs, "addr")
	for _, a := range addrs {
		p := byName[a.Ifname]
		var want4, want6, have4, have6 []string
		for _, ai := range a.AddrInfo {
			if ai.Family == "inet" {
				want4 = append(want4, ai.Local)
			} else {
				want6 = append(want6, ai.Local)
			}
		}
		for k := range rows(got, p+"IPv4Address.", "IPAddress") {
			have4 = append(have4, k)
		}
		for k := range rows(got, p+"IPv6Address.", "IPAddress") {
			have6 = append(have6, k)
		}
		slices.Sort(want4)
		slices.Sort(want6)
		slices.Sort(have4)
		slices.Sort(have6)
		if !slices.Equal(want4, have4) || !slices.Equal(want6, have6) {
			t.Errorf("%s: addresses %v %v, ip addr %v %v", a.Ifname, have4, have6, want4, want6)
		}
	}
	// The veth end is an Ethernet interface: its MAC address, and the IP
	// interface's LowerLayers names it.
	p := byName[n.pair.IfA]
	if got[p+"IPv4Address.1.SubnetMask"] != "255.255.255.0" {
		t.Errorf("SubnetMask %q", got[p+"IPv4Address.1.SubnetMask"])
	}
	eth := n.get("Device.Ethernet.Interface.")
	ethByName := rows(eth, "Device.Ethernet.Interface.", "Name")
	if len(ethByName) != 1 {
		t.Fatalf("Ethernet interfaces %v, want the veth end only", ethByName)
	}
	ep := ethByName[n.pair.IfA]
	for _, l := range links {
		if l.Ifname == n.pair.IfA && eth[ep+"MACAddress"] != l.Address {
			t.Errorf("MACAddress %s, ip link %s", eth[ep+"MACAddress"], l.Address)
		}
	}
	if got[p+"LowerLayers"]+"." != ep {
		t.Errorf("LowerLayers %q, want %s", got[p+"LowerLayers"], ep)
	}
}

// TestStatsMove: the Stats counters follow traffic and equal the
// kernel's.
func TestStatsMove(t *testing.T) {
	n := newNSHost(t, host.Options{Areas: []host.Area{host.AreaIP, host.AreaEthernet}})
	p := rows(n.get("Device.IP.Interface."), "Device.IP.Interface.", "Name")[n.pair.IfA]
	before := n.get(p + "Stats.")
	// Five UDP datagrams from A to B (bash's /dev/udp), each answered by
	// an ICMP port unreachable, after an ARP exchange.
	script := "for i in 1 2 3 4 5; do echo x > /dev/udp/" + n.pair.AddrB + "/9; done"
	if out, err := n.pair.Command(n.pair.A, testenv.LookPath(t, "bash", "bash"), "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("sending: %v\n%s", err, out)
	}
	after := n.get(p + "Stats.")
	for _, c := range []struct {
		name string
		min  uint64
	}{{"PacketsSent", 5}, {"BytesSent", 5 * 29}, {"PacketsReceived", 1}, {"BytesReceived", 28}} {
		b, _ := strconv.ParseUint(before[p+"Stats."+c.name], 10, 64)
		a, _ := strconv.ParseUint(after[p+"Stats."+c.name], 10, 64)
		if a < b+c.min {
			t.Errorf("%s: %d before, %d after five datagrams", c.name, b, a)
		}
	}
	var links []ipLink
	n.ip(&links, "-s", "link", "show", n.pair.IfA)
	if got := n.get(p + "Stats.")[p+"Stats.PacketsSent"]; got != strconv.FormatUint(links[0].Stats64.TX.Packets, 10) {
		t.Errorf("PacketsSent %s, ip -s link %d", got, links[0].Stats64.TX.Packets)
	}
	// The Ethernet interface counts the same link: read after the IP
	// figures and before `ip -s link`, its BytesSent lies between the two
	// (the link may send neighbour discovery meanwhile).
	e := rows(n.get("Device.Ethernet.Interface."), "Device.Ethernet.Interface.", "Name")[n.pair.IfA]
	got, _ := strconv.ParseUint(n.get(e + "Stats.")[e+"Stats.BytesSent"], 10, 64)
	ipSent, _ := strconv.ParseUint(after[p+"Stats.BytesSent"], 10, 64)
	n.ip(&links, "-s", "link", "show", n.pair.IfA)
	if got < ipSent || got > links[0].Stats64.TX.Bytes {
		t.Errorf("Ethernet BytesSent %d, not between IP's %d before it and ip -s link's %d after it", got, ipSent, links[0].Stats64.TX.Bytes)
	}
}

type ipNeigh struct {
	Dst    string   `json:"dst"`
	Dev    string   `json:"dev"`
	Lladdr string   `json:"lladdr"`
	State  []string `json:"state"`
}

// TestHostsFromNeighbours: a neighbour entry added by hand is a Host
// with its address and interface, as `ip -j neigh` shows it.
func TestHostsFromNeighbours(t *testing.T) {
	n := newNSHost(t, host.Options{})
	addr := strings.TrimSuffix(n.pair.AddrB, ".2") + ".50"
	n.run("neigh", "add", addr, "lladdr", "02:00:00:00:00:50", "dev", n.pair.IfA, "nud", "permanent")
	n.run("neigh", "add", "fd00::50", "lladdr", "02:00:00:00:00:50", "dev", n.pair.IfA, "nud", "permanent")
	var neigh []ipNeigh
	n.ip(&neigh, "neigh")
	got := n.get("Device.Hosts.")
	byMAC := rows(got, "Device.Hosts.Host.", "PhysAddress")
	macs := map[string]bool{}
	for _, x := range neigh {
		if x.Lladdr != "" && !slices.Contains(x.State, "FAILED") && !slices.Contains(x.State, "INCOMPLETE") {
			macs[x.Lladdr] = true
		}
	}
	if !maps.Equal(macs, func() map[string]bool {
		m := map[string]bool{}
		for k := range byMAC {
			m[k] = true
		}
		return m
	}()) {
		t.Errorf("hosts %v, ip neigh %v", byMAC, neigh)
	}
	p := byMAC["02:00:00:00:00:50"]
	if p == "" {
		t.Fatalf("no host for the neighbour: %v", got)
	}
	ifp := rows(n.get("Device.IP.Interface."), "Device.IP.Interface.", "Name")[n.pair.IfA]
	for k, want := range map[string]string{"IPAddress": addr, "Active": "true", "Layer3Interface": strings.TrimSuffix(ifp, "."),
		"InterfaceType": "Ethernet", "IPv4AddressNumberOfEntries": "1", "IPv6AddressNumberOfEntries": "1",
		"IPv4Address.1.IPAddress": addr, "IPv6Address.1.IPAddress": "fd00::50"} {
		if got[p+k] != want {
			t.Errorf("%s%s = %q, want %q", p, k, got[p+k], want)
		}
	}
	if got["Device.Hosts.HostNumberOfEntries"] != strconv.Itoa(len(byMAC)) {
		t.Errorf("HostNumberOfEntries %s", got["Device.Hosts.HostNumberOfEntries"])
	}
}

type ipRoute struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Metric   int    `json:"metric"`
	Protocol string `json:"protocol"`
}

// TestRoutesMatchIP: IPv4Forwarding shows `ip -j route` (the main
// table), a route added through a gateway included.
func TestRoutesMatchIP(t *testing.T) {
	n := newNSHost(t, host.Options{Areas: []host.Area{host.AreaIP, host.AreaRouting}})
	n.run("route", "add", "192.0.2.0/24", "via", n.pair.AddrB, "metric", "7")
	n.run("route", "add", "default", "via", n.pair.AddrB)
	var routes []ipRoute
	n.ip(&routes, "route")
	got := n.get("Device.Routing.Router.")
	if got["Device.Routing.Router.1.Enable"] != "true" {
		t.Fatalf("router: %v", got)
	}
	fw := "Device.Routing.Router.1.IPv4Forwarding."
	type route struct{ dest, gw, metric string }
	var have, want []route
	for k, v := range got {
		if rest, ok := strings.CutPrefix(k, fw); ok && strings.HasSuffix(rest, ".DestIPAddress") {
			p := strings.TrimSuffix(k, "DestIPAddress")
			dest := v
			if dest != "" {
				ones := 0
				for _, part := range strings.Split(got[p+"DestSubnetMask"], ".") {
					b, _ := strconv.Atoi(part)
					ones += strings.Count(strconv.FormatInt(int64(b), 2), "1")
				}
				dest += "/" + strconv.Itoa(ones)
			} else {
				dest = "default"
			}
			have = append(have, route{dest, got[p+"GatewayIPAddress"], got[p+"ForwardingMetric"]})
		}
	}
	for _, r := range routes {
		dst := r.Dst
		if !strings.Contains(dst, "/") && dst != "default" {
			dst += "/32"
		}
		want = append(want, route{dst, r.Gateway, strconv.Itoa(r.Metric)})
	}
	cmp := func(a, b route) int { return strings.Compare(a.dest+a.gw, b.dest+b.gw) }
	slices.SortFunc(have, cmp)
	slices.SortFunc(want, cmp)
	if !slices.Equal(have, want) {
		t.Errorf("IPv4Forwarding %v, ip route %v", have, want)
	}
	if got["Device.Routing.Router.1.IPv4ForwardingNumberOfEntries"] != strconv.Itoa(len(routes)) {
		t.Errorf("IPv4ForwardingNumberOfEntries %s", got["Device.Routing.Router.1.IPv4ForwardingNumberOfEntries"])
	}
}

// TestInstanceNumbersStable: an interface keeps its instance number while
// it exists and across a new Host reading the same state file; a new
// interface gets a new number, and one deleted and created again a new
// one too [R-ARC.8].
func TestInstanceNumbersStable(t *testing.T) {
	state := filepath.Join(t.TempDir(), "host.json")
	opt := host.Options{Areas: []host.Area{host.AreaIP}, State: state}
	n := newNSHost(t, opt)
	num := func(n *nsHost, name string) string {
		t.Helper()
		return rows(n.get("Device.IP.Interface."), "Device.IP.Interface.", "Name")[name]
	}
	veth := num(n, n.pair.IfA)
	n.run("link", "add", "dummy0", "type", "veth", "peer", "name", "dummy0p")
	d := num(n, "dummy0")
	if d == "" || d == veth {
		t.Fatalf("dummy0 at %q, veth at %q", d, veth)
	}
	if got := num(n, n.pair.IfA); got != veth {
		t.Errorf("veth moved from %s to %s", veth, got)
	}
	n.run("link", "del", "dummy0")
	num(n, n.pair.IfA) // a reading without dummy0
	n.run("link", "add", "dummy0", "type", "veth", "peer", "name", "dummy0p")
	if again := num(n, "dummy0"); again == d || again == "" {
		t.Errorf("dummy0 created again at %q, the number it had before was %s", again, d)
	}
	d = num(n, "dummy0")
	// A restarted Agent reads the state file.
	n2 := attach(t, n.pair, opt)
	if got := num(n2, n.pair.IfA); got != veth {
		t.Errorf("after a restart the veth is %s, was %s", got, veth)
	}
	if got := num(n2, "dummy0"); got != d {
		t.Errorf("after a restart dummy0 is %s, was %s", got, d)
	}
}

// TestPollAnnounces: a host joining is announced as a new row with its
// unique key, and leaving as a deleted one; the first Poll announces
// nothing.
func TestPollAnnounces(t *testing.T) {
	n := newNSHost(t, host.Options{Areas: []host.Area{host.AreaIP, host.AreaHosts}})
	ctx := context.Background()
	l := &listener{}
	last := n.h.Poll(ctx, nil, l)
	if len(l.got) != 0 {
		t.Fatalf("first poll announced %v", l.got)
	}
	addr := strings.TrimSuffix(n.pair.AddrB, ".2") + ".60"
	n.run("neigh", "add", addr, "lladdr", "02:00:00:00:00:60", "dev", n.pair.IfA, "nud", "permanent")
	last = n.h.Poll(ctx, last, l)
	var host string
	for _, c := range l.got {
		if c.Op == datamodel.OpAdd && strings.HasPrefix(c.Path, "Device.Hosts.Host.") && strings.Count(c.Path, ".") == 4 {
			host = c.Path
			if c.Params["PhysAddress"] != "02:00:00:00:00:60" {
				t.Errorf("announced %v", c)
			}
		}
	}
	if host == "" || len(l.got) != 2 { // the host and its IPv4Address row
		t.Fatalf("announced %v", l.got)
	}
	l.got = nil
	n.run("neigh", "del", addr, "dev", n.pair.IfA)
	n.h.Poll(ctx, last, l)
	if got := l.got; len(got) != 2 || got[1].Op != datamodel.OpDelete || got[1].Path != host || got[0].Path != host+"IPv4Address.1." {
		t.Errorf("announced %v, want the address row then %s deleted", got, host)
	}
}

// TestCached: within MaxAge a Get reuses the last reading.
func TestCached(t *testing.T) {
	now := time.Now()
	n := newNSHost(t, host.Options{Areas: []host.Area{host.AreaIP}, MaxAge: time.Minute, Now: func() time.Time { return now }})
	before := len(rows(n.get("Device.IP.Interface."), "Device.IP.Interface.", "Name"))
	n.run("link", "add", "dummy1", "type", "veth", "peer", "name", "dummy1p")
	if got := len(rows(n.get("Device.IP.Interface."), "Device.IP.Interface.", "Name")); got != before {
		t.Errorf("%d interfaces within MaxAge, %d before", got, before)
	}
	now = now.Add(time.Minute)
	if got := len(rows(n.get("Device.IP.Interface."), "Device.IP.Interface.", "Name")); got != before+2 {
		t.Errorf("%d interfaces after MaxAge, want %d", got, before+2)
	}
}

// TestIPv6RoutesMatchIP: IPv6Forwarding shows `ip -j -6 route`.
func TestIPv6RoutesMatchIP(t *testing.T) {
	n := newNSHost(t, host.Options{Areas: []host.Area{host.AreaIP, host.AreaRouting}})
	n.run("-6", "addr", "add", "fd00:1::1/64", "dev", n.pair.IfA, "nodad")
	n.run("-6", "route", "add", "fd00:2::/48", "via", "fd00:1::2", "metric", "9")
	var routes []ipRoute
	n.ip(&routes, "-6", "route")
	got := n.get("Device.Routing.Router.1.IPv6Forwarding.")
	have := map[string]string{}
	for k, v := range got {
		if strings.HasSuffix(k, ".DestIPPrefix") {
			p := strings.TrimSuffix(k, "DestIPPrefix")
			have[v] = got[p+"NextHop"] + " " + got[p+"ForwardingMetric"]
		}
	}
	want := map[string]string{}
	for _, r := range routes {
		if r.Dst == "default" {
			r.Dst = "::/0"
		}
		want[r.Dst] = r.Gateway + " " + strconv.Itoa(r.Metric)
	}
	if !maps.Equal(have, want) {
		t.Errorf("IPv6Forwarding %v, ip -6 route %v", have, want)
	}
	if have["fd00:2::/48"] != "fd00:1::2 9" {
		t.Errorf("the added route: %q", have["fd00:2::/48"])
	}
}

// TestHostStale: a neighbour entry that is only stale is a host that is
// not active.
func TestHostStale(t *testing.T) {
	n := newNSHost(t, host.Options{Areas: []host.Area{host.AreaIP, host.AreaHosts}})
	addr := strings.TrimSuffix(n.pair.AddrB, ".2") + ".80"
	n.run("neigh", "add", addr, "lladdr", "02:00:00:00:00:80", "dev", n.pair.IfA, "nud", "stale")
	got := n.get("Device.Hosts.")
	p := rows(got, "Device.Hosts.Host.", "PhysAddress")["02:00:00:00:00:80"]
	if p == "" || got[p+"Active"] != "false" {
		t.Errorf("stale host %s: %v", p, got)
	}
}

// TestDamagedState: a state file that is not what was written is
// reported and numbering starts afresh; nothing fails.
func TestDamagedState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "host.json")
	if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := newNSHost(t, host.Options{Areas: []host.Area{host.AreaIP}, State: state})
	got := rows(n.get("Device.IP.Interface."), "Device.IP.Interface.", "Name")
	if got["lo"] == "" || got[n.pair.IfA] == "" {
		t.Fatalf("interfaces %v", got)
	}
	b, err := os.ReadFile(state)
	if err != nil || !json.Valid(b) {
		t.Errorf("state file not rewritten: %v %q", err, b)
	}
}

// listener records what a Host announces; watch nil watches every
// table.
type listener struct {
	watch func(table string) bool
	got   []datamodel.Change
}

func (l *listener) Announce(_ context.Context, c []datamodel.Change) { l.got = append(l.got, c...) }
func (l *listener) Watching(table string) bool                       { return l.watch == nil || l.watch(table) }

// TestPollWatching: an area nobody watches is not read; once watched, its
// first reading is a baseline (rows that joined meanwhile are not
// announced) and later rows are announced.
func TestPollWatching(t *testing.T) {
	n := newNSHost(t, host.Options{Areas: []host.Area{host.AreaIP, host.AreaHosts}})
	ctx := context.Background()
	watchHosts := false
	l := &listener{watch: func(table string) bool { return watchHosts && strings.HasPrefix(table, "Device.Hosts.") }}
	last := n.h.Poll(ctx, nil, l)
	if last.Len() != 0 {
		t.Fatalf("%d rows read with nothing watched", last.Len())
	}
	prefix := strings.TrimSuffix(n.pair.AddrB, ".2")
	n.run("neigh", "add", prefix+".91", "lladdr", "02:00:00:00:00:91", "dev", n.pair.IfA, "nud", "permanent")
	last = n.h.Poll(ctx, last, l)
	watchHosts = true
	last = n.h.Poll(ctx, last, l)
	if len(l.got) != 0 || last.Len() == 0 {
		t.Fatalf("announced %v while setting the baseline (%d rows)", l.got, last.Len())
	}
	n.run("neigh", "add", prefix+".92", "lladdr", "02:00:00:00:00:92", "dev", n.pair.IfA, "nud", "permanent")
	n.h.Poll(ctx, last, l)
	if len(l.got) != 2 || l.got[0].Params["PhysAddress"] != "02:00:00:00:00:92" {
		t.Errorf("announced %v, want the new host and its address", l.got)
	}
}

// TestLastChange: LastChange counts the seconds since Status last
// changed, and starts again when the interface goes down.
func TestLastChange(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := newNSHost(t, host.Options{Areas: []host.Area{host.AreaIP}, Now: func() time.Time { return now }})
	p := rows(n.get("Device.IP.Interface."), "Device.IP.Interface.", "Name")[n.pair.IfA]
	now = now.Add(30 * time.Second)
	if got := n.get(p); got[p+"LastChange"] != "30" || got[p+"Status"] != "Up" {
		t.Errorf("after 30 s: Status %s LastChange %s", got[p+"Status"], got[p+"LastChange"])
	}
	n.run("link", "set", n.pair.IfA, "down")
	now = now.Add(5 * time.Second)
	got := n.get(p)
	if got[p+"Status"] != "Down" || got[p+"LastChange"] != "0" || got[p+"Enable"] != "false" {
		t.Errorf("down: Status %s LastChange %s Enable %s", got[p+"Status"], got[p+"LastChange"], got[p+"Enable"])
	}
}
