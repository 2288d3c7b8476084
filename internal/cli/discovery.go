//go:build !usp_nodiscovery

package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/tr181/gatewayinfo"
)

// discoveryConfig is the `discovery:` section of `usp agent`'s file: mDNS
// advertisement of the Agent's MTPs, mDNS browsing for Controllers, and a
// DHCP client's lease to take a Controller from.
type discoveryConfig struct {
	// Interface is the network interface for mDNS; "" means every
	// multicast interface that is up.
	Interface string `yaml:"interface"`
	// Port is the mDNS port; 0 means 5353.
	Port int `yaml:"port"`
	// Advertise announces the Agent's MTPs as its data model has them
	// (agent.Agent.Services): WebSocket servers (_usp-agt-ws._tcp), MQTT
	// topics (_usp-agt-mqtt._tcp) and STOMP destinations
	// (_usp-agt-stomp._tcp), and answers queries for them.
	Advertise bool `yaml:"advertise"`
	// Refresh is how often the advertised services are compared with the
	// data model, and advertised again when they changed; 0 means 10s.
	Refresh time.Duration `yaml:"refresh"`
	// Name is the TXT "name" attribute; "" means the host name.
	Name string `yaml:"name"`
	// Subtypes are DNS-SD subtypes to advertise ("_gateway").
	Subtypes []string `yaml:"subtypes"`
	// Browse looks for Controllers (_usp-ctr-ws, -mqtt, -stomp) and adds
	// each one found to Device.LocalAgent.Controller.
	Browse bool `yaml:"browse"`
	// Role names the Role a discovered Controller gets; "" means
	// ControllerTrust.UntrustedRole.
	Role string `yaml:"role"`
	// DHCPLease is a DHCP client's lease (an ISC dhclient lease file, or
	// udhcpc/odhcp6c variables as NAME=value lines or JSON) read at start
	// and whenever it changes, for the Controller of the BBF vendor
	// options (DHCPv4 125, DHCPv6 17).
	DHCPLease string `yaml:"dhcp_lease"`
	// DHCPPoll is how often the lease is checked for changes; 0 means 5s.
	DHCPPoll time.Duration `yaml:"dhcp_poll"`
	// DNSServer ("host:port") answers the DNS-SD queries for a Controller
	// that DHCP names by a bare FQDN; "" means the lease's first DNS
	// server, else /etc/resolv.conf's first.
	DNSServer string `yaml:"dns_server"`
}

func (c *discoveryConfig) check() error {
	if c == nil {
		return nil
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("discovery.port: %d is not a port", c.Port)
	}
	if c.DHCPPoll < 0 || c.Refresh < 0 {
		return errors.New("discovery: dhcp_poll and refresh cannot be negative")
	}
	if !c.Advertise && !c.Browse && c.DHCPLease == "" {
		return errors.New("discovery: none of advertise, browse or dhcp_lease is set")
	}
	return nil
}

func (c *discoveryConfig) options(log *slog.Logger) *discovery.Options {
	return &discovery.Options{Interface: c.Interface, Port: c.Port, Logger: log}
}

// maxBrowsed bounds the Controllers one run of the agent records from mDNS,
// so that a host on the link cannot fill the data model (and open as many
// broker connections) by advertising many.
const maxBrowsed = 16

// startDiscovery runs what the discovery section asks for until ctx is
// done; the returned function stops it and waits.
func startDiscovery(ctx context.Context, c *discoveryConfig, a *agent.Agent, gw *gatewayinfo.Info, log *slog.Logger) (func(), error) {
	if c == nil {
		return func() {}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait() }
	if c.Advertise {
		name := c.Name
		if name == "" {
			name, _ = os.Hostname()
		}
		// The first advertisement is made here, so that a socket error
		// stops the start.
		adv := &advertiser{c: c, a: a, name: name, log: log}
		if err := adv.update(ctx); err != nil {
			cancel()
			return nil, err
		}
		wg.Go(func() { adv.run(ctx) })
	}
	g := &gateway{info: gw}
	recorded := map[string]bool{} // Endpoint IDs recorded from mDNS, at most maxBrowsed
	if c.Browse {
		// Agents' services too: the Gateway may be one [R-DIS.2d].
		types := []string{discovery.ControllerWebSocket, discovery.ControllerMQTT, discovery.ControllerSTOMP,
			discovery.AgentWebSocket, discovery.AgentMQTT, discovery.AgentSTOMP}
		wg.Go(func() {
			err := discovery.Browse(ctx, c.options(log), types, func(s discovery.Service) {
				if s.Port == 0 {
					log.Info("mdns: service withdrawn", "service", s.InstanceName())
					return
				}
				g.fromService(s)
				if !s.IsController() {
					return
				}
				d, err := agent.FromService(s)
				if err != nil {
					log.Warn("mdns: ignoring a service", "service", s.InstanceName(), "err", err)
					return
				}
				if !recorded[s.Instance] && len(recorded) >= maxBrowsed {
					log.Warn("mdns: too many controllers advertised; this one is ignored", "controller", s.Instance, "max", maxBrowsed)
					return
				}
				d.Role = c.Role
				if _, err := a.Discovered(ctx, d); err != nil {
					log.Warn("mdns: discovered controller not recorded", "controller", s.Instance, "err", err)
					return
				}
				recorded[s.Instance] = true
			})
			if err != nil && ctx.Err() == nil {
				log.Error("mdns: browsing stopped", "err", err)
			}
		})
	}
	if c.DHCPLease != "" {
		poll := c.DHCPPoll
		if poll == 0 {
			poll = 5 * time.Second
		}
		wg.Go(func() { watchLease(ctx, c, poll, a, g, log) })
	}
	return stop, nil
}

// watchLease applies the lease file's BBF options at start and whenever
// the file changes.
func watchLease(ctx context.Context, c *discoveryConfig, poll time.Duration, a *agent.Agent, gw *gateway, log *slog.Logger) {
	path := c.DHCPLease
	var last []byte
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			// No lease: no Gateway either [R-DIS.2c].
			gw.fromLease(gatewayinfo.Values{}, netip.Addr{})
			last = nil
		case err != nil:
			log.Warn("dhcp: reading the lease", "file", path, "err", err)
		case !bytes.Equal(b, last):
			last = b
			applyLease(ctx, b, c, a, gw, log)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func applyLease(ctx context.Context, b []byte, c *discoveryConfig, a *agent.Agent, gw *gateway, log *slog.Logger) {
	path := c.DHCPLease
	l, err := discovery.ReadLease(bytes.NewReader(b))
	if err != nil {
		log.Warn("dhcp: the lease's vendor options are not read", "file", path, "err", err)
		gw.fromLease(gatewayinfo.Values{}, netip.Addr{})
		return
	}
	v := l.Info()
	// [R-DIS.2c] the Gateway's identity, with CWMP as its protocol, or
	// empty strings when the lease has none.
	if g := v.Gateway; !g.IsZero() {
		gw.fromLease(gatewayinfo.Values{ManagementProtocol: "CWMP", ManufacturerOUI: g.ManufacturerOUI, ProductClass: g.ProductClass,
			SerialNumber: g.SerialNumber}, l.Server)
	} else {
		gw.fromLease(gatewayinfo.Values{}, l.Server)
	}
	if v.ControllerURL == "" && v.ProvisioningCode == "" && v.EndpointID == "" && v.RetryMinimumWaitInterval == "" && v.RetryIntervalMultiplier == "" {
		return
	}
	d, err := agent.FromDHCP(v)
	if err != nil {
		log.Warn("dhcp: controller URL", "file", path, "url", v.ControllerURL, "err", err)
	}
	if d.Protocol == "" && d.Host != "" {
		d = fromFQDN(ctx, c, d, l.DNS, log)
	}
	d.Role = c.Role
	p, err := a.Discovered(ctx, d)
	if err != nil {
		log.Warn("dhcp: discovered controller not recorded", "file", path, "err", err)
		return
	}
	log.Info("dhcp: controller from the lease", "file", path, "path", p, "controller", v.EndpointID, "url", v.ControllerURL)
}

// dnsTimeout bounds the DNS-SD lookups for a bare FQDN from DHCP.
const dnsTimeout = 15 * time.Second

// fromFQDN completes a Controller that DHCP named by a bare FQDN with its
// DNS-SD records over unicast DNS [R-DIS.7], preferring the instance of the
// Endpoint ID DHCP gave; without them d keeps only its provisioning values.
// The DNS server is dns_server, else the lease's first, else resolv.conf's.
func fromFQDN(ctx context.Context, c *discoveryConfig, d agent.DiscoveredController, leaseDNS []netip.Addr, log *slog.Logger) agent.DiscoveredController {
	ctx, cancel := context.WithTimeout(ctx, dnsTimeout)
	defer cancel()
	server := c.DNSServer
	if server == "" && len(leaseDNS) > 0 {
		server = netip.AddrPortFrom(leaseDNS[0], 53).String()
	}
	svcs, err := discovery.LookupDNS(ctx, server, d.Host, []string{discovery.ControllerWebSocket, discovery.ControllerMQTT, discovery.ControllerSTOMP})
	if err != nil || len(svcs) == 0 {
		log.Warn("dhcp: no DNS-SD records for the controller's FQDN", "fqdn", d.Host, "err", err)
		return d
	}
	pick := svcs[0]
	for _, s := range svcs {
		if s.Instance == d.EndpointID {
			pick = s
			break
		}
	}
	found, err := agent.FromService(pick)
	if err != nil {
		log.Warn("dhcp: DNS-SD records not used", "fqdn", d.Host, "err", err)
		return d
	}
	found.Alias, found.ProvisioningCode = d.Alias, d.ProvisioningCode
	found.RetryMinimumWaitInterval, found.RetryIntervalMultiplier = d.RetryMinimumWaitInterval, d.RetryIntervalMultiplier
	if d.EndpointID != "" {
		found.EndpointID = d.EndpointID
	}
	log.Info("dhcp: controller found with DNS-SD", "fqdn", d.Host, "service", pick.InstanceName())
	return found
}

// mdnsOptions are where mDNS runs when the section turns it on (advertise
// or browse), else nil.
func (c *discoveryConfig) mdnsOptions(log *slog.Logger) *discovery.Options {
	if c == nil || !c.Advertise && !c.Browse {
		return nil
	}
	return c.options(log)
}

// resolveTimeout bounds an mDNS resolution when a transport is opened.
const resolveTimeout = 5 * time.Second

// resolveLocal resolves a host name in ".local." with mDNS when the agent
// runs mDNS [R-DIS.5], preferring an IPv4 address; other names, and every
// name when mDNS is off, are left to the system resolver.
func (d *dialer) resolveLocal(ctx context.Context, host string) (string, error) {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if d.mdns == nil || !strings.HasSuffix(h, ".local") {
		return host, nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	as, err := discovery.Resolve(ctx, d.mdns, h)
	if err != nil {
		return "", fmt.Errorf("resolving %s with mDNS: %w", host, err)
	}
	best := as[0]
	for _, a := range as {
		if a.Is4() {
			best = a
			break
		}
	}
	d.log.Info("mdns: resolved", "host", host, "addr", best.String())
	return best.String(), nil
}

// gateway is what DHCP and mDNS say of the Gateway, for Device.GatewayInfo.
type gateway struct {
	info *gatewayinfo.Info

	mu     sync.Mutex
	dhcp   gatewayinfo.Values    // from the lease's Gateway options [R-DIS.2c]
	server netip.Addr            // the lease's DHCPv4 server
	usp    string                // the Endpoint ID of a USP service at server [R-DIS.2d]
	seen   map[netip.Addr]string // USP services' addresses, for a lease that comes later
}

// maxSeen bounds the addresses the gateway remembers.
const maxSeen = 256

// fromLease takes a new lease's Gateway values and server.
func (g *gateway) fromLease(v gatewayinfo.Values, server netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if server != g.server {
		g.usp = g.seen[server]
	}
	g.dhcp, g.server = v, server
	g.publish()
}

// fromService notes a USP service advertised from the DHCP server's
// address: the Gateway speaks USP with that Endpoint ID [R-DIS.2d].
func (g *gateway) fromService(s discovery.Service) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = map[netip.Addr]string{}
	}
	for _, a := range s.Addrs {
		if _, ok := g.seen[a]; ok || len(g.seen) < maxSeen {
			g.seen[a] = s.Instance
		}
	}
	if !g.server.IsValid() || !slices.Contains(s.Addrs, g.server) || g.usp == s.Instance {
		return
	}
	g.usp = s.Instance
	g.publish()
}

func (g *gateway) publish() {
	v := g.dhcp
	if g.usp != "" {
		v.ManagementProtocol, v.EndpointID = "USP", g.usp
	}
	if g.info != nil {
		g.info.Set(v)
	}
}

// advertiser keeps the Agent's mDNS advertisement in step with its data
// model: when the services change (a Controller moved the WebSocket port,
// the broker gave another topic), the old ones get their goodbyes and the
// new ones are announced.
type advertiser struct {
	c    *discoveryConfig
	a    *agent.Agent
	name string
	log  *slog.Logger
	r    *discovery.Responder
	key  string
}

func (v *advertiser) update(ctx context.Context) error {
	svcs := v.a.Services(ctx, v.name)
	for i := range svcs {
		svcs[i].Subtypes = v.c.Subtypes
	}
	key := fmt.Sprintf("%+v", svcs)
	if key == v.key {
		return nil
	}
	if v.r != nil {
		v.r.Close()
		v.r = nil
	}
	v.key = key
	if len(svcs) == 0 {
		v.log.Warn("mdns: no MTP to advertise (an enabled WebSocket server, MQTT client with a topic or STOMP client with a destination)")
		return nil
	}
	r, err := discovery.Advertise(ctx, v.c.options(v.log), svcs...)
	if err != nil {
		v.key = ""
		return err
	}
	v.r = r
	for _, s := range svcs {
		v.log.Info("mdns: advertising", "service", s.InstanceName(), "host", s.Host, "port", s.Port, "path", s.Path)
	}
	return nil
}

func (v *advertiser) run(ctx context.Context) {
	every := v.c.Refresh
	if every == 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if v.r != nil {
				v.r.Close()
			}
			return
		case <-t.C:
			if err := v.update(ctx); err != nil {
				v.log.Warn("mdns: advertising", "err", err)
			}
		}
	}
}
