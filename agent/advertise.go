package agent

import (
	"context"
	"maps"
	"strconv"
	"strings"

	"github.com/uspkit/uspkit/discovery"
)

// Services returns the DNS-SD services of the Agent's enabled MTPs, as the
// data model has them now, for an mDNS responder: a WebSocket server with
// its port, path and encryption [R-WS.3]; an MQTT client with its reply-to
// topic at its broker [R-MQTT.36] [R-MQTT.38]; a STOMP client with its
// destination at its server [R-STOMP.31] [R-STOMP.32]. Each is named by
// the Endpoint ID [R-DIS.8] and carries name [R-DIS.9] and encrypt
// [R-DIS.11a]. Transports handed in as Options.MTPs are not in it.
func (a *Agent) Services(ctx context.Context, name string) []discovery.Service {
	rows := a.rows(ctx, pathLocalAgentMT)
	maps.Copy(rows, a.rows(ctx, pathMQTTClients))
	maps.Copy(rows, a.rows(ctx, pathSTOMPConns))
	var out []discovery.Service
	for _, path := range sortedInstances(rows, pathLocalAgentMT) {
		p := rows[path]
		if p["Enable"] != "true" || strings.HasPrefix(p["Alias"], fixedAlias) {
			continue
		}
		s := discovery.Service{Instance: a.opt.EndpointID, Type: discovery.ServiceType(false, p["Protocol"]), Name: name}
		var port string
		switch p["Protocol"] {
		case "WebSocket":
			w := rows[path+"WebSocket."]
			port, s.Path, s.Encrypt = w["Port"], w["Path"], w["EnableEncryption"] == "true"
		case "MQTT":
			m := rows[path+"MQTT."]
			cl := rows[refRow(m["Reference"])]
			s.Path = m["ResponseTopicDiscovered"]
			if s.Path == "" {
				s.Path = m["ResponseTopicConfigured"]
			}
			if cl == nil || cl["Enable"] != "true" || s.Path == "" {
				continue
			}
			s.Host, port, s.Encrypt = cl["BrokerAddress"], cl["BrokerPort"], cl["EnableEncryption"] == "true"
		case "STOMP":
			st := rows[path+"STOMP."]
			cn := rows[refRow(st["Reference"])]
			s.Path = st["DestinationFromServer"]
			if s.Path == "" {
				s.Path = st["Destination"]
			}
			if cn == nil || cn["Enable"] != "true" || s.Path == "" {
				continue
			}
			s.Host, port, s.Encrypt = cn["Host"], cn["Port"], cn["EnableEncryption"] == "true"
		default:
			continue
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			continue
		}
		s.Port = uint16(n)
		out = append(out, s)
	}
	return out
}
