package host

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	tableIP       = "Device.IP.Interface."
	tableEthernet = "Device.Ethernet.Interface."
)

// links lists the host's network interfaces.
func (h *Host) links() ([]netlink.Link, error) {
	ls, err := h.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	return ls, nil
}

// ipRef returns the path of the IP interface named name, or "" when
// the IP area is not served.
func (h *Host) ipRef(name string) string {
	if h.areas[AreaIP] == nil || name == "" {
		return ""
	}
	return tableIP + strconv.FormatUint(uint64(h.nums.number(tableIP, name)), 10)
}

// ethernetRef is ipRef for Device.Ethernet.Interface.
func (h *Host) ethernetRef(l netlink.Link) string {
	if h.areas[AreaEthernet] == nil || !isEthernet(l) {
		return ""
	}
	return tableEthernet + strconv.FormatUint(uint64(h.nums.number(tableEthernet, l.Attrs().Name)), 10)
}

// isEthernet reports whether a link is an Ethernet port of the host
// (a device or a veth with an Ethernet address), not a bridge, VLAN or
// tunnel built on top of one.
func isEthernet(l netlink.Link) bool {
	a := l.Attrs()
	if a.EncapType != "ether" || len(a.HardwareAddr) != 6 {
		return false
	}
	switch l.Type() {
	case "device", "veth":
		return true
	}
	return false
}

// status is TR-181's interface Status for a link's operational state
// (RFC 2863, as the kernel reports it).
func status(l netlink.Link) string {
	a := l.Attrs()
	switch a.OperState {
	case netlink.OperUp:
		return "Up"
	case netlink.OperDormant:
		return "Dormant"
	case netlink.OperNotPresent:
		return "NotPresent"
	case netlink.OperLowerLayerDown:
		return "LowerLayerDown"
	case netlink.OperDown:
		return "Down"
	}
	// Unknown: interfaces without carrier detection (loopback, some
	// virtual ones) report it while they are up and running.
	if a.Flags&net.FlagUp != 0 && a.RawFlags&unix.IFF_RUNNING != 0 {
		return "Up"
	}
	if a.Flags&net.FlagUp == 0 {
		return "Down"
	}
	return "Unknown"
}

// stats are a link's counters as TR-181's Stats objects name them.
// unsignedInt counters wrap as 32-bit counters do.
func stats(l netlink.Link) map[string]string {
	s := l.Attrs().Statistics
	if s == nil {
		s = &netlink.LinkStatistics{}
	}
	u64 := func(v uint64) string { return strconv.FormatUint(v, 10) }
	u32 := func(v uint64) string { return strconv.FormatUint(v&(1<<32-1), 10) }
	return map[string]string{
		"BytesSent": u64(s.TxBytes), "BytesReceived": u64(s.RxBytes),
		"PacketsSent": u64(s.TxPackets), "PacketsReceived": u64(s.RxPackets),
		"ErrorsSent": u32(s.TxErrors), "ErrorsReceived": u32(s.RxErrors),
		"DiscardPacketsSent": u32(s.TxDropped), "DiscardPacketsReceived": u32(s.RxDropped),
		"MulticastPacketsReceived": u64(s.Multicast),
	}
}

// lastChange tracks when each link's Status last changed, in seconds,
// as TR-181's LastChange counts them. It is kept by the areas that read
// links under their own lock.
type lastChange map[string]struct {
	status string
	since  time.Time
}

func (lc lastChange) seconds(name, status string, now time.Time) string {
	x, ok := lc[name]
	if !ok || x.status != status {
		x.status, x.since = status, now
		lc[name] = x
	}
	return strconv.FormatInt(int64(now.Sub(x.since)/time.Second), 10)
}

// readIP reads Device.IP.Interface.{i}. with its addresses and Stats.
func (h *Host) readIP(ctx context.Context, b *builder) error {
	ls, err := h.links()
	if err != nil {
		return err
	}
	addrs, err := h.nl.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("listing addresses: %w", err)
	}
	byLink := map[int][]netlink.Addr{}
	for _, a := range addrs {
		byLink[a.LinkIndex] = append(byLink[a.LinkIndex], a)
	}
	b.table(tableIP)
	lc := h.ipChanges
	for _, l := range ls {
		a := l.Attrs()
		st := status(l)
		loop := a.Flags&net.FlagLoopback != 0
		typ := "Normal"
		if loop {
			typ = "Loopback"
		}
		v4, v6 := false, false
		for _, ad := range byLink[a.Index] {
			if ad.IP.To4() != nil {
				v4 = true
			} else {
				v6 = true
			}
		}
		path := b.row(tableIP, a.Name, map[string]string{
			"Enable": strconv.FormatBool(a.Flags&net.FlagUp != 0), "IPv4Enable": strconv.FormatBool(v4),
			"IPv6Enable": strconv.FormatBool(v6 && !h.ipv6Disabled(a.Name)), "Status": st, "Alias": "", "Name": a.Name,
			"LastChange": lc.seconds(a.Name, st, b.now), "LowerLayers": h.ethernetRef(l),
			"MaxMTUSize": strconv.Itoa(min(max(a.MTU, 64), 65535)), "Type": typ, "Loopback": strconv.FormatBool(loop),
		})
		if path == "" {
			continue
		}
		b.obj(path+"Stats.", stats(l))
		b.table(path + "IPv4Address.")
		b.table(path + "IPv6Address.")
		for _, ad := range byLink[a.Index] {
			addAddress(b, path, ad)
		}
	}
	return nil
}

// ipv6Disabled reports whether IPv6 is switched off on an interface.
func (h *Host) ipv6Disabled(name string) bool {
	if h.opt.Netns != "" {
		return false // /proc/sys is the Agent's namespace's, not the one read
	}
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// addAddress adds one address of the interface at path.
func addAddress(b *builder, path string, ad netlink.Addr) {
	if ip4 := ad.IP.To4(); ip4 != nil {
		mask := net.IP(net.CIDRMask(maskBits(ad), 32)).String()
		typ := "Static"
		if ad.Flags&unix.IFA_F_PERMANENT == 0 {
			typ = "DHCP" // a lease with a lifetime
		}
		b.row(path+"IPv4Address.", ip4.String()+"/"+mask, map[string]string{
			"Enable": "true", "Status": "Enabled", "Alias": "", "IPAddress": ip4.String(), "SubnetMask": mask, "AddressingType": typ,
		})
		return
	}
	st := "Preferred"
	switch {
	case ad.Flags&unix.IFA_F_TENTATIVE != 0:
		st = "Tentative"
	case ad.Flags&unix.IFA_F_DADFAILED != 0:
		st = "Duplicate"
	case ad.Flags&unix.IFA_F_DEPRECATED != 0:
		st = "Deprecated"
	case ad.Flags&unix.IFA_F_OPTIMISTIC != 0:
		st = "Optimistic"
	}
	origin := "Static"
	switch {
	case ad.IP.IsLinkLocalUnicast():
		origin = "WellKnown"
	case ad.Flags&unix.IFA_F_MANAGETEMPADDR != 0 || ad.Flags&unix.IFA_F_PERMANENT == 0 && ad.Flags&unix.IFA_F_NOPREFIXROUTE == 0:
		origin = "AutoConfigured"
	}
	b.row(path+"IPv6Address.", ad.IP.String(), map[string]string{
		"Enable": "true", "Status": "Enabled", "IPAddressStatus": st, "Alias": "", "IPAddress": ad.IP.String(), "Origin": origin,
		"PreferredLifetime": lifetime(b.now, ad.PreferedLft), "ValidLifetime": lifetime(b.now, ad.ValidLft),
	})
}

func maskBits(ad netlink.Addr) int {
	ones, _ := ad.Mask.Size()
	return ones
}

// lifetime is the time an address lifetime in seconds ends; the
// kernel's "forever" (0xffffffff) is TR-181's infinite time.
func lifetime(now time.Time, secs int) string {
	if secs < 0 || uint32(secs) == 1<<32-1 {
		return "9999-12-31T23:59:59Z"
	}
	return now.Add(time.Duration(secs) * time.Second).UTC().Format(time.RFC3339)
}

// readEthernet reads Device.Ethernet.Interface.{i}. and their Stats.
func (h *Host) readEthernet(ctx context.Context, b *builder) error {
	ls, err := h.links()
	if err != nil {
		return err
	}
	b.table(tableEthernet)
	lc := h.ethChanges
	for _, l := range ls {
		if !isEthernet(l) {
			continue
		}
		a := l.Attrs()
		st := status(l)
		p := map[string]string{
			"Enable": strconv.FormatBool(a.Flags&net.FlagUp != 0), "Status": st, "Alias": "", "Name": a.Name,
			"LastChange": lc.seconds(a.Name, st, b.now), "LowerLayers": "", "Upstream": "false",
			"MACAddress": a.HardwareAddr.String(),
		}
		if speed, ok := h.speed(a.Name); ok {
			p["MaxBitRate"] = strconv.Itoa(speed)
			p["CurrentBitRate"] = strconv.Itoa(speed)
		} else {
			p["MaxBitRate"] = "-1" // auto
		}
		p["DuplexMode"] = h.duplex(a.Name)
		if path := b.row(tableEthernet, a.Name, p); path != "" {
			b.obj(path+"Stats.", stats(l))
		}
	}
	return nil
}

// speed is the link speed in Mbit/s that the kernel reports, when it
// knows one.
func (h *Host) speed(name string) (int, bool) {
	if h.opt.Netns != "" {
		return 0, false // /sys/class/net is the Agent's namespace's
	}
	b, err := os.ReadFile("/sys/class/net/" + name + "/speed")
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil && n > 0
}

// duplex is TR-181's DuplexMode of a link.
func (h *Host) duplex(name string) string {
	if h.opt.Netns == "" {
		b, _ := os.ReadFile("/sys/class/net/" + name + "/duplex")
		switch strings.TrimSpace(string(b)) {
		case "full":
			return "Full"
		case "half":
			return "Half"
		}
	}
	return "Auto"
}
