package host

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const tableRouter = "Device.Routing.Router."

// readRouting reads the main routing table as Device.Routing.Router.1.,
// with its IPv4Forwarding and IPv6Forwarding rows.
func (h *Host) readRouting(ctx context.Context, b *builder) error {
	ls, err := h.links()
	if err != nil {
		return err
	}
	names := map[int]string{}
	for _, l := range ls {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	b.table(tableRouter)
	path := b.row(tableRouter, "main", map[string]string{"Enable": "true", "Status": "Enabled", "Alias": ""})
	b.table(path + "IPv4Forwarding.")
	b.table(path + "IPv6Forwarding.")
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := h.nl.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return fmt.Errorf("listing routes: %w", err)
		}
		for _, r := range rs {
			if fam == netlink.FAMILY_V4 {
				h.route4(b, path, r, names)
			} else {
				h.route6(b, path, r, names)
			}
		}
	}
	return nil
}

// routeType is TR-181's forwarding Type of a kernel route type.
func routeType(t int) string {
	switch t {
	case unix.RTN_BLACKHOLE:
		return "Blackhole"
	case unix.RTN_UNREACHABLE:
		return "Unreachable"
	case unix.RTN_PROHIBIT:
		return "Prohibit"
	case unix.RTN_LOCAL:
		return "Receive"
	}
	return "Normal"
}

func (h *Host) route4(b *builder, router string, r netlink.Route, names map[int]string) {
	dest, mask := "", ""
	if r.Dst != nil {
		if ones, _ := r.Dst.Mask.Size(); ones > 0 {
			dest, mask = r.Dst.IP.String(), net.IP(r.Dst.Mask).String()
		}
	}
	gw := ""
	if r.Gw != nil {
		gw = r.Gw.String()
	}
	origin := "Static"
	if r.Protocol == unix.RTPROT_DHCP {
		origin = "DHCPv4"
	}
	iface := h.ipRef(names[r.LinkIndex])
	metric := strconv.Itoa(r.Priority)
	key := dest + "/" + mask + " " + gw + " " + names[r.LinkIndex] + " " + metric
	b.row(router+"IPv4Forwarding.", key, map[string]string{
		"Enable": "true", "Status": "Enabled", "Alias": "", "Type": routeType(r.Type),
		"StaticRoute":   strconv.FormatBool(r.Protocol == unix.RTPROT_STATIC || r.Protocol == unix.RTPROT_BOOT),
		"DestIPAddress": dest, "DestSubnetMask": mask, "ForwardingPolicy": "-1", "GatewayIPAddress": gw,
		"Interface": iface, "Origin": origin, "ForwardingMetric": metric,
	})
}

func (h *Host) route6(b *builder, router string, r netlink.Route, names map[int]string) {
	prefix := "::/0"
	if r.Dst != nil {
		prefix = r.Dst.String()
	}
	hop := ""
	if r.Gw != nil {
		hop = r.Gw.String()
	}
	origin := "Static"
	switch r.Protocol {
	case unix.RTPROT_RA:
		origin = "RA"
	case unix.RTPROT_DHCP:
		origin = "DHCPv6"
	}
	metric := strconv.Itoa(r.Priority)
	key := prefix + " " + hop + " " + names[r.LinkIndex] + " " + metric
	b.row(router+"IPv6Forwarding.", key, map[string]string{
		"Enable": "true", "Status": "Enabled", "Alias": "", "Type": routeType(r.Type), "DestIPPrefix": prefix,
		"ForwardingPolicy": "-1", "NextHop": hop, "Interface": h.ipRef(names[r.LinkIndex]), "Origin": origin,
		"ForwardingMetric": metric,
	})
}
