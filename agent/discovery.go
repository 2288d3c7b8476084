package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/discovery"
)

// DiscoveredController is a Controller the Agent learned of through
// discovery (TR-369 "Discovery and Advertisement"): a DHCP server's vendor
// options or an mDNS advertisement. Values are strings as received
// [R-DIS.1a].
type DiscoveredController struct {
	// Alias names the Device.LocalAgent.Controller entry kept for this
	// source ("cpe-dhcp"), whatever Controller the source names next; it
	// must start with "cpe-". "" means an entry per Endpoint ID, with an
	// Alias the Agent assigns. An entry with the same EndpointID is used
	// first either way.
	Alias string
	// EndpointID is the Controller's Endpoint ID; "" keeps the entry's.
	EndpointID string
	// Protocol is the MTP to reach it over: "WebSocket", "MQTT", "STOMP",
	// or "" for none (only the provisioning values below).
	Protocol string
	// Host and Port locate the Controller's WebSocket server, or the MQTT
	// broker or STOMP server it is reached through.
	Host string
	Port uint32
	// Path is the WebSocket resource path, the Controller's MQTT topic or
	// its STOMP destination (the DNS-SD "path" attribute).
	Path string
	// Encrypt asks for MTP encryption (the DNS-SD "encrypt" attribute, a
	// wss:// or mqtts:// URL).
	Encrypt bool
	// ProvisioningCode, RetryMinimumWaitInterval and
	// RetryIntervalMultiplier fill the entry's parameters of the same
	// names (USPNotifRetry…); "" leaves them alone.
	ProvisioningCode         string
	RetryMinimumWaitInterval string
	RetryIntervalMultiplier  string
	// Role is the Name of the ControllerTrust Role a new entry gets ("Full
	// Access"); "" means ControllerTrust.UntrustedRole: the Role of a
	// discovered Controller is the Agent's to decide (TR-369 "Use of DHCP
	// for Acquiring Controller Information").
	Role string
}

// errDiscovered is wrapped by Discovered's errors about its input.
var errDiscovered = errors.New("discovered controller")

// Discovered records a discovered Controller in the data model: the
// Device.LocalAgent.Controller entry [R-DIS.0] with its provisioning
// values, the Controller's MTP entry and, for MQTT and STOMP, a
// Device.MQTT.Client or Device.STOMP.Connection with a Device.LocalAgent.MTP
// to reach it when none already goes to that server. The Agent then
// connects as for any configured Controller. A value the data model
// refuses (a multiplier below 1000) is logged and left out. It returns the
// Controller entry's path. Calls for the same Controller are to be made one
// at a time (one discovery loop per source).
func (a *Agent) Discovered(ctx context.Context, d DiscoveredController) (string, error) {
	if d.Alias != "" && !strings.HasPrefix(d.Alias, "cpe-") {
		return "", fmt.Errorf("%w: alias %q does not start with cpe-", errDiscovered, d.Alias)
	}
	switch d.Protocol {
	case "", "WebSocket", "MQTT", "STOMP":
	default:
		return "", fmt.Errorf("%w: protocol %q", errDiscovered, d.Protocol)
	}
	if d.Protocol != "" && (d.Host == "" || d.Port == 0) {
		return "", fmt.Errorf("%w: %s without host and port", errDiscovered, d.Protocol)
	}
	ctrl, err := a.discoveredEntry(ctx, d)
	if err != nil {
		return "", err
	}
	for name, v := range map[string]string{"ProvisioningCode": d.ProvisioningCode, "USPNotifRetryMinimumWaitInterval": d.RetryMinimumWaitInterval,
		"USPNotifRetryIntervalMultiplier": d.RetryIntervalMultiplier} {
		if v == "" {
			continue
		}
		if _, err := a.eng.Set(ctx, agentCaller, false, []datamodel.UpdateObject{{Path: ctrl, Params: ps(name, v)}}); err != nil {
			a.log.WarnContext(ctx, "discovered value refused", "path", ctrl+name, "value", v, "err", err)
		}
	}
	if d.Protocol == "" {
		return ctrl, nil
	}
	if err := a.discoveredMTP(ctx, ctrl, d); err != nil {
		return ctrl, err
	}
	if d.Protocol == "MQTT" || d.Protocol == "STOMP" {
		if err := a.discoveredLink(ctx, d); err != nil {
			return ctrl, err
		}
	}
	a.log.InfoContext(ctx, "discovered controller", "path", ctrl, "controller", d.EndpointID, "protocol", d.Protocol, "host", d.Host, "port", d.Port)
	return ctrl, nil
}

// discoveredEntry finds or adds the Controller entry.
func (a *Agent) discoveredEntry(ctx context.Context, d DiscoveredController) (string, error) {
	rows := a.rows(ctx, pathControllers)
	var byAlias string
	for _, p := range sortedInstances(rows, pathControllers) {
		if d.EndpointID != "" && rows[p]["EndpointID"] == d.EndpointID {
			return p, nil
		}
		if d.Alias != "" && rows[p]["Alias"] == d.Alias && byAlias == "" {
			byAlias = p
		}
	}
	if byAlias != "" {
		if d.EndpointID != "" {
			if _, err := a.eng.Set(ctx, agentCaller, false, []datamodel.UpdateObject{{Path: byAlias, Params: ps("EndpointID", d.EndpointID)}}); err != nil {
				return "", fmt.Errorf("%w: %w", errDiscovered, err)
			}
		}
		return byAlias, nil
	}
	role := a.rows(ctx, pathTrust)[pathTrust]["UntrustedRole"]
	if d.Role != "" {
		roles := a.rows(ctx, pathRoles)
		role = ""
		for _, p := range sortedInstances(roles, pathRoles) {
			if roles[p]["Name"] == d.Role {
				role = strings.TrimSuffix(p, ".")
				break
			}
		}
		if role == "" {
			return "", fmt.Errorf("%w: no role named %q", errDiscovered, d.Role)
		}
	}
	settings := ps("EndpointID", d.EndpointID, "Enable", "true", "AssignedRole", role)
	if d.Alias != "" {
		settings = append(settings, ps("Alias", d.Alias)...)
	}
	res, err := a.eng.Add(ctx, agentCaller, false, []datamodel.CreateObject{{Path: pathControllers, Params: settings}})
	if err != nil {
		return "", fmt.Errorf("%w: %w", errDiscovered, err)
	}
	return res[0].Path, nil
}

// discoveredMTP adds or updates the Controller's MTP entry of d's protocol.
func (a *Agent) discoveredMTP(ctx context.Context, ctrl string, d DiscoveredController) error {
	var sub map[string]string
	switch d.Protocol {
	case "WebSocket":
		sub = map[string]string{"WebSocket.Host": d.Host, "WebSocket.Port": strconv.FormatUint(uint64(d.Port), 10), "WebSocket.Path": d.Path,
			"WebSocket.EnableEncryption": strconv.FormatBool(d.Encrypt)}
	case "MQTT":
		sub = map[string]string{"MQTT.Topic": d.Path}
	case "STOMP":
		sub = map[string]string{"STOMP.Destination": d.Path}
	}
	rows := a.rows(ctx, ctrl+"MTP.")
	for _, p := range sortedInstances(rows, ctrl+"MTP.") {
		if rows[p]["Protocol"] != d.Protocol {
			continue
		}
		_, err := a.eng.Set(ctx, agentCaller, false, []datamodel.UpdateObject{{Path: p, Params: append(ps("Enable", "true"), sortedSettings(sub)...)}})
		if err != nil {
			return fmt.Errorf("%w: %w", errDiscovered, err)
		}
		return nil
	}
	_, err := a.eng.Add(ctx, agentCaller, false, []datamodel.CreateObject{{Path: ctrl + "MTP.",
		Params: append(ps("Enable", "true", "Protocol", d.Protocol), sortedSettings(sub)...)}})
	if err != nil {
		return fmt.Errorf("%w: %w", errDiscovered, err)
	}
	return nil
}

// discoveredLink makes sure that an enabled Device.LocalAgent.MTP goes to
// the MQTT broker or STOMP server of d, adding one with its connection.
func (a *Agent) discoveredLink(ctx context.Context, d DiscoveredController) error {
	table, hostParam, portParam := pathMQTTClients, "BrokerAddress", "BrokerPort"
	if d.Protocol == "STOMP" {
		table, hostParam, portParam = pathSTOMPConns, "Host", "Port"
	}
	rows := a.rows(ctx, pathLocalAgentMT)
	maps.Copy(rows, a.rows(ctx, table))
	port := strconv.FormatUint(uint64(d.Port), 10)
	for _, p := range sortedInstances(rows, pathLocalAgentMT) {
		if rows[p]["Protocol"] != d.Protocol || rows[p]["Enable"] != "true" {
			continue
		}
		cn := rows[refRow(rows[p+d.Protocol+"."]["Reference"])]
		if cn != nil && strings.EqualFold(cn[hostParam], d.Host) && cn[portParam] == port {
			return nil
		}
	}
	alias := "cpe-discovered-" + strconv.Itoa(len(sortedInstances(rows, pathLocalAgentMT))+1)
	conn := ps("Alias", alias, "Enable", "true", hostParam, d.Host, portParam, port, "EnableEncryption", strconv.FormatBool(d.Encrypt))
	if d.Protocol == "MQTT" {
		transport := "TCP/IP"
		if d.Encrypt {
			transport = "TLS"
		}
		conn = append(conn, ps("ProtocolVersion", "5.0", "TransportProtocol", transport)...)
	}
	res, err := a.eng.Add(ctx, agentCaller, false, []datamodel.CreateObject{{Path: table, Params: conn}})
	if err != nil {
		return fmt.Errorf("%w: %w", errDiscovered, err)
	}
	mt := ps("Alias", alias, "Enable", "true", "Protocol", d.Protocol, d.Protocol+".Reference", strings.TrimSuffix(res[0].Path, "."))
	if d.Protocol == "MQTT" {
		// The Agent's own topic, in case the broker assigns none.
		mt = append(mt, ps("MQTT.ResponseTopicConfigured", discoveredTopic(a.opt.EndpointID))...)
	}
	if _, err := a.eng.Add(ctx, agentCaller, false, []datamodel.CreateObject{{Path: pathLocalAgentMT, Params: mt}}); err != nil {
		return fmt.Errorf("%w: %w", errDiscovered, err)
	}
	return nil
}

// AliasDHCP is the Alias of the Controller entry that DHCP discovery fills.
const AliasDHCP = "cpe-dhcp"

// FromDHCP turns the BBF vendor options of a DHCP lease into the
// Controller entry AliasDHCP (TR-369 "DHCP Options for Controller
// Discovery"): the URL's MTP, the Endpoint ID, ProvisioningCode and the
// USPNotifRetry values, all as received [R-DIS.1a]. A bare FQDN (no
// scheme) leaves the MTP unknown [R-DIS.7].
func FromDHCP(v discovery.VendorInfo) (DiscoveredController, error) {
	d := DiscoveredController{Alias: AliasDHCP, EndpointID: v.EndpointID, ProvisioningCode: v.ProvisioningCode,
		RetryMinimumWaitInterval: v.RetryMinimumWaitInterval, RetryIntervalMultiplier: v.RetryIntervalMultiplier}
	if v.ControllerURL == "" {
		return d, nil
	}
	e, err := discovery.ParseControllerURL(v.ControllerURL)
	if err != nil {
		return d, err
	}
	d.Protocol, d.Host, d.Port, d.Path, d.Encrypt = e.Protocol, e.Host, uint32(e.Port), e.Path, e.Encrypt
	return d, nil
}

// FromService turns a Controller's DNS-SD service into a discovered
// Controller with an entry of its own: its Endpoint ID is the instance
// name [R-DIS.8], the SRV target and port locate its WebSocket server or
// its broker [R-MQTT.38] [R-STOMP.32], and "path" and "encrypt" come from
// its TXT record [R-DIS.11] [R-DIS.11a].
func FromService(s discovery.Service) (DiscoveredController, error) {
	if !s.IsController() || s.Instance == "" || s.Port == 0 {
		return DiscoveredController{}, fmt.Errorf("%w: %s is not a Controller's service", errDiscovered, s.InstanceName())
	}
	host := s.Host
	if len(s.Addrs) > 0 {
		// An IPv4 address first: a link-local IPv6 one only works on its
		// interface.
		host = s.Addrs[0].String()
		for _, a := range s.Addrs {
			if a.Is4() {
				host = a.String()
				break
			}
		}
	}
	return DiscoveredController{EndpointID: s.Instance, Protocol: s.Protocol(), Host: host, Port: uint32(s.Port),
		Path: s.Path, Encrypt: s.Encrypt}, nil
}

// discoveredTopic is the reply-to topic of an MQTT client the Agent opens
// for a discovered broker: "usp/agent/<Endpoint ID>", with the MQTT
// wildcards replaced.
func discoveredTopic(id string) string {
	return "usp/agent/" + strings.NewReplacer("+", "_", "#", "_").Replace(id)
}
