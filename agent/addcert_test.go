package agent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// testCA is a certificate authority of the tests, with a name of its own
// (testenv's PKIs all share one Issuer and serial number).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue signs a certificate naming the USP Endpoint id and the host
// localhost.
func (ca *testCA) issue(t *testing.T, id string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("urn:bbf:usp:id:" + id)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: id}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}, URIs: []*url.URL{u},
		DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func addCertReq(alias, certPEM string) *wire.Request {
	args := map[string]string{"Certificate": certPEM}
	if alias != "" {
		args["Alias"] = alias
	}
	return operateReq("Device.LocalAgent.AddCertificate()", "", true, args)
}

// opFailure returns the error code of an OperateResp's cmd_failure, or
// of an Error; 0 when the command succeeded.
func opFailure(t *testing.T, m *wire.Msg) uint32 {
	t.Helper()
	if er := m.GetBody().GetError(); er != nil {
		return er.GetErrCode()
	}
	res := m.GetBody().GetResponse().GetOperateResp().GetOperationResults()
	if len(res) != 1 {
		t.Fatalf("reply %v: not one operation result", m)
	}
	if f := res[0].GetCmdFailure(); f != nil {
		return f.GetErrCode()
	}
	return 0
}

// certRows returns Device.LocalAgent.Certificate's rows by instance path:
// parameter name → value.
func certRows(t *testing.T, c *ctl) map[string]map[string]string {
	t.Helper()
	m := c.do(get("Device.LocalAgent.Certificate."))
	rows := map[string]map[string]string{}
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		if rp.GetErrCode() != 0 {
			t.Fatalf("Get Certificate.: %v", m)
		}
		for _, r := range rp.GetResolvedPathResults() {
			rows[r.GetResolvedPath()] = r.GetResultParams()
		}
	}
	return rows
}

// TestAddCertificate checks Device.LocalAgent.AddCertificate() as TR-181
// 2.16 defines it: the certificate becomes a row of
// Device.LocalAgent.Certificate with its SerialNumber, Issuer and the
// Alias given; bad input and a second certificate with the same
// SerialNumber and Issuer, or the same Alias, are refused; Delete()
// removes an added row and refuses a configured one.
func TestAddCertificate(t *testing.T) {
	configured := newTestCA(t, "configured CA")
	e := start(t, nil, func(o *agent.Options) { o.Certificates = []*x509.Certificate{configured.cert} })
	ca := newTestCA(t, "added CA")
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1, 2, 3}}))
	bad := []struct {
		name string
		req  *wire.Request
		code uint32
	}{
		{"not PEM", addCertReq("", "hello"), usperr.CodeInvalidCommandArgs},
		{"base64 without PEM armour", addCertReq("", base64.StdEncoding.EncodeToString(ca.cert.Raw)), usperr.CodeInvalidCommandArgs},
		{"PEM of a key", addCertReq("", keyPEM), usperr.CodeInvalidCommandArgs},
		{"PEM of garbage", addCertReq("", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")}))), usperr.CodeInvalidCommandArgs},
		{"two certificates", addCertReq("", ca.pem+configured.pem), usperr.CodeInvalidCommandArgs},
		{"no Certificate", operateReq("Device.LocalAgent.AddCertificate()", "", true, map[string]string{"Alias": "x"}), usperr.CodeInvalidArguments}, // the engine checks mandatory arguments
		{"bad Alias", addCertReq("9lives", ca.pem), usperr.CodeInvalidCommandArgs},
		{"same SerialNumber and Issuer as a configured one", addCertReq("again", configured.pem), usperr.CodeDuplicateKey},
		{"Alias of a configured one", addCertReq("cpe-1", ca.pem), usperr.CodeDuplicateKey},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if got := opFailure(t, e.ctl.do(tc.req)); got != tc.code {
				t.Errorf("error %d, want %d", got, tc.code)
			}
		})
	}
	if rows := certRows(t, e.ctl); len(rows) != 1 {
		t.Fatalf("refused certificates were added: %v", rows)
	}

	if code := opFailure(t, e.ctl.do(addCertReq("addedCert", ca.pem))); code != 0 {
		t.Fatalf("AddCertificate: error %d", code)
	}
	rows := certRows(t, e.ctl)
	var added string
	for path, r := range rows {
		if r["Alias"] == "addedCert" {
			added = path
		}
	}
	if added == "" {
		t.Fatalf("no row with Alias addedCert: %v", rows)
	}
	want := map[string]string{"Alias": "addedCert", "Enable": "true", "Issuer": ca.cert.Issuer.String(),
		"SerialNumber": strings.ToUpper(colonHex(ca.cert.SerialNumber.Bytes()))}
	for k, v := range want {
		if rows[added][k] != v {
			t.Errorf("%s%s = %q, want %q", added, k, rows[added][k], v)
		}
	}
	if n := value(t, e.ctl.do(get("Device.LocalAgent.CertificateNumberOfEntries")), "Device.LocalAgent.CertificateNumberOfEntries"); n != "2" {
		t.Errorf("CertificateNumberOfEntries = %s, want 2", n)
	}
	fp := e.ctl.do(operateReq(added+"GetFingerprint()", "", true, map[string]string{"FingerprintAlgorithm": "SHA-256"}))
	sum := sha256.Sum256(ca.cert.Raw)
	if got := fp.GetBody().GetResponse().GetOperateResp().GetOperationResults()[0].GetReqOutputArgs().GetOutputArgs()["Fingerprint"]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("GetFingerprint() = %q", got)
	}

	// The table's unique keys hold for added rows too.
	if code := opFailure(t, e.ctl.do(addCertReq("other", ca.pem))); code != usperr.CodeDuplicateKey {
		t.Errorf("the same certificate again: error %d, want %d", code, usperr.CodeDuplicateKey)
	}
	if code := opFailure(t, e.ctl.do(addCertReq("addedCert", newTestCA(t, "third").pem))); code != usperr.CodeDuplicateKey {
		t.Errorf("the same Alias again: error %d, want %d", code, usperr.CodeDuplicateKey)
	}
	// Without Alias, the Agent names the row.
	third := newTestCA(t, "third CA")
	if code := opFailure(t, e.ctl.do(addCertReq("", third.pem))); code != 0 {
		t.Fatalf("AddCertificate without Alias: error %d", code)
	}
	for path, r := range certRows(t, e.ctl) {
		if r["Issuer"] == third.cert.Issuer.String() && !strings.HasPrefix(r["Alias"], "cpe-") {
			t.Errorf("%sAlias = %q, want cpe-N", path, r["Alias"])
		}
	}

	if code := opFailure(t, e.ctl.do(operateReq("Device.LocalAgent.Certificate.1.Delete()", "", true, nil))); code != usperr.CodeCommandFailure {
		t.Errorf("Delete() of the configured certificate: error %d, want %d", code, usperr.CodeCommandFailure)
	}
	if code := opFailure(t, e.ctl.do(operateReq(added+"Delete()", "", true, nil))); code != 0 {
		t.Fatalf("Delete(): error %d", code)
	}
	if _, ok := certRows(t, e.ctl)[added]; ok {
		t.Errorf("%s still listed after Delete()", added)
	}
	if code := opFailure(t, e.ctl.do(operateReq(added+"Delete()", "", true, nil))); code == 0 {
		t.Errorf("a second Delete() of %s succeeded", added)
	}
	// Once deleted, the certificate may be added again.
	if code := opFailure(t, e.ctl.do(addCertReq("addedCert", ca.pem))); code != 0 {
		t.Errorf("AddCertificate after Delete(): error %d", code)
	}
}

// TestAddedCertificateSet checks the writable parameters of an added
// row (TR-181: Alias and Enable are readWrite): a new Alias, unique in
// the table, and Enable, both kept across a restart; the configured rows
// stay as they are.
func TestAddedCertificateSet(t *testing.T) {
	st := store.NewMemory()
	configured := newTestCA(t, "configured CA")
	withConfigured := func(o *agent.Options) { o.Certificates = []*x509.Certificate{configured.cert} }
	e := start(t, st, withConfigured)
	ca := newTestCA(t, "added CA")
	if code := opFailure(t, e.ctl.do(addCertReq("first", ca.pem))); code != 0 {
		t.Fatalf("AddCertificate: error %d", code)
	}
	const added = "Device.LocalAgent.Certificate.2."
	if r := certRows(t, e.ctl)[added]; r["Alias"] != "first" {
		t.Fatalf("%s: %v, want the added row", added, r)
	}
	bad := []struct {
		name string
		req  *wire.Request
	}{
		{"Alias of the configured row", setReq(false, added, "Alias", "cpe-1")},
		{"Alias not starting with a letter", setReq(false, added, "Alias", "1st")},
		{"Enable not a boolean", setReq(false, added, "Enable", "maybe")},
		{"read-only SerialNumber", setReq(false, added, "SerialNumber", "01")},
		{"configured row's Alias", setReq(false, "Device.LocalAgent.Certificate.1.", "Alias", "mine")},
		{"configured row's Enable", setReq(false, "Device.LocalAgent.Certificate.1.", "Enable", "false")},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if m := e.ctl.do(tc.req); m.GetBody().GetError() == nil {
				t.Errorf("accepted: %v", m)
			}
		})
	}
	if m := e.ctl.do(setReq(false, added, "Alias", "renamed", "Enable", "false")); m.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("Set Alias and Enable: %v", m)
	}
	e.stop()
	e = start(t, st, withConfigured)
	rows := certRows(t, e.ctl)
	if rows[added]["Alias"] != "renamed" || rows[added]["Enable"] != "false" {
		t.Errorf("after a restart %s is %v, want Alias renamed, Enable false", added, rows[added])
	}
	if rows["Device.LocalAgent.Certificate.1."]["Alias"] != "cpe-1" || rows["Device.LocalAgent.Certificate.1."]["Enable"] != "true" {
		t.Errorf("the configured row changed: %v", rows["Device.LocalAgent.Certificate.1."])
	}
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = hex.EncodeToString([]byte{x})
	}
	return strings.Join(parts, ":")
}

// TestAddCertificatePersists checks that added certificates are kept in
// the Agent's store: a restart lists them at the same instance, with
// their Alias, and its TrustStore holds them; a deleted one stays gone,
// and its instance number is not given again.
func TestAddCertificatePersists(t *testing.T) {
	st := store.NewMemory()
	e := start(t, st)
	kept, gone := newTestCA(t, "kept CA"), newTestCA(t, "deleted CA")
	for alias, ca := range map[string]*testCA{"kept": kept, "gone": gone} {
		if code := opFailure(t, e.ctl.do(addCertReq(alias, ca.pem))); code != 0 {
			t.Fatalf("AddCertificate %s: error %d", alias, code)
		}
	}
	byAlias := map[string]string{}
	for path, r := range certRows(t, e.ctl) {
		byAlias[r["Alias"]] = path
	}
	if code := opFailure(t, e.ctl.do(operateReq(byAlias["gone"]+"Delete()", "", true, nil))); code != 0 {
		t.Fatalf("Delete(): error %d", code)
	}
	e.stop()

	trust := agent.NewTrustStore()
	e = start(t, st, func(o *agent.Options) { o.Trust = trust })
	rows := certRows(t, e.ctl)
	if len(rows) != 1 || rows[byAlias["kept"]]["Alias"] != "kept" || rows[byAlias["kept"]]["Issuer"] != kept.cert.Issuer.String() {
		t.Fatalf("after a restart: %v, want only %s with Alias kept", rows, byAlias["kept"])
	}
	if cs := trust.Certificates(); len(cs) != 1 || !cs[0].Equal(kept.cert) {
		t.Errorf("TrustStore after a restart holds %d certificates", len(cs))
	}
	if code := opFailure(t, e.ctl.do(addCertReq("new", newTestCA(t, "new CA").pem))); code != 0 {
		t.Fatalf("AddCertificate: error %d", code)
	}
	for path, r := range certRows(t, e.ctl) {
		if r["Alias"] == "new" && path == byAlias["gone"] {
			t.Errorf("the deleted certificate's instance %s was given again", path)
		}
	}
}

// TestAddCertificateTrustsNewConnections checks that an added certificate
// becomes a trust anchor of the Agent's MTP connections at once: a TLS
// server configured through TrustStore.ServerTLS refuses a Controller
// whose certificate another CA issued, accepts it on a new connection
// once that CA is added with AddCertificate(), without a restart, and
// refuses it again after Delete(). TrustStore.ClientTLS does the same for
// the Agent as the TLS client. [R-SEC.2]
func TestAddCertificateTrustsNewConnections(t *testing.T) {
	pki := testenv.NewPKI(t, ctrlID)
	trust := agent.NewTrustStore()
	e := start(t, nil, func(o *agent.Options) { o.Trust = trust })
	alt := newTestCA(t, "alternate CA")
	altCert := alt.issue(t, ctrlID)

	srv := trust.ServerTLS(pki.ServerConfig())
	l, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					c.Write([]byte{1})
				}
			}()
		}
	}()
	dial := func(cert tls.Certificate) error {
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pki.CAPool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", l.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		// TLS 1.3 reports a refused client certificate on the first read.
		_, err = c.Read(make([]byte, 1))
		return err
	}
	agentClient := func() error {
		// The Agent as TLS client of a server whose certificate alt issued.
		sl, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{alt.issue(t, "proto::broker")}, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		defer sl.Close()
		go func() {
			if c, err := sl.Accept(); err == nil {
				c.(*tls.Conn).Handshake()
				c.Close()
			}
		}()
		cfg := trust.ClientTLS(&tls.Config{RootCAs: pki.CAPool, ServerName: "localhost", MinVersion: tls.VersionTLS12})
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", sl.Addr().String(), cfg)
		if err == nil {
			c.Close()
		}
		return err
	}

	if err := dial(pki.Client); err != nil {
		t.Fatalf("the configured CA's client: %v", err)
	}
	if err := dial(altCert); err == nil {
		t.Fatal("a client of the alternate CA was accepted before AddCertificate()")
	}
	if agentClient() == nil {
		t.Fatal("the Agent as client trusted the alternate CA before AddCertificate()")
	}
	if code := opFailure(t, e.ctl.do(addCertReq("addedCert", alt.pem))); code != 0 {
		t.Fatalf("AddCertificate: error %d", code)
	}
	if err := dial(altCert); err != nil {
		t.Errorf("a client of the added CA, new connection: %v", err)
	}
	if err := dial(pki.Client); err != nil {
		t.Errorf("the configured CA's client after AddCertificate(): %v", err)
	}
	if err := agentClient(); err != nil {
		t.Errorf("the Agent as client of a server of the added CA: %v", err)
	}
	var added string
	for path, r := range certRows(t, e.ctl) {
		if r["Alias"] == "addedCert" {
			added = path
		}
	}
	// Enable false keeps the row but no longer trusts the certificate.
	if m := e.ctl.do(setReq(false, added, "Enable", "false")); m.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("Set Enable false: %v", m)
	}
	if err := dial(altCert); err == nil {
		t.Error("a client of the added CA was accepted with the certificate's Enable false")
	}
	if m := e.ctl.do(setReq(false, added, "Enable", "true")); m.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("Set Enable true: %v", m)
	}
	if err := dial(altCert); err != nil {
		t.Errorf("a client of the added CA with Enable true again: %v", err)
	}
	if code := opFailure(t, e.ctl.do(operateReq(added+"Delete()", "", true, nil))); code != 0 {
		t.Fatalf("Delete(): error %d", code)
	}
	if err := dial(altCert); err == nil {
		t.Error("a client of the alternate CA was accepted after Delete()")
	}
	if agentClient() == nil {
		t.Error("the Agent as client trusted the alternate CA after Delete()")
	}
}

// ExampleTrustStore wires a TrustStore into an Agent and the TLS
// configuration of its WebSocket server: Controllers' certificates
// issued by a CA added with Device.LocalAgent.AddCertificate() are
// accepted on the next connection.
func ExampleTrustStore() {
	trust := agent.NewTrustStore()
	serverTLS := trust.ServerTLS(&tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	_ = serverTLS // give it to ws.Listen's Options.TLS
	opt := agent.Options{Trust: trust}
	_ = opt // with the other Options, to agent.New
	// Output:
}

// TestAddedCertificatesAtStart checks what a start makes of the stored
// certificates: one whose instance number a configured certificate now
// takes (the configured list grew) moves to a new number, and a stored
// entry that no longer parses is left out without stopping the Agent.
func TestAddedCertificatesAtStart(t *testing.T) {
	st := store.NewMemory()
	added := newTestCA(t, "added CA")
	e := start(t, st)
	if code := opFailure(t, e.ctl.do(addCertReq("mine", added.pem))); code != 0 {
		t.Fatalf("AddCertificate: error %d", code)
	}
	if _, ok := certRows(t, e.ctl)["Device.LocalAgent.Certificate.1."]; !ok {
		t.Fatal("the first added certificate is not instance 1")
	}
	e.stop()
	if err := st.Apply(context.Background(), &store.Batch{PutItems: []store.Item{
		{Kind: "localagent-certificate", ID: "7", Data: []byte("{not json")},
		{Kind: "localagent-certificate", ID: "8", Data: []byte(`{"alias":"x","pem":"not a certificate"}`)},
		{Kind: "localagent-certificate", ID: "nine", Data: []byte(`{}`)},
	}}); err != nil {
		t.Fatal(err)
	}
	configured := newTestCA(t, "configured CA")
	e = start(t, st, func(o *agent.Options) { o.Certificates = []*x509.Certificate{configured.cert} })
	rows := certRows(t, e.ctl)
	if len(rows) != 2 || rows["Device.LocalAgent.Certificate.1."]["Issuer"] != configured.cert.Issuer.String() {
		t.Fatalf("rows %v, want the configured certificate at 1 and the added one", rows)
	}
	var moved string
	for path, r := range rows {
		if r["Alias"] == "mine" {
			moved = path
		}
	}
	if moved == "" || moved == "Device.LocalAgent.Certificate.1." {
		t.Fatalf("the added certificate is at %q", moved)
	}
	e.stop()
	// The new number is stored.
	e = start(t, st, func(o *agent.Options) { o.Certificates = []*x509.Certificate{configured.cert} })
	if certRows(t, e.ctl)[moved]["Alias"] != "mine" {
		t.Errorf("after another restart the added certificate is no longer at %s", moved)
	}
}

// TestTrustStoreTLS checks the wrappers' edge cases: nil stays nil, a nil
// TrustStore leaves the configuration as it is, and a server
// configuration's own GetConfigForClient still chooses the settings the
// added certificates join.
func TestTrustStoreTLS(t *testing.T) {
	var none *agent.TrustStore
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	cases := []struct {
		name string
		got  *tls.Config
		want *tls.Config
	}{
		{"nil server config", agent.NewTrustStore().ServerTLS(nil), nil},
		{"nil client config", agent.NewTrustStore().ClientTLS(nil), nil},
		{"nil TrustStore, server", none.ServerTLS(cfg), cfg},
		{"nil TrustStore, client", none.ClientTLS(cfg), cfg},
		{"nothing added, client", agent.NewTrustStore().ClientTLS(cfg), cfg},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %p, want %p", c.name, c.got, c.want)
		}
	}

	pki := testenv.NewPKI(t, ctrlID)
	alt := newTestCA(t, "alternate CA")
	trust := agent.NewTrustStore()
	e := start(t, nil, func(o *agent.Options) { o.Trust = trust })
	if code := opFailure(t, e.ctl.do(addCertReq("", alt.pem))); code != 0 {
		t.Fatalf("AddCertificate: error %d", code)
	}
	chosen := pki.ServerConfig()
	chosen.ClientCAs = x509.NewCertPool() // trusts nothing of its own
	base := pki.ServerConfig()
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return chosen, nil }
	got, err := trust.ServerTLS(base).GetConfigForClient(&tls.ClientHelloInfo{})
	if err != nil || got == nil {
		t.Fatalf("GetConfigForClient: %v, %v", got, err)
	}
	leaf := alt.issue(t, ctrlID).Leaf
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: got.ClientCAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the chosen configuration does not trust the added CA: %v", err)
	}
	if _, err := pki.Client.Leaf.Verify(x509.VerifyOptions{Roots: got.ClientCAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("the base configuration's CAs replaced the chosen configuration's")
	}
}
