package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	mqtt311 "github.com/eclipse/paho.mqtt.golang"
)

// dial opens the network connection to the server b: TCP, TLS over TCP,
// or a WebSocket (over TLS for wss://) speaking the "mqtt" subprotocol. It
// returns the server's verified chain when TLS is on.
func dial(ctx context.Context, b broker, cfg *tls.Config, timeout time.Duration) (net.Conn, []*x509.Certificate, error) {
	if b.tls {
		cfg = tlsConfig(cfg, b.url.Hostname())
	}
	if b.ws {
		return dialWS(ctx, b, cfg, timeout)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", b.addr)
	if err != nil {
		return nil, nil, fmt.Errorf("mqtt: dial %s: %w", b.addr, err)
	}
	if !b.tls {
		return nc, nil, nil
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("mqtt: TLS with %s: %w", b.addr, err)
	}
	return tc, serverChain(tc.ConnectionState()), nil
}

// dialWS opens an MQTT over WebSocket connection with the WebSocket
// adapter of the MQTT 3.1.1 library, which offers the "mqtt" subprotocol.
// That adapter takes no context: ctx bounds the handshake only through
// timeout and is checked once it is done.
func dialWS(ctx context.Context, b broker, cfg *tls.Config, timeout time.Duration) (net.Conn, []*x509.Certificate, error) {
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	u := *b.url
	if b.tls {
		u.Scheme = "wss"
	}
	nc, err := mqtt311.NewWebsocket(u.String(), cfg, timeout, nil, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("mqtt: WebSocket to %s: %w", u.Redacted(), err)
	}
	if err := ctx.Err(); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("mqtt: WebSocket to %s: %w", u.Redacted(), err)
	}
	var certs []*x509.Certificate
	if under, ok := nc.(interface{ NetConn() net.Conn }); ok {
		if tc, ok := under.NetConn().(*tls.Conn); ok {
			certs = serverChain(tc.ConnectionState())
		}
	}
	return nc, certs, nil
}

// tlsConfig returns a copy of cfg (nil means the system roots) with its
// ServerName defaulted to host and at least TLS 1.2 [R-MQTT.48].
func tlsConfig(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// serverChain returns the verified chain of a TLS connection, leaf first,
// or the certificates the server sent when verification was skipped.
func serverChain(cs tls.ConnectionState) []*x509.Certificate {
	if len(cs.VerifiedChains) > 0 {
		return cs.VerifiedChains[0]
	}
	return cs.PeerCertificates
}
