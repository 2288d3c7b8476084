package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// ErrTLS: the TLS session that protects a TLS12 session's payloads could
// not be established, or failed. The session restarts [R-E2E.21]; an
// Agent waits per its retry algorithm first [R-E2E.10].
var ErrTLS = errors.New("e2e: TLS payload security failed")

// settleTimeout bounds the wait for the TLS goroutine to process what it
// was given; crypto work on a few records takes far less.
const settleTimeout = 10 * time.Second

// TLS record content types (RFC 5246, 6.2.1).
const (
	tlsRecordHeader = 5
	tlsHandshake    = 22
)

// exporterLabel and keyingSize are the inputs of the MAC keys' derivation
// [R-E2E.36], [R-E2E.37].
const (
	exporterLabel = "EXPORTER-BBF-USP-Record"
	keyingSize    = 64
)

// SessionTLS returns the TLS configuration of one side of a TLS12 session
// with the Endpoint remote, from base (the local certificate in
// Certificates and the trust anchors in RootCAs, or ClientCAs when
// RootCAs is nil): TLS 1.2 only with ECDHE-ECDSA-AES128-GCM-SHA256 over
// P-256 [R-E2E.40], [R-E2E.40a], [R-E2E.40b], no renegotiation
// [R-E2E.42], and mutual authentication where the peer's certificate must
// chain to the trust anchors and carry remote as its URI subjectAltName
// (urn:bbf:usp:id:…) [R-E2E.43]. now, when not nil, gives the time to
// check validity at. base's VerifyConnection and GetClientCertificate,
// if set, still apply.
func SessionTLS(base *tls.Config, remote string, now func() time.Time) *tls.Config {
	c := base.Clone()
	roots := c.RootCAs
	if roots == nil {
		roots = c.ClientCAs
	}
	c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	c.CurvePreferences = []tls.CurveID{tls.CurveP256}
	c.Renegotiation = tls.RenegotiateNever
	c.SessionTicketsDisabled = true
	c.ClientAuth = tls.RequireAnyClientCert
	// Server names do not apply: the peer is checked by Endpoint ID.
	c.InsecureSkipVerify = true
	c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		t := time.Now()
		if now != nil {
			t = now()
		}
		return verifyPeer(raw, roots, remote, t)
	}
	return c
}

// verifyPeer checks the peer's certificate chain against roots and that
// the leaf names the Endpoint remote.
func verifyPeer(raw [][]byte, roots *x509.CertPool, remote string, now time.Time) error {
	if len(raw) == 0 {
		return errors.New("e2e: the peer sent no certificate")
	}
	if roots == nil {
		return errors.New("e2e: no trust anchors to verify the peer's certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return fmt.Errorf("e2e: peer certificate: %w", err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("e2e: peer certificate: %w", err)
	}
	want := "urn:bbf:usp:id:" + remote
	for _, u := range certs[0].URIs {
		if u.String() == want {
			return nil
		}
	}
	return fmt.Errorf("e2e: the peer's certificate does not name %s", remote)
}

// tlsLayer runs crypto/tls over a pipe for one session. One goroutine
// runs the handshake and then reads application data; the session's
// caller feeds it and waits for it to settle.
type tlsLayer struct {
	p      *pipe
	conn   *tls.Conn
	client bool
	max    int

	// Under p.mu.
	plain     []byte
	handshook bool
	keys      []byte // keyingSize bytes, once handshook
	err       error

	rest           []byte // a partial TLS record header and body seen by deliver
	renegotiations int
}

func newTLSLayer(cfg *tls.Config, client bool, max int) *tlsLayer {
	l := &tlsLayer{p: newPipe(), client: client, max: max}
	if client {
		l.conn = tls.Client(l.p, cfg)
	} else {
		l.conn = tls.Server(l.p, cfg)
	}
	go l.run()
	return l
}

func (l *tlsLayer) run() {
	err := l.conn.Handshake()
	if err == nil {
		var keys []byte
		st := l.conn.ConnectionState()
		// An empty context, not none [R-E2E.36], [R-E2E.35], [R-E2E.38].
		keys, err = st.ExportKeyingMaterial(exporterLabel, []byte{}, keyingSize)
		l.p.mu.Lock()
		l.handshook, l.keys = err == nil, keys
		l.p.mu.Unlock()
	}
	buf := make([]byte, 16<<10)
	for err == nil {
		var n int
		n, err = l.conn.Read(buf)
		l.p.mu.Lock()
		if len(l.plain)+n > l.max {
			err = ErrTooLarge
		} else {
			l.plain = append(l.plain, buf[:n]...)
		}
		l.p.mu.Unlock()
	}
	l.p.mu.Lock()
	l.err = err
	l.p.mu.Unlock()
	l.p.finish()
}

// state returns whether the handshake completed, the MAC keys, and the
// error that ended the layer.
func (l *tlsLayer) state() (bool, []byte, error) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	return l.handshook, l.keys, l.err
}

// ownKey and peerKey are the MAC keys: the client's is the first half of
// the keying material, the server's the second [R-E2E.39].
func (l *tlsLayer) ownKey(keys []byte) []byte {
	if l.client {
		return keys[:keyingSize/2]
	}
	return keys[keyingSize/2:]
}

func (l *tlsLayer) peerKey(keys []byte) []byte {
	if l.client {
		return keys[keyingSize/2:]
	}
	return keys[:keyingSize/2]
}

// start runs the client's first flight (ClientHello) and returns it.
func (l *tlsLayer) start() ([]byte, error) {
	if !l.p.settle(settleTimeout) {
		return nil, fmt.Errorf("%w: handshake did not start", ErrTLS)
	}
	return l.p.take(), nil
}

// deliver hands TLS bytes from the peer to the layer and returns the
// application data they carried and the TLS bytes to send back. Once
// the handshake completed, a handshake record is a renegotiation
// request: it is dropped unprocessed [R-E2E.42].
func (l *tlsLayer) deliver(b []byte) (plain, out []byte, err error) {
	handshook, _, _ := l.state()
	if handshook {
		b = l.dropHandshake(b)
	}
	if len(b) > 0 {
		l.p.feed(b)
		if !l.p.settle(settleTimeout) {
			return nil, nil, fmt.Errorf("%w: TLS did not settle", ErrTLS)
		}
	}
	out = l.p.take()
	l.p.mu.Lock()
	plain, l.plain = l.plain, nil
	err = l.err
	l.p.mu.Unlock()
	if err != nil {
		return plain, out, fmt.Errorf("%w: %v", ErrTLS, err)
	}
	return plain, out, nil
}

// dropHandshake removes whole handshake records from the stream b
// (preceded by what an earlier call left of a partial record).
func (l *tlsLayer) dropHandshake(b []byte) []byte {
	in := append(l.rest, b...)
	l.rest = nil
	var keep []byte
	for len(in) > 0 {
		if len(in) < tlsRecordHeader {
			break
		}
		n := tlsRecordHeader + (int(in[3])<<8 | int(in[4]))
		if len(in) < n {
			break
		}
		if in[0] == tlsHandshake {
			l.renegotiations++
		} else {
			keep = append(keep, in[:n]...)
		}
		in = in[n:]
	}
	if len(in) > 0 {
		if len(in) > l.max {
			// Not a stream of TLS records; let TLS fail on it.
			return append(keep, in...)
		}
		l.rest = append([]byte(nil), in...)
	}
	return keep
}

// write encrypts one Msg and returns the TLS records that carry it.
func (l *tlsLayer) write(msg []byte) ([]byte, error) {
	if _, err := l.conn.Write(msg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTLS, err)
	}
	return l.p.take(), nil
}

// close ends the layer's goroutine.
func (l *tlsLayer) close() { l.p.Close() }
