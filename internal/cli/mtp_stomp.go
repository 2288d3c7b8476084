//go:build !usp_nostomp

package cli

import (
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/stomp"
	"github.com/uspkit/uspkit/record"
)

// The STOMP MTP, which an agent built with usp_nostomp leaves out
// (mtp_nostomp.go).

// stompMTP is a STOMP client of the configuration file (buildMTP).
func stompMTP(self string, mc mtpConfig, onState mtp.StateFunc, trust *agent.TrustStore, log *slog.Logger) (agent.MTP, error) {
	m := agent.MTP{Protocol: mc.Protocol}
	tc, err := mc.TLS.build(false)
	if err != nil {
		return m, err
	}
	tc = trust.ClientTLS(tc)
	m.Transport = stomp.NewClient(&stomp.Options{Addr: mc.Addr, TLS: tc, VirtualHost: mc.VirtualHost, Username: mc.Username,
		Password: mc.Password, EndpointID: self, Destination: mc.Destination, MaxRecord: mc.MaxRecord, OnState: onState, Logger: log,
		OutgoingHeartbeat: 30 * time.Second, IncomingHeartbeat: 30 * time.Second})
	dest := mc.Destination
	m.Connect = func(to string) *record.Record { return record.NewSTOMPConnect(to, self, dest) }
	return m, nil
}

// dialSTOMP opens the STOMP connection of a Device.LocalAgent.Controller
// MTP (dialer.Dial).
func (d *dialer) dialSTOMP(c *agent.Connection, local mtpConfig) (agent.MTP, error) {
	m := agent.MTP{Protocol: c.Protocol}
	self := d.self
	cs := c.STOMP
	tc, err := d.clientTLS(local.TLS, cs.EnableEncryption, cs.Host)
	if err != nil {
		return m, err
	}
	dest := cs.Destination
	m.Transport = stomp.NewClient(&stomp.Options{Addr: net.JoinHostPort(cs.Host, strconv.Itoa(int(cs.Port))), TLS: tc,
		VirtualHost: cs.VirtualHost, Username: cs.Username, Password: cs.Password, EndpointID: self, Destination: dest,
		OutgoingHeartbeat: cs.OutgoingHeartbeat, IncomingHeartbeat: cs.IncomingHeartbeat, MaxRecord: local.MaxRecord,
		MinWait: cs.Retry.MinWait, Multiplier: cs.Retry.Multiplier, MaxWait: cs.Retry.MaxWait, OnState: c.OnState, Logger: d.log})
	m.Connect = func(to string) *record.Record { return record.NewSTOMPConnect(to, self, dest) }
	return m, nil
}
