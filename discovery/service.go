package discovery

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// The DNS-SD service types that BBF registered for USP (TR-369
// "IANA-Registered USP Service Names"), as "_<Service Name>._<Transport>".
const (
	AgentCoAP           = "_usp-agt-coap._udp"
	AgentMQTT           = "_usp-agt-mqtt._tcp"
	AgentSTOMP          = "_usp-agt-stomp._tcp"
	AgentWebSocket      = "_usp-agt-ws._tcp"
	ControllerCoAP      = "_usp-ctr-coap._udp"
	ControllerMQTT      = "_usp-ctr-mqtt._tcp"
	ControllerSTOMP     = "_usp-ctr-stomp._tcp"
	ControllerWebSocket = "_usp-ctr-ws._tcp"
)

// domain is the mDNS domain [R-DIS.5].
const domain = "local."

// ttl values of RFC 6762 section 10: host names and SRV 120 s, others 75 min.
const (
	hostTTL  = 120
	otherTTL = 4500
)

// ServiceType returns the service type of a USP Endpoint over a TR-181 MTP
// protocol ("WebSocket", "MQTT", "STOMP", "CoAP"), or "" for one that has
// none (UDS).
func ServiceType(controller bool, protocol string) string {
	t := map[string][2]string{
		"WebSocket": {AgentWebSocket, ControllerWebSocket},
		"MQTT":      {AgentMQTT, ControllerMQTT},
		"STOMP":     {AgentSTOMP, ControllerSTOMP},
		"CoAP":      {AgentCoAP, ControllerCoAP},
	}[protocol]
	if controller {
		return t[1]
	}
	return t[0]
}

// Protocol returns the TR-181 MTP protocol of a service type and whether
// it is a Controller's; "" for a type that is not USP's.
func Protocol(serviceType string) (protocol string, controller bool) {
	for _, p := range []string{"WebSocket", "MQTT", "STOMP", "CoAP"} {
		if ServiceType(false, p) == serviceType {
			return p, false
		}
		if ServiceType(true, p) == serviceType {
			return p, true
		}
	}
	return "", false
}

// Service is one DNS-SD service instance: a USP Endpoint reachable over one
// MTP.
type Service struct {
	// Instance is the USP Endpoint ID, the Service Instance Name [R-DIS.8].
	Instance string
	// Type is the service type, one of the constants above.
	Type string
	// Subtypes are functional groupings ("_gateway", "_iot-device"), each
	// advertised as "<subtype>._sub.<Type>.local." pointing at the
	// instance.
	Subtypes []string
	// Host is the SRV target; "" means a name made of the Endpoint ID in
	// ".local.". For MQTT and STOMP it is the broker's host
	// [R-MQTT.38] [R-STOMP.32].
	Host string
	// Port is the SRV port.
	Port uint16
	// Addrs are Host's addresses (A and AAAA records); when empty the
	// responder answers with the addresses of the interface it answers on.
	Addrs []netip.Addr
	// Path is the TXT "path" attribute: the WebSocket resource path
	// [R-WS.3], the MQTT topic [R-MQTT.36] [R-MQTT.37], the STOMP
	// destination [R-STOMP.31]; required for every Endpoint [R-DIS.9]
	// [R-DIS.11].
	Path string
	// Name is the TXT "name" attribute, an Agent's FriendlyName
	// [R-DIS.9] [R-DIS.10]; "" leaves it out of a Controller's record.
	Name string
	// Encrypt says that the service requires MTP encryption: a "encrypt"
	// attribute without value [R-DIS.11a].
	Encrypt bool
	// Text holds other TXT attributes, "key=value" or "key".
	Text []string
}

// IsController says whether the service is a Controller's.
func (s *Service) IsController() bool {
	_, c := Protocol(s.Type)
	return c
}

// Protocol is the service's TR-181 MTP protocol ("MQTT").
func (s *Service) Protocol() string {
	p, _ := Protocol(s.Type)
	return p
}

// InstanceName is the service instance's full name,
// "<Instance>.<Type>.local." with dots in the Endpoint ID escaped.
func (s *Service) InstanceName() string {
	return escapeLabel(s.Instance) + "." + s.Type + "." + domain
}

// hostName is the SRV target.
func (s *Service) hostName() string {
	if s.Host != "" && !isIP(s.Host) {
		return dns.Fqdn(s.Host)
	}
	return hostLabel(s.Instance) + "." + domain
}

// check says what is wrong with a service to advertise.
func (s *Service) check() error {
	switch {
	case s.Instance == "":
		return fmt.Errorf("discovery: a service without an instance (the Endpoint ID) [R-DIS.8]")
	case len(s.Instance) > 63:
		return fmt.Errorf("discovery: instance %q is longer than a DNS label (63 bytes)", s.Instance)
	case s.Type == "" || strings.Count(s.Type, ".") != 1 || !strings.HasPrefix(s.Type, "_"):
		return fmt.Errorf("discovery: service type %q is not _<name>._<tcp|udp>", s.Type)
	case s.Port == 0:
		return fmt.Errorf("discovery: service %s has no port", s.InstanceName())
	}
	return nil
}

// txt is the TXT record's strings: path, then name, then encrypt, then the
// others [R-DIS.9] [R-DIS.11] [R-DIS.11a].
func (s *Service) txt() []string {
	out := []string{"path=" + s.Path}
	if s.Name != "" {
		out = append(out, "name="+s.Name)
	}
	if s.Encrypt {
		out = append(out, "encrypt")
	}
	return append(out, s.Text...)
}

// setTXT fills the attributes from a TXT record. Keys are case-insensitive
// (RFC 6763 section 6.4); the first occurrence wins.
func (s *Service) setTXT(txt []string) {
	seen := map[string]bool{}
	s.Path, s.Name, s.Encrypt, s.Text = "", "", false, nil
	for _, kv := range txt {
		k, v, hasValue := strings.Cut(kv, "=")
		k = strings.ToLower(k)
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		switch {
		case k == "path" && hasValue:
			s.Path = v
		case k == "name" && hasValue:
			s.Name = v
		case k == "encrypt":
			s.Encrypt = true
		default:
			s.Text = append(s.Text, kv)
		}
	}
}

// TXT returns the value of a TXT attribute, whether present.
func (s *Service) TXT(key string) (string, bool) {
	switch strings.ToLower(key) {
	case "path":
		return s.Path, true
	case "name":
		return s.Name, s.Name != ""
	case "encrypt":
		return "", s.Encrypt
	}
	for _, kv := range s.Text {
		k, v, _ := strings.Cut(kv, "=")
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// escapeLabel escapes a label for miekg/dns's text form of names.
func escapeLabel(l string) string {
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		switch c := l[i]; {
		case c == '.' || c == '\\' || c == '(' || c == ')' || c == ';' || c == ' ' || c == '"' || c == '@' || c == '$':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeLabel undoes escapeLabel (and miekg/dns's own escapes).
func unescapeLabel(l string) string {
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c != '\\' || i+1 >= len(l) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(l) && isDigit(l[i+1]) && isDigit(l[i+2]) && isDigit(l[i+3]) {
			n := int(l[i+1]-'0')*100 + int(l[i+2]-'0')*10 + int(l[i+3]-'0')
			if n < 256 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		i++
		b.WriteByte(l[i])
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// splitInstance splits "<Instance>.<Type>.local." into the unescaped
// instance and the type; ok is false for another shape.
func splitInstance(name string) (instance, typ string, ok bool) {
	for i := 0; i < len(name); i++ {
		if name[i] == '\\' {
			i++
			continue
		}
		if name[i] == '.' {
			rest := strings.ToLower(name[i+1:])
			t, found := strings.CutSuffix(rest, "."+domain)
			if !found || strings.Count(t, ".") != 1 {
				return "", "", false
			}
			return unescapeLabel(name[:i]), t, true
		}
	}
	return "", "", false
}

// hostLabel makes a host name label of an Endpoint ID: letters, digits and
// hyphens, at most 63.
func hostLabel(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) > 63 {
		b = b[:63]
	}
	return string(b)
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// key is a text form of everything the service says, to notice changes.
func (s *Service) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%d|%v|%q", s.Instance, s.Type, s.Host, s.Port, s.Addrs, s.txt())
	return b.String()
}

// isLocal says whether a host name is in ".local.", which mDNS resolves
// [R-DIS.5].
func isLocal(host string) bool {
	return strings.HasSuffix(strings.ToLower(strings.TrimSuffix(host, ".")), ".local")
}
