package ws_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/mtp/ws"
)

// TestSuite runs the MTP behaviour suite over a Client (A) connected to a
// Server (B), in plaintext and over mutual TLS; RestartB restarts the
// Server on the same port and the Client reconnects by itself [R-WS.19].
func TestSuite(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"plain", false}, {"mutualTLS", true}} {
		t.Run(tc.name, func(t *testing.T) {
			mtptest.Run(t, func(t *testing.T) *mtptest.Pair { return newPair(t, tc.tls) })
		})
	}
}

// newPair builds an unserved Client/Server pair on a fresh loopback port.
func newPair(t *testing.T, useTLS bool) *mtptest.Pair {
	so := &ws.Options{EndpointID: ctrlID, Path: "/usp", PingInterval: time.Second}
	co := &ws.Options{EndpointID: agentID, MinWait: 20 * time.Millisecond, PingInterval: time.Second}
	scheme := "ws"
	if useTLS {
		pki := testenv.NewPKI(t, agentID)
		so.TLS, co.TLS, scheme = pki.ServerConfig(), pki.ClientConfig(), "wss"
	}
	srv := listen(t, "127.0.0.1:0", so)
	addr := srv.Addr().String()
	co.URL = scheme + "://" + addr + "/usp"
	cur := srv
	return &mtptest.Pair{
		A: ws.NewClient(co), B: srv, AddrOfB: ctrlID, Limit: ws.DefaultMaxRecord,
		RestartB: func(t *testing.T) mtp.Transport {
			cur.Close() // returns once the close handshakes are done
			cur = listen(t, addr, so)
			return cur
		},
	}
}

// TestTLSPeer checks that both sides see the other's verified chain and
// that the server names the client by the eid query even over mutual TLS.
func TestTLSPeer(t *testing.T) {
	pki := testenv.NewPKI(t, agentID)
	sState, sStates := states()
	srv := listen(t, "127.0.0.1:0", &ws.Options{EndpointID: ctrlID, TLS: pki.ServerConfig(), OnState: sState})
	serve(t, srv, nil)
	cState, cStates := states()
	cli := ws.NewClient(&ws.Options{URL: "wss://" + srv.Addr().String() + "/", EndpointID: agentID,
		TLS: pki.ClientConfig(), OnState: cState})
	serve(t, cli, nil)

	sp := next(t, sStates, "server StateUp").peer
	if sp.EndpointID != agentID || sp.Address != agentID {
		t.Errorf("server sees peer %q at %q, want %q", sp.EndpointID, sp.Address, agentID)
	}
	if len(sp.Certs) < 2 || !bytes.Equal(sp.Certs[0].Raw, pki.Client.Leaf.Raw) {
		t.Errorf("server Peer.Certs = %d certs, want the client's verified chain", len(sp.Certs))
	}
	cp := next(t, cStates, "client StateUp").peer
	if cp.EndpointID != ctrlID {
		t.Errorf("client sees peer %q, want %q from the server's extension header", cp.EndpointID, ctrlID)
	}
	if len(cp.Certs) < 2 || !bytes.Equal(cp.Certs[0].Raw, pki.Server.Leaf.Raw) {
		t.Errorf("client Peer.Certs = %d certs, want the server's verified chain", len(cp.Certs))
	}
}

// TestTLSCertEndpointID: a client that gives no Endpoint ID in the request
// is named by the urn:bbf:usp:id URI of its verified certificate.
func TestTLSCertEndpointID(t *testing.T) {
	pki := testenv.NewPKI(t, "doc::from-cert")
	sState, sStates := states()
	srv := listen(t, "127.0.0.1:0", &ws.Options{TLS: pki.ServerConfig(), OnState: sState})
	serve(t, srv, nil)
	_, _, err := rawDial(t, "wss://"+srv.Addr().String()+"/", nil, pki.ClientConfig(), ws.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	if got := next(t, sStates, "StateUp").peer.EndpointID; got != "doc::from-cert" {
		t.Errorf("Endpoint ID %q, want doc::from-cert", got)
	}
	if err := srv.Send(context.Background(), "doc::from-cert", []byte{1}); err != nil {
		t.Errorf("Send to the certificate's Endpoint ID: %v", err)
	}
}
