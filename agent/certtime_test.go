package agent_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/internal/testenv"
)

// handshake runs a TLS handshake over loopback TCP between a server with
// srv and a client with cli, and returns the server's error, or the
// client's.
func handshake(t *testing.T, srv, cli *tls.Config) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, srv)
		_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte{1}) // the client's TLS 1.3 handshake ends when it reads
		}
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cli}
	c, cerr := d.DialContext(ctx, "tcp", ln.Addr().String())
	if cerr == nil {
		_, cerr = c.Read(make([]byte, 1))
		c.Close()
	}
	if serr := <-done; serr != nil {
		return serr
	}
	return cerr
}

// TestWithoutAbsoluteTime: an Agent with absolute time refuses a
// Controller certificate that has expired [R-SEC.20]; without it, the
// dates are ignored [R-SEC.19] and every other check stays: the trust
// anchor, a certificate at all, the server name (TP-469 2.6).
func TestWithoutAbsoluteTime(t *testing.T) {
	pki := testenv.NewPKI(t, "proto::controller")
	other := testenv.NewPKI(t, "proto::controller")
	expired := pki.IssueExpired(t, "proto::controller")
	client := func(certs ...tls.Certificate) *tls.Config {
		return &tls.Config{Certificates: certs, RootCAs: pki.CAPool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	}
	agentClient := &tls.Config{RootCAs: pki.CAPool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	wrongName := &tls.Config{RootCAs: pki.CAPool, ServerName: "not-the-server.example", MinVersion: tls.VersionTLS12}
	tests := []struct {
		name     string
		srv, cli *tls.Config
		ok       bool
	}{
		{"agent server, absolute time, expired client", pki.ServerConfig(), client(expired), false},
		{"agent server, absolute time, valid client", pki.ServerConfig(), client(pki.Client), true},
		{"agent server, no absolute time, expired client", agent.WithoutAbsoluteTime(pki.ServerConfig(), true), client(expired), true},
		{"agent server, no absolute time, valid client", agent.WithoutAbsoluteTime(pki.ServerConfig(), true), client(pki.Client), true},
		{"agent server, no absolute time, other CA", agent.WithoutAbsoluteTime(pki.ServerConfig(), true), client(other.Client), false},
		{"agent server, no absolute time, no certificate", agent.WithoutAbsoluteTime(pki.ServerConfig(), true), client(), false},
		{"agent client, no absolute time, valid server", pki.ServerConfig(), agent.WithoutAbsoluteTime(func() *tls.Config {
			c := agentClient.Clone()
			c.Certificates = []tls.Certificate{pki.Client}
			return c
		}(), false), true},
		{"agent client, no absolute time, wrong name", &tls.Config{Certificates: []tls.Certificate{pki.Server}, MinVersion: tls.VersionTLS12},
			agent.WithoutAbsoluteTime(wrongName, false), false},
		{"agent client, no absolute time, other CA", &tls.Config{Certificates: []tls.Certificate{other.Server}, MinVersion: tls.VersionTLS12},
			agent.WithoutAbsoluteTime(agentClient, false), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := handshake(t, tt.srv, tt.cli)
			if (err == nil) != tt.ok {
				t.Errorf("handshake error %v, want success %v", err, tt.ok)
			}
		})
	}
}

// ExampleWithoutAbsoluteTime builds the TLS configuration of a WebSocket
// server for an Agent that has no absolute time: Controllers' client
// certificates are still required and verified, except for their dates.
func ExampleWithoutAbsoluteTime() {
	cfg := &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	cfg = agent.WithoutAbsoluteTime(cfg, true)
	fmt.Println(cfg.ClientAuth == tls.RequireAnyClientCert, cfg.VerifyConnection != nil)
	// Output: true true
}
