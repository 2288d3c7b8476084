package ws_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// TestServerRejectsInvalidEndpointID: the eid of the handshake must be an
// Endpoint ID [R-ARC.2a]; anything else is refused with 400.
func TestServerRejectsInvalidEndpointID(t *testing.T) {
	_, base := startServer(t, &ws.Options{EndpointID: ctrlID}, nil)
	for _, eid := range []string{"agent", "nope::x", "os::no-serial", "doc::" + string(make([]byte, 0)) + "a b"} {
		q := url.Values{"eid": {eid}}.Encode()
		if _, resp, err := rawDial(t, base+"/?"+q, nil, nil, ws.Subprotocol); err == nil || statusOf(resp) != http.StatusBadRequest {
			t.Errorf("eid %q: err %v, status %d; want 400", eid, err, statusOf(resp))
		}
	}
	if _, _, err := rawDial(t, base+"/?eid=os::012345-SN1", nil, nil, ws.Subprotocol); err != nil {
		t.Errorf("valid eid refused: %v", err)
	}
}

// issueFor returns a client TLS configuration whose certificate names the
// given urn:bbf:usp:id URIs.
func issueFor(t *testing.T, pki *testenv.PKI, ids ...string) *tls.Config {
	t.Helper()
	var uris []*url.URL
	for _, id := range ids {
		u, _ := url.Parse("urn:bbf:usp:id:" + id)
		uris = append(uris, u)
	}
	c := pki.Issue(t, "client", uris, nil, nil)
	return &tls.Config{Certificates: []tls.Certificate{c}, RootCAs: pki.CAPool, MinVersion: tls.VersionTLS12}
}

// TestServerCertificateIdentity: a client whose verified certificate names
// USP Endpoints may only claim one of them (wild-carded instance-ids
// included) [R-SEC.12], [R-SEC.13]; a match makes the Peer Authenticated,
// a certificate that names no Endpoint leaves it unauthenticated.
func TestServerCertificateIdentity(t *testing.T) {
	pki := testenv.NewPKI(t, agentID)
	onState, st := states()
	srv := listen(t, "127.0.0.1:0", &ws.Options{EndpointID: ctrlID, TLS: pki.ServerConfig(), OnState: onState})
	serve(t, srv, nil)
	base := "wss://" + srv.Addr().String() + "/"
	for _, tc := range []struct {
		name     string
		certIDs  []string
		eid      string
		status   int // 0: accepted
		authentd bool
	}{
		{"names the claimed ID", []string{agentID}, agentID, 0, true},
		{"names another ID", []string{agentID}, "doc::intruder", http.StatusForbidden, false},
		{"one of two names", []string{"doc::other", "doc::second"}, "doc::second", 0, true},
		{"wildcard instance covers", []string{"os::012345-*"}, "os::012345-SN77", 0, true},
		{"wildcard, other authority", []string{"os::012345-*"}, "os::ABCDEF-SN77", http.StatusForbidden, false},
		{"names no Endpoint", nil, "doc::anyone", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"eid": {tc.eid}}.Encode()
			c, resp, err := rawDial(t, base+"?"+q, nil, issueFor(t, pki, tc.certIDs...), ws.Subprotocol)
			if tc.status != 0 {
				if err == nil || statusOf(resp) != tc.status {
					t.Fatalf("err %v, status %d; want %d", err, statusOf(resp), tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ev := next(t, st, "StateUp")
			if ev.peer.EndpointID != tc.eid || ev.peer.Authenticated != tc.authentd {
				t.Errorf("peer %q Authenticated %v; want %q %v", ev.peer.EndpointID, ev.peer.Authenticated, tc.eid, tc.authentd)
			}
			c.Close(websocket.StatusNormalClosure, "")
			next(t, st, "StateDown")
		})
	}
}

// basicAuth accepts HTTP Basic credentials whose user is the Endpoint ID's
// instance-id (a Basic user-id cannot hold ':') and whose password is
// pass, refuses "doc::banned" with ErrForbidden and lets clients without
// credentials in unauthenticated.
func basicAuth(pass string) ws.AuthFunc {
	return func(_ context.Context, r *http.Request, eid string, _ []*x509.Certificate) error {
		if eid == "doc::banned" {
			return ws.ErrForbidden
		}
		u, p, ok := r.BasicAuth()
		switch {
		case !ok:
			return ws.ErrAnonymous
		case u != user(eid) || p != pass:
			return errors.New("wrong credentials")
		}
		return nil
	}
}

func user(eid string) string { return eid[strings.LastIndexByte(eid, ':')+1:] }

func withBasic(eid, pass string) http.Header {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.SetBasicAuth(user(eid), pass)
	return http.Header{"Authorization": r.Header["Authorization"]}
}

// TestServerAuthenticateHook: Options.Authenticate decides during the
// handshake: nil authenticates, ErrAnonymous admits, an error refuses
// with 401 and a Basic challenge, ErrForbidden with 403.
func TestServerAuthenticateHook(t *testing.T) {
	onState, st := states()
	_, base := startServer(t, &ws.Options{EndpointID: ctrlID, OnState: onState, Authenticate: basicAuth("s3cret")}, nil)
	for _, tc := range []struct {
		name     string
		eid      string
		hdr      http.Header
		status   int
		authentd bool
	}{
		{"right password", "doc::a1", withBasic("doc::a1", "s3cret"), 0, true},
		{"no credentials", "doc::a2", nil, 0, false},
		{"wrong password", "doc::a3", withBasic("doc::a3", "guess"), http.StatusUnauthorized, false},
		{"another's credentials", "doc::a4", withBasic("doc::a1", "s3cret"), http.StatusUnauthorized, false},
		{"forbidden", "doc::banned", withBasic("doc::banned", "s3cret"), http.StatusForbidden, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := rawDial(t, base+"/?eid="+tc.eid, tc.hdr, nil, ws.Subprotocol)
			if tc.status != 0 {
				if err == nil || statusOf(resp) != tc.status {
					t.Fatalf("err %v, status %d; want %d", err, statusOf(resp), tc.status)
				}
				if tc.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without a WWW-Authenticate challenge")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev := next(t, st, "StateUp"); ev.peer.Authenticated != tc.authentd {
				t.Errorf("Authenticated %v, want %v", ev.peer.Authenticated, tc.authentd)
			}
			c.Close(websocket.StatusNormalClosure, "")
			next(t, st, "StateDown")
		})
	}
}

// TestServerNoHijack: a client claiming the Endpoint ID of an
// authenticated session cannot close it unless it is authenticated as
// that Endpoint too; then the newest session wins as usual [R-WS.4].
func TestServerNoHijack(t *testing.T) {
	onState, st := states()
	srv, base := startServer(t, &ws.Options{EndpointID: ctrlID, OnState: onState, Authenticate: basicAuth("s3cret")}, nil)
	const eid = "doc::victim"
	first, _, err := rawDial(t, base+"/?eid="+eid, withBasic(eid, "s3cret"), nil, ws.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	next(t, st, "first StateUp")
	if _, resp, err := rawDial(t, base+"/?eid="+eid, nil, nil, ws.Subprotocol); err == nil || statusOf(resp) != http.StatusConflict {
		t.Fatalf("unauthenticated second session: err %v, status %d; want 409", err, statusOf(resp))
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := srv.Send(ctx, eid, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := first.Read(ctx); err != nil || string(b) != "still here" {
		t.Fatalf("first session read %q, %v: it was knocked off", b, err)
	}
	second, _, err := rawDial(t, base+"/?eid="+eid, withBasic(eid, "s3cret"), nil, ws.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, first); code != websocket.StatusNormalClosure {
		t.Errorf("first session closed with %v, want 1000 (replaced)", code)
	}
	_ = second
}

// TestServerHandshakeTimeout: a connection that does not finish its
// opening handshake within Options.HandshakeTimeout is closed, whether it
// sends nothing or its request headers slowly.
func TestServerHandshakeTimeout(t *testing.T) {
	srv, _ := startServer(t, &ws.Options{HandshakeTimeout: 300 * time.Millisecond}, nil)
	for _, tc := range []struct {
		name string
		send []string // written 100 ms apart
	}{
		{"silent", nil},
		{"slow headers", []string{"GET /?eid=doc::slow HTTP/1.1\r\n", "Host: x\r\n", "Upgrade: websocket\r\n", "X-1: 1\r\n", "X-2: 2\r\n", "X-3: 3\r\n", "X-4: 4\r\n", "X-5: 5\r\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			go func() {
				for _, s := range tc.send {
					if _, err := c.Write([]byte(s)); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
			c.SetReadDeadline(time.Now().Add(wait))
			buf := make([]byte, 512)
			for {
				if _, err := c.Read(buf); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatal("connection still open after 5 s")
					}
					break
				}
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("closed after %v, want about 300 ms", d)
			}
		})
	}
}

// TestServerConnLimits: idle sockets from one source beyond
// Options.MaxConnsPerSource are closed at once, and a client from another
// address still connects.
func TestServerConnLimits(t *testing.T) {
	onState, st := states()
	srv, base := startServer(t, &ws.Options{MaxConnsPerSource: 4, OnState: onState}, nil)
	var closed int
	for range 12 {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: time.Second}
		c, err := d.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				closed++
			}
		}
	}
	if closed != 8 {
		t.Errorf("%d of 12 idle sockets closed, want 8 (limit 4 per source)", closed)
	}
	if _, _, err := rawDial(t, base+"/?eid=doc::legit", nil, nil, ws.Subprotocol); err != nil {
		t.Fatalf("client from another address: %v", err)
	}
	if ev := next(t, st, "StateUp"); ev.peer.EndpointID != "doc::legit" {
		t.Errorf("StateUp for %q", ev.peer.EndpointID)
	}
}

// TestClientServerIdentity: a Client with Options.PeerID refuses a server
// whose certificate names another Endpoint [R-SEC.5], and marks a
// matching one Authenticated.
func TestClientServerIdentity(t *testing.T) {
	pki := testenv.NewPKI(t, agentID)
	u, _ := url.Parse("urn:bbf:usp:id:" + ctrlID)
	srvCert := pki.Issue(t, "localhost", []*url.URL{u}, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	cfg := pki.ServerConfig()
	cfg.Certificates = []tls.Certificate{srvCert}
	srv := listen(t, "127.0.0.1:0", &ws.Options{EndpointID: ctrlID, TLS: cfg})
	serve(t, srv, nil)
	for _, tc := range []struct {
		peerID string
		up     bool
	}{
		{ctrlID, true},
		{"doc::impostor-wanted", false},
	} {
		t.Run(tc.peerID, func(t *testing.T) {
			onState, st := states()
			cli := ws.NewClient(&ws.Options{URL: "wss://" + srv.Addr().String() + "/", EndpointID: agentID, PeerID: tc.peerID,
				TLS: pki.ClientConfig(), OnState: onState, MinWait: time.Hour})
			serve(t, cli, nil)
			if !tc.up {
				select {
				case ev := <-st:
					t.Fatalf("client reported %v with a server certificate for %s", ev.state, ctrlID)
				case <-time.After(500 * time.Millisecond):
				}
				return
			}
			ev := next(t, st, "StateUp")
			if ev.state != mtp.StateUp || !ev.peer.Authenticated || ev.peer.EndpointID != ctrlID {
				t.Errorf("%v peer %q Authenticated %v", ev.state, ev.peer.EndpointID, ev.peer.Authenticated)
			}
		})
	}
}

// TestClientBasicCredentials: a Client's Username and Password reach the
// server's Authenticate hook; right ones authenticate the session, wrong
// ones never get it up.
func TestClientBasicCredentials(t *testing.T) {
	sState, sStates := states()
	_, base := startServer(t, &ws.Options{EndpointID: ctrlID, OnState: sState, Authenticate: basicAuth("s3cret")}, nil)
	for _, tc := range []struct {
		pass string
		up   bool
	}{
		{"s3cret", true},
		{"guess", false},
	} {
		t.Run(tc.pass, func(t *testing.T) {
			cState, cStates := states()
			cli := ws.NewClient(&ws.Options{URL: base + "/", EndpointID: "doc::basic", Username: user("doc::basic"), Password: tc.pass,
				OnState: cState, MinWait: time.Hour})
			serve(t, cli, nil)
			if !tc.up {
				select {
				case ev := <-cStates:
					t.Fatalf("client %v with a wrong password", ev.state)
				case <-time.After(500 * time.Millisecond):
				}
				return
			}
			next(t, cStates, "client StateUp")
			if ev := next(t, sStates, "server StateUp"); !ev.peer.Authenticated || ev.peer.EndpointID != "doc::basic" {
				t.Errorf("server sees %q Authenticated %v", ev.peer.EndpointID, ev.peer.Authenticated)
			}
			cli.Close()
			next(t, sStates, "server StateDown")
		})
	}
}
