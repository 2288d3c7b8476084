package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/wire"
)

// MTPTLSSetup lets the runner's own MQTT and STOMP servers speak TLS, for
// the cases 4.1, 6.11 and 11.3.
type MTPTLSSetup struct {
	// Certificate is a server certificate, with its chain, that the
	// Agent trusts for the address it connects to (Options.ProbeHost, or
	// 127.0.0.1).
	Certificate tls.Certificate
	// Expired, if set, is a certificate of the same trusted issuer whose
	// validity has ended: 4.1 checks that the Agent refuses it.
	Expired *tls.Certificate
}

// certSwitch serves the certificate a case chooses, the same listener
// throughout.
type certSwitch struct {
	cur atomic.Pointer[tls.Certificate]
}

func (s *certSwitch) config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return s.cur.Load(), nil
	}}
}

// serverTLS is the TLS configuration of a runner-owned server: nil
// without TLS; the trusted certificate of Options.MTPTLS otherwise (the
// case skips without one).
func (t *T) serverTLS(on bool, host string) *tls.Config {
	if !on {
		return nil
	}
	t.needMTPTLS()
	sw := &certSwitch{}
	sw.cur.Store(&t.r.o.MTPTLS.Certificate)
	return sw.config()
}

func (t *T) needMTPTLS() {
	if t.r.o.MTPTLS == nil {
		t.Skipf("needs a server certificate that the agent trusts for the runner's MQTT and STOMP servers")
	}
}

// selfSigned makes a certificate for host that no one trusts.
func selfSigned(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "tp469 untrusted"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{"localhost"}}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func section4() map[string]caseFunc {
	m := map[string]caseFunc{}
	m["4.1"] = caseFunc{wait: 60 * time.Second, run: func(t *T) {
		t.needMTPTLS()
		host := t.r.o.ProbeHost
		if host == "" {
			host = "127.0.0.1"
		}
		untrusted, err := selfSigned(host)
		t.Check(err == nil, "%v", err)
		// The MQTT server starts with the untrusted certificate; the Agent
		// retries every second.
		sw := &certSwitch{}
		sw.cur.Store(&untrusted)
		rig := t.mqttSetup(mqttOpts{tlsConfig: sw.config(), noWait: true,
			client: []kv{p("ConnectRetryTime", "1"), p("ConnectRetryIntervalMultiplier", "1000")}})
		refused := func(what string) {
			start := time.Now()
			got := rig.srv.waitAccepts(t.ctx, start, 2, 15*time.Second)
			t.Check(len(got) >= 2, "the agent did not try to connect (%d attempts with the %s certificate)", len(got), what)
			_, ok := rig.srv.waitPacket(t.ctx, 0, 0, isType(packets.CONNECT, true))
			t.Check(!ok, "the agent sent an MQTT CONNECT over TLS with a %s server certificate", what)
			rig.srv.mu.Lock()
			n := len(rig.srv.handshakes)
			rig.srv.mu.Unlock()
			t.Check(n == 0, "the agent completed %d TLS handshakes with a %s server certificate", n, what)
		}
		// TP-469 4.1: the Agent checks the server's certificate: an untrusted,
		// then an expired one is refused [R-MQTT.48].
		refused("self-signed")
		if exp := t.r.o.MTPTLS.Expired; exp != nil {
			sw.cur.Store(exp)
			rig.srv.cut()
			refused("expired")
		}
		sw.cur.Store(&t.r.o.MTPTLS.Certificate)
		rig.subscribed(0)
		rig.srv.mu.Lock()
		v := rig.srv.handshakes
		rig.srv.mu.Unlock()
		t.Check(len(v) > 0 && v[len(v)-1] >= tls.VersionTLS12, "TLS versions %v", v)
		r := rig.do(&wire.Request{ReqType: &wire.Request_GetSupportedProtocol{GetSupportedProtocol: &wire.GetSupportedProtocol{ControllerSupportedProtocolVersions: "1.3"}}})
		t.Check(r.GetBody().GetResponse().GetGetSupportedProtocolResp() != nil, "expected a GetSupportedProtocolResp over TLS, got %v", brief(r))
	}}
	m["11.3"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		t.needMTPTLS()
		rig := t.mqttSetup(mqttOpts{tls: true})
		t.getResp(rig.do(getReq("Device.DeviceInfo.")))
		rig.srv.mu.Lock()
		v := rig.srv.handshakes
		rig.srv.mu.Unlock()
		// [R-MQTT.48] TLS 1.2 or later.
		t.Check(len(v) > 0, "no TLS handshake")
		for _, x := range v {
			t.Check(x >= tls.VersionTLS12, "TLS version %s", tls.VersionName(x))
		}
	}}
	m["6.11"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		t.needMTPTLS()
		rig := t.stompSetup(stompOpts{tls: true})
		t.getResp(rig.do(getReq("Device.DeviceInfo.")))
		rig.srv.mu.Lock()
		v := rig.srv.handshakes
		rig.srv.mu.Unlock()
		// [R-STOMP.36] TLS 1.2 or later.
		t.Check(len(v) > 0, "no TLS handshake")
		for _, x := range v {
			t.Check(x >= tls.VersionTLS12, "TLS version %s", tls.VersionName(x))
		}
	}}
	return m
}

// completeHandshake runs the TLS handshake of nc, if it is a TLS
// connection, within 10 seconds; it reports whether nc can be used and
// the TLS version agreed (0 for plain TCP).
func completeHandshake(nc net.Conn) (bool, uint16) {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return true, 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return false, 0
	}
	return true, tc.ConnectionState().Version
}

func (s *mqttServer) handshake(nc net.Conn) bool {
	ok, v := completeHandshake(nc)
	if ok && v != 0 {
		s.mu.Lock()
		s.handshakes = append(s.handshakes, v)
		s.signalLocked()
		s.mu.Unlock()
	}
	return ok
}

func (s *stompServer) handshake(nc net.Conn) bool {
	ok, v := completeHandshake(nc)
	if ok && v != 0 {
		s.mu.Lock()
		s.handshakes = append(s.handshakes, v)
		s.signalLocked()
		s.mu.Unlock()
	}
	return ok
}
