package host

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
)

const tableHosts = "Device.Hosts.Host."

// hostState is what the Hosts area remembers of a host between
// readings: whether it was active and since when.
type hostState struct {
	active bool
	since  time.Time
}

// usable reports whether a neighbour entry names a host: it has a link
// address and the kernel has not given up on it.
func usable(n netlink.Neigh) bool {
	return len(n.HardwareAddr) > 0 && n.IP != nil && n.State&(netlink.NUD_FAILED|netlink.NUD_INCOMPLETE|netlink.NUD_NONE) == 0 &&
		n.Flags&netlink.NTF_PROXY == 0 && !n.IP.IsMulticast()
}

// active reports whether the host answers: its entry is confirmed
// (reachable, being probed, or set by hand) rather than stale.
func active(n netlink.Neigh) bool {
	return n.State&(netlink.NUD_REACHABLE|netlink.NUD_PERMANENT|netlink.NUD_NOARP|netlink.NUD_DELAY|netlink.NUD_PROBE) != 0
}

// readHosts reads Device.Hosts.Host.{i}. from the neighbour tables (ARP
// and NDP): one host per link-layer address, with its IPv4 and IPv6
// addresses.
func (h *Host) readHosts(ctx context.Context, b *builder) error {
	ns, err := h.nl.NeighList(0, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("listing neighbours: %w", err)
	}
	ls, err := h.links()
	if err != nil {
		return err
	}
	byIndex := map[int]netlink.Link{}
	for _, l := range ls {
		byIndex[l.Attrs().Index] = l
	}
	type host struct {
		mac    string
		link   netlink.Link
		v4, v6 []string
		active bool
	}
	hosts := map[string]*host{}
	for _, n := range ns {
		if !usable(n) {
			continue
		}
		mac := n.HardwareAddr.String()
		x := hosts[mac]
		if x == nil {
			x = &host{mac: mac, link: byIndex[n.LinkIndex]}
			hosts[mac] = x
		}
		x.active = x.active || active(n)
		if ip4 := n.IP.To4(); ip4 != nil {
			x.v4 = append(x.v4, ip4.String())
		} else {
			x.v6 = append(x.v6, n.IP.String())
		}
	}
	b.table(tableHosts)
	seen := map[string]hostState{}
	for _, mac := range slices.Sorted(maps.Keys(hosts)) {
		x := hosts[mac]
		slices.Sort(x.v4)
		slices.Sort(x.v6)
		st, ok := h.hostSeen[mac]
		if !ok || st.active != x.active {
			st = hostState{active: x.active, since: b.now}
		}
		seen[mac] = st
		ip := ""
		switch {
		case len(x.v4) > 0:
			ip = x.v4[0]
		case len(x.v6) > 0:
			ip = x.v6[0]
		}
		p := map[string]string{"PhysAddress": mac, "IPAddress": ip, "Active": strconv.FormatBool(x.active),
			"ActiveLastChange": st.since.UTC().Format(time.RFC3339), "InterfaceType": "Other"}
		if x.link != nil {
			p["Layer3Interface"] = h.ipRef(x.link.Attrs().Name)
			p["Layer1Interface"] = h.ethernetRef(x.link)
			if isEthernet(x.link) {
				p["InterfaceType"] = "Ethernet"
			}
		}
		path := b.row(tableHosts, mac, p)
		if path == "" {
			continue
		}
		b.table(path + "IPv4Address.")
		b.table(path + "IPv6Address.")
		for _, a := range x.v4 {
			b.row(path+"IPv4Address.", a, map[string]string{"IPAddress": a})
		}
		for _, a := range x.v6 {
			b.row(path+"IPv6Address.", a, map[string]string{"IPAddress": a})
		}
	}
	h.hostSeen = seen
	return nil
}
