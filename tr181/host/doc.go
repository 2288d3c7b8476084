// Package host provides the TR-181 objects that describe the Linux host
// an Agent runs on, read live through netlink (github.com/vishvananda/netlink)
// and from /proc, /sys and /etc:
//
//   - Device.IP.Interface.{i}. with IPv4Address.{i}., IPv6Address.{i}.
//     and Stats. (every link, loopback included);
//   - Device.Ethernet.Interface.{i}. and Stats. (Ethernet devices and
//     veth ends);
//   - Device.Hosts.Host.{i}. with IPv4Address.{i}. and IPv6Address.{i}.,
//     one per link-layer address of the neighbour tables (ARP and NDP);
//   - Device.DNS.Client. and Server.{i}. from /etc/resolv.conf;
//   - Device.Routing.Router.1. with IPv4Forwarding.{i}. and
//     IPv6Forwarding.{i}. from the main routing table;
//   - Device.Time. (NTP servers from the host's NTP client configuration,
//     the kernel's synchronisation state, local time and POSIX TZ string).
//
// Each area is read at most once per Options.MaxAge however many Gets
// ask. Instance numbers are keyed by what identifies a row on the host
// (an interface name, a MAC address, an address, a route) and stay the
// row's while it exists; Options.State keeps them across restarts
// [R-ARC.8]. Host.Run reads the areas some subscription watches every
// Options.Interval and announces rows that appeared or vanished, which
// an Agent turns into ObjectCreation and ObjectDeletion notifications
// (agent.Agent.Announce, agent.Agent.Watching).
// The objects are read-only: Set, Add and Delete are refused.
//
//	m := schema.New()
//	agent.Define(m)
//	host.Define(m)
//	h, err := host.New(&host.Options{State: "/var/lib/usp/host.json"})
//	mux := datamodel.NewMux(m)
//	h.Register(mux)
//	a, err := agent.New(ctx, agent.Options{Mux: mux, ...})
//	go h.Run(ctx, a)
package host
