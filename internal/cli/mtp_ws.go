//go:build !usp_nows

package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/record"
)

// The WebSocket MTP, client and server, which an agent built with
// usp_nows leaves out (mtp_nows.go).

// wsMTP is a WebSocket client or server of the configuration file
// (buildMTP).
func wsMTP(ctx context.Context, self string, mc mtpConfig, onState mtp.StateFunc, trust *agent.TrustStore, log *slog.Logger) (agent.MTP, error) {
	m := agent.MTP{Protocol: mc.Protocol}
	tc, err := mc.TLS.build(mc.Listen != "")
	if err != nil {
		return m, err
	}
	if mc.Listen != "" {
		tc = trust.ServerTLS(tc)
	} else {
		tc = trust.ClientTLS(tc)
	}
	o := &ws.Options{EndpointID: self, URL: mc.URL, Path: mc.Path, TLS: tc, MaxRecord: mc.MaxRecord, OnState: onState, Logger: log}
	if mc.Listen != "" {
		srv, err := ws.Listen(ctx, mc.Listen, o)
		if err != nil {
			return m, err
		}
		log.Info("websocket server", "addr", srv.Addr().String())
		m.Transport = srv
	} else {
		m.Transport = ws.NewClient(o)
		m.Connect = func(to string) *record.Record { return record.NewWebSocketConnect(to, self) }
	}
	return m, nil
}

// dialWSClient opens the WebSocket client connection to a Controller of
// the data model (dialer.Dial).
func (d *dialer) dialWSClient(c *agent.Connection, local mtpConfig) (agent.MTP, error) {
	m := agent.MTP{Protocol: c.Protocol}
	self := d.self
	cw := c.WebSocket
	scheme := "ws"
	if cw.EnableEncryption {
		scheme = "wss"
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(cw.Host, strconv.Itoa(int(cw.Port))), Path: cw.Path}
	tc, err := d.clientTLS(local.TLS, cw.EnableEncryption, cw.Host)
	if err != nil {
		return m, err
	}
	if tc != nil && tc.ServerName == "" {
		tc.ServerName = cw.Host
	}
	// A server certificate naming USP Endpoints must name this Controller [R-SEC.5].
	// A host in .local. is resolved with mDNS when connecting (localws.go).
	m.Transport = d.wsClient(cw.Host, &ws.Options{EndpointID: self, PeerID: cw.Controller, URL: u.String(), TLS: tc, PingInterval: cw.KeepAlive,
		MaxRecord: local.MaxRecord, MinWait: cw.Retry.MinWait, Multiplier: cw.Retry.Multiplier, OnState: c.OnState, Logger: d.log})
	m.Connect = func(to string) *record.Record { return record.NewWebSocketConnect(to, self) }
	return m, nil
}

// dialWSServer opens the WebSocket server of a Device.LocalAgent.MTP
// (dialer.Dial).
func (d *dialer) dialWSServer(ctx context.Context, c *agent.Connection, local mtpConfig, hasLocal bool) (agent.MTP, error) {
	m := agent.MTP{Protocol: c.Protocol}
	self := d.self
	cw := c.WebSocket
	host := ""
	if hasLocal {
		h, _, err := net.SplitHostPort(local.Listen)
		if err == nil {
			host = h
		}
	}
	var tc *tls.Config
	if cw.EnableEncryption {
		if !hasLocal || local.TLS == nil || local.TLS.Cert == "" {
			return m, fmt.Errorf("an encrypted WebSocket server needs a certificate (tls.cert): %w", errNoLocal)
		}
		var err error
		if tc, err = local.TLS.build(true); err != nil {
			return m, err
		}
		tc = d.trust.ServerTLS(tc) // new connections trust certificates added later
	}
	srv, err := ws.Listen(ctx, net.JoinHostPort(host, strconv.Itoa(int(cw.Port))), &ws.Options{EndpointID: self, Path: cw.Path,
		TLS: tc, PingInterval: cw.KeepAlive, MaxRecord: local.MaxRecord, OnState: c.OnState, Logger: d.log})
	if err != nil {
		return m, err
	}
	d.log.Info("websocket server", "addr", srv.Addr().String())
	m.Transport = srv
	return m, nil
}
