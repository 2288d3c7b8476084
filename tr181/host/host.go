package host

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/uspkit/uspkit/datamodel"
)

// Area is one group of objects the package provides.
type Area string

// Areas.
const (
	AreaIP       Area = "ip"       // Device.IP.Interface.{i}.
	AreaEthernet Area = "ethernet" // Device.Ethernet.Interface.{i}.
	AreaHosts    Area = "hosts"    // Device.Hosts.Host.{i}.
	AreaDNS      Area = "dns"      // Device.DNS.Client.
	AreaRouting  Area = "routing"  // Device.Routing.Router.{i}.
	AreaTime     Area = "time"     // Device.Time.
)

// allAreas lists every area, in the order they are read.
func allAreas() []Area {
	return []Area{AreaIP, AreaEthernet, AreaHosts, AreaDNS, AreaRouting, AreaTime}
}

func areaList(areas []Area) []Area {
	if len(areas) == 0 {
		return allAreas()
	}
	return areas
}

// ParseArea returns the Area named s, or an error.
func ParseArea(s string) (Area, error) {
	for _, a := range allAreas() {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("host: unknown area %q (want one of %v)", s, allAreas())
}

// Options configure a Host; nil or the zero Options are the defaults.
type Options struct {
	// Areas are the areas served; nil means all.
	Areas []Area
	// Netns is the path of a network namespace file
	// ("/var/run/netns/NAME") to read interfaces, neighbours and routes
	// from; "" means the Agent's own.
	Netns string
	// ResolvConf is the resolver configuration to read DNS servers from;
	// "" means /etc/resolv.conf.
	ResolvConf string
	// NTPConfigs are the files to read NTP servers from, the first one
	// naming any winning; nil means the usual places of systemd-timesyncd,
	// chrony, ntpd and ntpsec.
	NTPConfigs []string
	// LocalTime is the TZif file of the host's time zone; "" means
	// /etc/localtime.
	LocalTime string
	// MaxAge is how long what was read for an area is reused by Gets
	// before it is read again; 0 means DefaultMaxAge, negative reads the
	// area again for every table a Get lists.
	MaxAge time.Duration
	// Interval is how often Run reads the areas to announce instances
	// that appeared or vanished; 0 means DefaultInterval.
	Interval time.Duration
	// State is a file that keeps instance numbers across restarts, so
	// that an interface keeps its number while it exists; "" keeps them
	// in memory only.
	State string
	// Log receives a line per failed reading; nil discards.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultMaxAge is how long an area's reading serves Gets unless
// Options.MaxAge says otherwise.
const DefaultMaxAge = time.Second

// DefaultInterval is how often Run looks for instances that appeared or
// vanished unless Options.Interval says otherwise.
const DefaultInterval = 10 * time.Second

// Host provides the objects of the host the Agent runs on. Its methods
// are safe for concurrent use. Lock order: an area's mu, then the
// numbering's mu.
type Host struct {
	opt   Options
	log   *slog.Logger
	nl    *netlink.Handle
	nums  *numbering
	areas map[Area]*area
	order []*area

	// Kept under the lock of the area that reads them.
	ipChanges, ethChanges lastChange
	hostSeen              map[string]hostState // Hosts: by MAC address
}

// area is one area's cached reading.
type area struct {
	name   Area
	read   func(ctx context.Context, b *builder) error
	roots  []string // patterns bound on the Mux
	tables []string // the area's tables, "Device.IP.Interface.", "Device.IP.Interface.{i}.IPv4Address."

	mu   sync.Mutex
	view *view
	prev *view // the reading before view
}

// New returns a Host reading the given network namespace (or the
// Agent's own); Close releases it.
func New(opt *Options) (*Host, error) {
	h := &Host{areas: map[Area]*area{}, ipChanges: lastChange{}, ethChanges: lastChange{}, hostSeen: map[string]hostState{}}
	if opt != nil {
		h.opt = *opt
	}
	if h.opt.MaxAge == 0 {
		h.opt.MaxAge = DefaultMaxAge
	}
	if h.opt.Interval <= 0 {
		h.opt.Interval = DefaultInterval
	}
	if h.opt.Now == nil {
		h.opt.Now = time.Now
	}
	h.log = h.opt.Log
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if h.opt.Netns != "" {
		ns, nerr := netns.GetFromPath(h.opt.Netns)
		if nerr != nil {
			return nil, fmt.Errorf("host: network namespace %s: %w", h.opt.Netns, nerr)
		}
		defer ns.Close()
		h.nl, err = netlink.NewHandleAt(ns)
	} else {
		h.nl, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, fmt.Errorf("host: netlink: %w", err)
	}
	h.nums = newNumbering(h.opt.State, h.log)
	for _, a := range areaList(h.opt.Areas) {
		ar := h.newArea(a)
		h.areas[a] = ar
		h.order = append(h.order, ar)
	}
	return h, nil
}

// Close releases the netlink socket.
func (h *Host) Close() error {
	h.nl.Close()
	return nil
}

func (h *Host) newArea(a Area) *area {
	ar := &area{name: a}
	switch a {
	case AreaIP:
		ar.read, ar.roots = h.readIP, []string{"Device.IP.Interface.{i}."}
		ar.tables = []string{tableIP, tableIP + "{i}.IPv4Address.", tableIP + "{i}.IPv6Address."}
	case AreaEthernet:
		ar.read, ar.roots = h.readEthernet, []string{"Device.Ethernet.Interface.{i}."}
		ar.tables = []string{tableEthernet}
	case AreaHosts:
		ar.read, ar.roots = h.readHosts, []string{"Device.Hosts.Host.{i}."}
		ar.tables = []string{tableHosts, tableHosts + "{i}.IPv4Address.", tableHosts + "{i}.IPv6Address."}
	case AreaDNS:
		ar.read, ar.roots = h.readDNS, []string{"Device.DNS.Client."}
		ar.tables = []string{tableDNSServer}
	case AreaRouting:
		ar.read, ar.roots = h.readRouting, []string{"Device.Routing.Router.{i}."}
		ar.tables = []string{tableRouter, tableRouter + "{i}.IPv4Forwarding.", tableRouter + "{i}.IPv6Forwarding."}
	case AreaTime:
		ar.read, ar.roots = h.readTime, []string{"Device.Time."}
	}
	return ar
}

// Register serves the Host's areas on mux; their objects must have been
// defined (Define) with the same areas.
func (h *Host) Register(mux *datamodel.Mux) {
	for _, ar := range h.order {
		for _, p := range ar.roots {
			mux.Handle(p, &handler{h: h, ar: ar})
		}
	}
}

// prefixes returns the table paths whose instance numbers the area owns.
func (ar *area) prefixes() []string {
	out := make([]string, len(ar.roots))
	for i, r := range ar.roots {
		out[i] = strings.TrimSuffix(r, "{i}.")
	}
	return out
}

// current returns the area's reading, read again when older than MaxAge
// (with a negative MaxAge, for every listing of a table: the objects a
// Get visits are read from the listing they follow), and the reading
// before it.
func (h *Host) current(ctx context.Context, ar *area, list bool) (cur, prev *view, err error) {
	now := h.opt.Now()
	ar.mu.Lock()
	defer ar.mu.Unlock()
	if v := ar.view; v != nil && (h.opt.MaxAge > 0 && !now.Before(v.at) && now.Sub(v.at) < h.opt.MaxAge || h.opt.MaxAge < 0 && !list) {
		return v, ar.prev, nil
	}
	v, err := h.reread(ctx, ar, now)
	return v, ar.prev, err
}

// reread reads the area now; ar.mu is held.
func (h *Host) reread(ctx context.Context, ar *area, now time.Time) (*view, error) {
	b := newBuilder(h.nums, now, ar.prefixes())
	if err := ar.read(ctx, b); err != nil {
		h.log.WarnContext(ctx, "reading host objects", "area", ar.name, "err", err)
		return nil, err
	}
	v := b.finish()
	ar.prev, ar.view = ar.view, v
	return v, nil
}
