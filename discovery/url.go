package discovery

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Endpoint is where a Controller URL from DHCP points.
type Endpoint struct {
	// Protocol is the TR-181 MTP protocol ("WebSocket", "MQTT", "STOMP"),
	// or "" for a bare FQDN, whose MTP DNS-SD has to tell [R-DIS.7].
	Protocol string
	// Host and Port are the WebSocket server's, the MQTT broker's or the
	// STOMP server's.
	Host string
	Port uint16
	// Path is the WebSocket resource path, the MQTT topic or the STOMP
	// destination.
	Path string
	// Encrypt is set by a TLS scheme (wss, mqtts, ssl, tls, stomps).
	Encrypt bool
}

// ParseControllerURL reads the Controller URL or FQDN of DHCP option 25
// as absolute [R-DIS.1b]: ws:// and wss:// are WebSocket; mqtt://, tcp://,
// mqtts://, ssl:// and tls:// MQTT, whose path is the Controller's topic;
// stomp:// and stomps:// STOMP, whose path is its destination. A name
// without scheme is a bare FQDN.
func ParseControllerURL(s string) (Endpoint, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Endpoint{}, fmt.Errorf("controller url: empty")
	}
	if !strings.Contains(s, "://") {
		host := strings.TrimSuffix(s, ".")
		if host == "" || strings.ContainsAny(host, "/ ?#@") {
			return Endpoint{}, fmt.Errorf("controller url %q: neither a URL nor an FQDN", s)
		}
		return Endpoint{Host: host}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return Endpoint{}, fmt.Errorf("controller url: %w", err)
	}
	e := Endpoint{Host: u.Hostname(), Path: u.EscapedPath()}
	if u.RawPath == "" {
		e.Path = u.Path
	}
	var port int
	switch strings.ToLower(u.Scheme) {
	case "ws":
		e.Protocol, port = "WebSocket", 80
	case "wss":
		e.Protocol, port, e.Encrypt = "WebSocket", 443, true
	case "mqtt", "tcp":
		e.Protocol, port = "MQTT", 1883
	case "mqtts", "ssl", "tls":
		e.Protocol, port, e.Encrypt = "MQTT", 8883, true
	case "stomp":
		e.Protocol, port = "STOMP", 61613
	case "stomps":
		e.Protocol, port, e.Encrypt = "STOMP", 61614, true
	default:
		return Endpoint{}, fmt.Errorf("controller url %q: scheme %q is not ws, wss, mqtt, mqtts, stomp or stomps", s, u.Scheme)
	}
	if e.Host == "" {
		return Endpoint{}, fmt.Errorf("controller url %q: no host", s)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return Endpoint{}, fmt.Errorf("controller url %q: port %q", s, p)
		}
		port = int(n)
	}
	e.Port = uint16(port)
	if e.Protocol == "MQTT" {
		e.Path = strings.TrimPrefix(e.Path, "/")
	}
	if e.Protocol == "WebSocket" && e.Path == "" {
		e.Path = "/"
	}
	return e, nil
}

// String is the Endpoint as a URL.
func (e Endpoint) String() string {
	if e.Protocol == "" {
		return e.Host
	}
	scheme := map[string][2]string{"WebSocket": {"ws", "wss"}, "MQTT": {"mqtt", "mqtts"}, "STOMP": {"stomp", "stomps"}}[e.Protocol]
	s := scheme[0]
	if e.Encrypt {
		s = scheme[1]
	}
	p := e.Path
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return s + "://" + net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port))) + p
}
