package conformance_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/schema"
)

// altPKI is an alternate CA, named apart from testenv's, and a client
// certificate it issued naming the runner.
type altPKI struct {
	caPEM string
	leaf  tls.Certificate
	pool  *x509.CertPool
}

func newAltPKI(t *testing.T, id string) *altPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: "TP-469 9.2 alternate CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(der)
	lkey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("urn:bbf:usp:id:" + id)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(78), Subject: pkix.Name{CommonName: id}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, URIs: []*url.URL{u}}
	lder, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &lkey.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &altPKI{caPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), leaf: tls.Certificate{Certificate: [][]byte{lder}, PrivateKey: lkey}, pool: pool}
}

// certAgent says how the Agent of run92 treats added certificates.
type certAgent int

const (
	appliesCert   certAgent = iota // its WebSocket server trusts them (agent.TrustStore.ServerTLS)
	appliesLeaf                    // the same, and the runner adds its certificate, not the CA
	ignoresCert                    // lists them but its server keeps its configured CAs
	trustsAltAlso                  // already trusts the alternate CA: the setup is not met
)

// run92 runs case 9.2 against a real Agent (package agent) serving
// WebSocket with mutual TLS on loopback, and returns its result and the
// Agent's Device.LocalAgent.Certificate instances afterwards.
func run92(t *testing.T, kind certAgent, withAlt bool) (conformance.Result, []string) {
	t.Helper()
	pki := testenv.NewPKI(t, runnerID)
	alt := newAltPKI(t, runnerID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	m := schema.New()
	agent.Define(m)
	mux := datamodel.NewMux(m)
	trust := agent.NewTrustStore()
	srvTLS := pki.ServerConfig()
	switch kind {
	case appliesCert, appliesLeaf:
		srvTLS = trust.ServerTLS(srvTLS)
	case trustsAltAlso:
		pool := pki.CAPool.Clone()
		pool.AppendCertsFromPEM([]byte(alt.caPEM))
		srvTLS.ClientCAs = pool
	}
	srv, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: fakeID, Path: "/usp", TLS: srvTLS})
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(ctx, agent.Options{EndpointID: fakeID, Mux: mux, Trust: trust,
		MTPs:    []agent.MTP{{Protocol: "WebSocket", Transport: srv}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: runnerID, MTPs: []agent.ControllerMTPConf{{Protocol: "WebSocket"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { a.Run(ctx) })

	agentURL := "wss://localhost:" + strings.TrimPrefix(srv.Addr().String(), "127.0.0.1:") + "/usp"
	gate, err := conformance.ListenGate(ctx, "127.0.0.1:0", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cli := pki.ClientConfig()
	cli.ServerName = "localhost"
	o := conformance.Options{AgentID: fakeID, ControllerID: runnerID, ReplyTimeout: 3 * time.Second, CaseTimeout: 30 * time.Second,
		Transport: ws.NewClient(&ws.Options{URL: "wss://" + gate.Addr().String() + "/usp", EndpointID: runnerID, TLS: cli, MinWait: 100 * time.Millisecond, Multiplier: 1000}),
		WebSocket: &conformance.WebSocketSetup{Gate: gate, URL: agentURL, TLS: cli}}
	if withAlt {
		o.AltCert = &conformance.AltCertSetup{Cert: alt.leaf, Trust: alt.caPEM}
		if kind == appliesLeaf {
			o.AltCert.Trust = "" // the runner adds alt.leaf itself
		}
	}
	res, err := conformance.Run(ctx, o, conformance.Match("9.2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	var insts []string
	for _, g := range a.Engine().Get(ctx, datamodel.Caller{}, []string{"Device.LocalAgent.Certificate."}, 0) {
		for _, o := range g.Objects {
			insts = append(insts, o.Path)
		}
	}
	return res[0], insts
}

// TestAddCertificateRightAgent9_2: an Agent whose WebSocket server trusts
// the certificates added with AddCertificate() passes 9.2, whether the
// runner adds the alternate CA or the alternate certificate itself, and
// the runner leaves no added certificate behind.
func TestAddCertificateRightAgent9_2(t *testing.T) {
	t.Parallel()
	for name, kind := range map[string]certAgent{"the CA added": appliesCert, "the certificate added": appliesLeaf} {
		t.Run(name, func(t *testing.T) {
			r, left := run92(t, kind, true)
			if r.Status != conformance.Pass {
				t.Errorf("9.2: %s: %s", r.Status, r.Reason)
			}
			if len(left) != 0 {
				t.Errorf("the runner left certificates: %v", left)
			}
		})
	}
}

// TestAddCertificateWrongAgent9_2: an Agent that lists the added
// certificate but does not trust it for the Controller's next connection
// fails 9.2 at the reconnection, and the runner still deletes the entry.
func TestAddCertificateWrongAgent9_2(t *testing.T) {
	t.Parallel()
	r, left := run92(t, ignoresCert, true)
	if r.Status != conformance.Fail || !strings.Contains(r.Reason, "refused the controller's connection with the alternate certificate") {
		t.Errorf("9.2: %s: %s, want a failure at the reconnection", r.Status, r.Reason)
	}
	if len(left) != 0 {
		t.Errorf("the runner left certificates: %v", left)
	}
}

// TestAddCertificateSetup9_2: without an alternate certificate the case
// skips, and with one the Agent already accepts it skips too (the plan's
// setup wants one it has not seen).
func TestAddCertificateSetup9_2(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		kind certAgent
		alt  bool
		want string
	}{
		{"no alternate certificate", appliesCert, false, "needs an alternate certificate"},
		{"alternate certificate already trusted", trustsAltAlso, true, "already accepts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := run92(t, c.kind, c.alt)
			if r.Status != conformance.Skip || !strings.Contains(r.Reason, c.want) {
				t.Errorf("9.2: %s: %s, want a skip saying %q", r.Status, r.Reason, c.want)
			}
		})
	}
}

// ExampleAltCertSetup gives case 9.2 the runner's alternate certificate,
// from a CA the Agent does not trust yet, and that CA to add.
func ExampleAltCertSetup() {
	cert, err := tls.LoadX509KeyPair("alt.pem", "alt.key") // names Options.ControllerID
	if err != nil {
		return
	}
	caPEM, err := os.ReadFile("alt-ca.pem")
	if err != nil {
		return
	}
	o := conformance.Options{AltCert: &conformance.AltCertSetup{Cert: cert, Trust: string(caPEM)}}
	_ = o // with the other Options, to conformance.Run
}
