package agent_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// credentialParams are the TR-181 items of ControllerTrust.Credential and
// the Controller's Credential and InheritedRole, which TestModelMatchesTR181
// requires defined (and compares with TR-181 2.16).
var credentialParams = []string{
	"Device.LocalAgent.ControllerTrust.CredentialNumberOfEntries",
	"Device.LocalAgent.ControllerTrust.Credential.{i}.Alias",
	"Device.LocalAgent.ControllerTrust.Credential.{i}.Enable",
	"Device.LocalAgent.ControllerTrust.Credential.{i}.Role",
	"Device.LocalAgent.ControllerTrust.Credential.{i}.Credential",
	"Device.LocalAgent.ControllerTrust.Credential.{i}.AllowedUses",
	"Device.LocalAgent.Controller.{i}.Credential",
	"Device.LocalAgent.Controller.{i}.InheritedRole",
}

// Roles of the credential tests, in the order the Agent numbers them.
const (
	roleFull      = "Device.LocalAgent.ControllerTrust.Role.1"
	roleReadOnly  = "Device.LocalAgent.ControllerTrust.Role.2"
	roleUntrusted = "Device.LocalAgent.ControllerTrust.Role.3"
)

// credRig is an Agent serving WebSocket with mutual TLS on loopback,
// trusting two CAs (A and B), with an administrating Controller over a
// pipe. Its Device.LocalAgent.Certificate rows are 1: CA A, 2: CA B,
// 3: the leaf of CA A's client certificate, 4: another leaf of CA A.
type credRig struct {
	*env
	url        string
	pkiA, pkiB *testenv.PKI
	otherLeaf  tls.Certificate
}

func startCredRig(t *testing.T, st *store.Memory, more ...envOption) *credRig {
	t.Helper()
	return startCredRigAuth(t, st, nil, more...)
}

// startCredRigAuth is startCredRig with an authentication hook on the
// Agent's WebSocket server.
func startCredRigAuth(t *testing.T, st *store.Memory, auth ws.AuthFunc, more ...envOption) *credRig {
	t.Helper()
	pkiA := testenv.NewPKI(t, "proto::ctl-a")
	pkiB := testenv.NewPKI(t, "proto::ctl-b")
	u, _ := url.Parse("urn:bbf:usp:id:proto::ctl-other")
	other := pkiA.Issue(t, "proto::ctl-other", []*url.URL{u}, nil, nil)
	caA, caB := parsePEM(t, pkiA.CAPEM), parsePEM(t, pkiB.CAPEM)
	pool := x509.NewCertPool()
	pool.AddCert(caA)
	pool.AddCert(caB)
	srvTLS := pkiA.ServerConfig()
	srvTLS.ClientCAs = pool
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: agentID, Path: "/usp", TLS: srvTLS, Authenticate: auth})
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, st, func(o *agent.Options) {
		o.MTPs = append(o.MTPs, agent.MTP{Protocol: "WebSocket", Transport: srv})
		o.Certificates = []*x509.Certificate{caA, caB, pkiA.Client.Leaf, other.Leaf}
		o.Factory = &agent.Config{
			Roles: []agent.RoleConfig{
				{Name: "Full Access", Permissions: []agent.PermissionConfig{{Targets: []string{"Device."}, Param: "rw-n", Obj: "rw-n", InstantiatedObj: "rw-n", CommandEvent: "r-xn"}}},
				{Name: "Read Only", Permissions: []agent.PermissionConfig{{Targets: []string{"Device."}, Param: "r---", Obj: "r---", InstantiatedObj: "r---", CommandEvent: "r---"}}},
				{Name: "Untrusted", Permissions: []agent.PermissionConfig{{Targets: []string{"Device.LocalAgent.EndpointID"}, Param: "r---", Obj: "----", InstantiatedObj: "----", CommandEvent: "----"}}},
			},
			UntrustedRole: "Untrusted",
			Controllers:   []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}},
		}
		for _, f := range more {
			f(o)
		}
	})
	return &credRig{env: e, url: "wss://localhost:" + strings.TrimPrefix(srv.Addr().String(), "127.0.0.1:") + "/usp", pkiA: pkiA, pkiB: pkiB, otherLeaf: other}
}

func parsePEM(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wsCtl is a Controller dialing the Agent's WebSocket server with a
// client certificate.
type wsCtl struct {
	t   *testing.T
	id  string
	cli *ws.Client
	seq atomic.Int64

	mu      sync.Mutex
	waiting map[string]chan *wire.Msg
}

func (r *credRig) dial(t *testing.T, cert tls.Certificate, id string) *wsCtl {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: r.pkiA.CAPool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	c := &wsCtl{t: t, id: id, cli: ws.NewClient(&ws.Options{EndpointID: id, URL: r.url, TLS: cfg}), waiting: map[string]chan *wire.Msg{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.cli.Serve(ctx, mtp.HandlerFunc(c.handle))
	}()
	t.Cleanup(func() { cancel(); c.cli.Close(); <-done })
	return c
}

func (c *wsCtl) handle(ctx context.Context, in mtp.Inbound) {
	var rec record.Record
	if err := record.Decode(in.Record, &rec, nil); err != nil || rec.Type != record.TypeNoSessionContext {
		return // connect records
	}
	var msg wire.Msg
	if err := wire.UnmarshalMsg(rec.Payload, &msg); err != nil {
		c.t.Errorf("bad msg: %v", err)
		return
	}
	c.mu.Lock()
	ch := c.waiting[msg.GetHeader().GetMsgId()]
	c.mu.Unlock()
	if ch != nil {
		ch <- &msg
	}
}

// try sends req and returns the reply, or nil when none comes within
// wait.
func (c *wsCtl) try(req *wire.Request, wait time.Duration) *wire.Msg {
	c.t.Helper()
	id := fmt.Sprintf("%s-%d", c.id, c.seq.Add(1))
	ch := make(chan *wire.Msg, 1)
	c.mu.Lock()
	c.waiting[id] = ch
	c.mu.Unlock()
	m := &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.RequestMsgType(req)}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}}
	payload, err := wire.MarshalMsg(m)
	if err != nil {
		c.t.Fatal(err)
	}
	b, err := record.NewNoSession(agentID, c.id, payload).MarshalBinary()
	if err != nil {
		c.t.Fatal(err)
	}
	// The connection may still be coming up: the client queues.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.cli.Send(ctx, "", b); err != nil {
		c.t.Fatal(err)
	}
	select {
	case r := <-ch:
		return r
	case <-time.After(wait):
		return nil
	}
}

func (c *wsCtl) do(req *wire.Request) *wire.Msg {
	c.t.Helper()
	m := c.try(req, 5*time.Second)
	if m == nil {
		c.t.Fatalf("%s: no reply to %v", c.id, req)
	}
	return m
}

// reads reports whether the Controller read path's value (a GetResp that
// holds it).
func (c *wsCtl) reads(path string) bool {
	c.t.Helper()
	m := c.do(get(path))
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, r := range rp.GetResolvedPathResults() {
			for k := range r.GetResultParams() {
				if r.GetResolvedPath()+k == path {
					return true
				}
			}
		}
	}
	return false
}

// writes reports whether a Set of the Controller's own
// PeriodicNotifInterval succeeded.
func (c *wsCtl) writes(row string) bool {
	c.t.Helper()
	m := c.do(setReq(false, row, "PeriodicNotifInterval", "42"))
	if code := opFailureCode(m); code != 0 && code != 7006 {
		c.t.Errorf("set: %v, want a SetResp or 7006 (Permission denied)", m)
	}
	return m.GetBody().GetResponse().GetSetResp() != nil
}

// controllerRow returns the Controller row of id as the administrator
// reads it, with its path.
func (r *credRig) controllerRow(t *testing.T, id string) (string, map[string]string) {
	t.Helper()
	m := r.ctl.do(get("Device.LocalAgent.Controller."))
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, res := range rp.GetResolvedPathResults() {
			if res.GetResultParams()["EndpointID"] == id && strings.Count(strings.TrimPrefix(res.GetResolvedPath(), "Device.LocalAgent.Controller."), ".") == 1 {
				return res.GetResolvedPath(), res.GetResultParams()
			}
		}
	}
	t.Fatalf("no Controller row for %s in %v", id, m)
	return "", nil
}

func (r *credRig) set(t *testing.T, path string, kv ...string) {
	t.Helper()
	if m := r.ctl.do(setReq(false, path, kv...)); m.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("set %s %v: %v", path, kv, m)
	}
}

// TestCredentialInheritedRole: a Controller whose certificate a CA of an
// enabled MTP-and-USP ControllerTrust.Credential entry validated inherits
// the entry's Role, shown in its InheritedRole, and gets no more than it
// ([R-SEC.4], "Role Associated with a Credential"); one from a CA without
// an entry gets the UntrustedRole; disabling the entry, or making it
// MTP-only, takes the Role back at once.
func TestCredentialInheritedRole(t *testing.T) {
	r := startCredRig(t, nil)
	if m := r.ctl.do(addReq("Device.LocalAgent.ControllerTrust.Credential.", "Alias", "ca-a", "Enable", "true",
		"Credential", "Device.LocalAgent.Certificate.1", "Role", roleReadOnly, "AllowedUses", "MTP-and-USP")); m.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("add credential: %v", m)
	}
	a := r.dial(t, r.pkiA.Client, "proto::ctl-a")
	if !a.reads("Device.LocalAgent.SoftwareVersion") {
		t.Fatal("the Controller validated by CA A's credential cannot read (Role.2 inherited)")
	}
	rowA, pa := r.controllerRow(t, "proto::ctl-a")
	if pa["InheritedRole"] != roleReadOnly || pa["AssignedRole"] != "" {
		t.Errorf("ctl-a: InheritedRole %q, AssignedRole %q; want %q and none", pa["InheritedRole"], pa["AssignedRole"], roleReadOnly)
	}
	if a.writes(rowA) {
		t.Error("a read-only inherited role let the Controller write")
	}
	if !a.reads(rowA + "InheritedRole") {
		t.Error("the Controller cannot Get its own InheritedRole")
	}
	if m := a.do(setReq(false, rowA, "InheritedRole", roleFull)); m.GetBody().GetResponse().GetSetResp() != nil {
		t.Error("InheritedRole was written by a Controller")
	}

	b := r.dial(t, r.pkiB.Client, "proto::ctl-b")
	if b.reads("Device.LocalAgent.SoftwareVersion") {
		t.Error("a Controller from a CA without a credential reads beyond the UntrustedRole")
	}
	if !b.reads("Device.LocalAgent.EndpointID") {
		t.Error("the UntrustedRole's read is refused")
	}
	if _, pb := r.controllerRow(t, "proto::ctl-b"); pb["AssignedRole"] != roleUntrusted || pb["InheritedRole"] != "" {
		t.Errorf("ctl-b: AssignedRole %q, InheritedRole %q; want %q and none", pb["AssignedRole"], pb["InheritedRole"], roleUntrusted)
	}

	r.set(t, "Device.LocalAgent.ControllerTrust.Credential.1.", "Enable", "false")
	if a.reads("Device.LocalAgent.SoftwareVersion") {
		t.Error("the inherited role outlived its disabled credential")
	}
	if _, pa := r.controllerRow(t, "proto::ctl-a"); pa["InheritedRole"] != "" {
		t.Errorf("InheritedRole %q after the credential was disabled", pa["InheritedRole"])
	}
	r.set(t, "Device.LocalAgent.ControllerTrust.Credential.1.", "Enable", "true")
	if !a.reads("Device.LocalAgent.SoftwareVersion") {
		t.Error("the role is not inherited again once the credential is enabled")
	}
	r.set(t, "Device.LocalAgent.ControllerTrust.Credential.1.", "AllowedUses", "MTP-only")
	if a.reads("Device.LocalAgent.SoftwareVersion") {
		t.Error("an MTP-only credential gave a role")
	}
	// A role changed in the Credential entry is the one inherited.
	r.set(t, "Device.LocalAgent.ControllerTrust.Credential.1.", "AllowedUses", "MTP-and-USP", "Role", roleFull)
	if !a.writes(rowA) {
		t.Error("the credential's new Role (full access) is not applied")
	}
	if _, pa := r.controllerRow(t, "proto::ctl-a"); pa["InheritedRole"] != roleFull {
		t.Errorf("InheritedRole %q, want %q", pa["InheritedRole"], roleFull)
	}
	// An entry with no Role and a Controller with no AssignedRole: the
	// UntrustedRole, written to AssignedRole.
	r.set(t, "Device.LocalAgent.ControllerTrust.Credential.1.", "Role", "")
	if a.reads("Device.LocalAgent.SoftwareVersion") || !a.reads("Device.LocalAgent.EndpointID") {
		t.Error("a credential with no Role does not leave the UntrustedRole alone")
	}
	if _, pa := r.controllerRow(t, "proto::ctl-a"); pa["AssignedRole"] != roleUntrusted {
		t.Errorf("AssignedRole %q, want the UntrustedRole %q", pa["AssignedRole"], roleUntrusted)
	}
}

// TestCredentialUnion: the permissions are the union of the AssignedRole
// and InheritedRole roles ("A Controller's Role").
func TestCredentialUnion(t *testing.T) {
	r := startCredRig(t, nil)
	r.ctl.do(addReq("Device.LocalAgent.ControllerTrust.Credential.", "Enable", "true",
		"Credential", "Device.LocalAgent.Certificate.1", "Role", roleUntrusted, "AllowedUses", "MTP-and-USP"))
	a := r.dial(t, r.pkiA.Client, "proto::ctl-a")
	if a.reads("Device.LocalAgent.SoftwareVersion") || !a.reads("Device.LocalAgent.EndpointID") {
		t.Fatal("inherited untrusted role not applied alone")
	}
	rowA, _ := r.controllerRow(t, "proto::ctl-a")
	r.set(t, rowA, "AssignedRole", roleReadOnly) // applies at once
	if !a.reads("Device.LocalAgent.SoftwareVersion") || !a.reads("Device.LocalAgent.EndpointID") {
		t.Error("AssignedRole and InheritedRole are not combined")
	}
	if _, pa := r.controllerRow(t, "proto::ctl-a"); pa["InheritedRole"] != roleUntrusted {
		t.Errorf("InheritedRole %q, want %q", pa["InheritedRole"], roleUntrusted)
	}
}

// TestControllerCredentialMismatch: a Controller whose
// Controller.{i}.Credential lists certificates must present one of them:
// its Records are dropped otherwise [R-SEC.4].
func TestControllerCredentialMismatch(t *testing.T) {
	r := startCredRig(t, nil)
	a := r.dial(t, r.pkiA.Client, "proto::ctl-a")
	if !a.reads("Device.LocalAgent.EndpointID") {
		t.Fatal("no answer before Controller.{i}.Credential is set")
	}
	rowA, _ := r.controllerRow(t, "proto::ctl-a")
	r.set(t, rowA, "Credential", "Device.LocalAgent.Certificate.4")
	if m := a.try(get("Device.LocalAgent.EndpointID"), 1500*time.Millisecond); m != nil {
		t.Errorf("a Controller presenting another certificate than its Credential was answered: %v", m)
	}
	r.set(t, rowA, "Credential", "Device.LocalAgent.Certificate.4,Device.LocalAgent.Certificate.3")
	if !a.reads("Device.LocalAgent.EndpointID") {
		t.Error("the Controller presenting a certificate of its Credential is refused")
	}
	if m := r.ctl.do(setReq(false, rowA, "Credential", "Device.LocalAgent.Certificate.9")); opFailureCode(m) != 7012 {
		t.Errorf("Credential referring to no certificate: %v, want 7012", m)
	}
}

// TestCredentialBadReference: a Credential entry must refer to an
// existing Device.LocalAgent.Certificate row (7012, Invalid value).
func TestCredentialBadReference(t *testing.T) {
	r := startCredRig(t, nil)
	for _, ref := range []string{"Device.LocalAgent.Certificate.9", "Device.LocalAgent.Controller.1", "nonsense"} {
		m := r.ctl.do(addReq("Device.LocalAgent.ControllerTrust.Credential.", "Credential", ref, "AllowedUses", "MTP-and-USP"))
		if code := opFailureCode(m); code != 7012 {
			t.Errorf("Credential %q: %v, want 7012", ref, m)
		}
	}
	m := r.ctl.do(addReq("Device.LocalAgent.ControllerTrust.Credential.", "Credential", "Device.LocalAgent.Certificate.2", "AllowedUses", "MTP-only"))
	if m.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("a valid entry is refused: %v", m)
	}
	if v := value(t, r.ctl.do(get("Device.LocalAgent.ControllerTrust.CredentialNumberOfEntries")), "Device.LocalAgent.ControllerTrust.CredentialNumberOfEntries"); v != "1" {
		t.Errorf("CredentialNumberOfEntries %s, want 1", v)
	}
}

// opFailureCode returns the error code of a failed Add or Set: the
// Error's, or the first parameter error's when it is more precise.
func opFailureCode(m *wire.Msg) uint32 {
	er := m.GetBody().GetError()
	if er == nil {
		return 0
	}
	for _, pe := range er.GetParamErrs() {
		return pe.GetErrCode()
	}
	return er.GetErrCode()
}

// TestCredentialTrustedBroker: the Agent reaches its Controllers through
// an MQTT broker with TLS. When the broker's chain holds the certificate
// of an enabled MTP-and-broker Credential entry, the broker is a Trusted
// Broker and a Controller whose Records come through it inherits the
// entry's Role (TR-369 "Trusted Brokers", [R-SEC.26]); an MTP-only or an
// MTP-and-USP entry gives a broker's Records no Role.
func TestCredentialTrustedBroker(t *testing.T) {
	srv := testenv.StartMosquitto(t)
	ca := parsePEM(t, srv.PKI.CAPEM)
	for i, tt := range []struct {
		uses  string
		reads bool
	}{
		{"MTP-and-broker", true},
		{"MTP-only", false},
		{"MTP-and-USP", false},
	} {
		t.Run(tt.uses, func(t *testing.T) {
			agentTopic := fmt.Sprintf("usp/agent/cred-%d", i)
			m := schema.New()
			agent.Define(m)
			var a *agent.Agent
			ready := make(chan struct{})
			onState := func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
				<-ready
				a.OnState("MQTT")(ctx, p, s, err)
			}
			tr := mqtt.NewClient(&mqtt.Options{URL: "ssl://" + srv.TLS, TLS: srv.PKI.ClientConfig(), EndpointID: agentID, Topic: agentTopic,
				MinWait: 100 * time.Millisecond, OnState: onState})
			st := store.NewMemory()
			var err error
			a, err = agent.New(context.Background(), agent.Options{EndpointID: agentID, Mux: datamodel.NewMux(m), Store: st, SoftwareVersion: "test",
				Certificates: []*x509.Certificate{ca},
				MTPs:         []agent.MTP{{Protocol: "MQTT", Transport: tr}},
				Factory: &agent.Config{
					Roles: []agent.RoleConfig{
						{Name: "Read Only", Permissions: []agent.PermissionConfig{{Targets: []string{"Device."}, Param: "r---", Obj: "r---", InstantiatedObj: "r---", CommandEvent: "r---"}}},
						{Name: "Untrusted", Permissions: []agent.PermissionConfig{{Targets: []string{"Device.LocalAgent.EndpointID"}, Param: "r---", Obj: "----", InstantiatedObj: "----", CommandEvent: "----"}}},
					},
					UntrustedRole: "Untrusted",
					Credentials:   []agent.CredentialConfig{{Alias: "broker-ca", Certificate: 1, Roles: []string{"Read Only"}, AllowedUses: tt.uses}},
				}})
			if err != nil {
				t.Fatal(err)
			}
			close(ready)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })

			c := newMQTTEnd(t, srv.Plain, fmt.Sprintf("usp/controller/cred-%d", i))
			ask := func(id, path string) bool {
				t.Helper()
				for range 50 { // until the Agent's subscription is in place
					c.send(t, agentTopic, id, get(path))
					if r := c.next(200 * time.Millisecond); r != nil {
						for _, rp := range r.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
							for _, res := range rp.GetResolvedPathResults() {
								if len(res.GetResultParams()) > 0 {
									return true
								}
							}
						}
						return false
					}
				}
				t.Fatalf("no answer through the broker")
				return false
			}
			if !ask("g-1", "Device.LocalAgent.EndpointID") {
				t.Fatal("the UntrustedRole's read is refused")
			}
			if got := ask("g-2", "Device.LocalAgent.SoftwareVersion"); got != tt.reads {
				t.Errorf("AllowedUses %s: reads beyond the UntrustedRole %v, want %v", tt.uses, got, tt.reads)
			}
		})
	}
}

// TestCredentialPersists: the Credential table is kept across a restart
// like the other LocalAgent tables, while no inherited role outlives the
// process [R-SEC.21].
func TestCredentialPersists(t *testing.T) {
	st := store.NewMemory()
	r := startCredRig(t, st)
	r.ctl.do(addReq("Device.LocalAgent.ControllerTrust.Credential.", "Alias", "ca-a", "Enable", "true",
		"Credential", "Device.LocalAgent.Certificate.1", "Role", roleReadOnly, "AllowedUses", "MTP-and-USP"))
	a := r.dial(t, r.pkiA.Client, "proto::ctl-a")
	if !a.reads("Device.LocalAgent.SoftwareVersion") {
		t.Fatal("role not inherited")
	}
	if _, pa := r.controllerRow(t, "proto::ctl-a"); pa["InheritedRole"] != roleReadOnly {
		t.Fatalf("InheritedRole %q", pa["InheritedRole"])
	}
	r.stop()

	r = startCredRig(t, st)
	m := r.ctl.do(get("Device.LocalAgent.ControllerTrust.Credential.1."))
	for name, want := range map[string]string{"Alias": "ca-a", "Enable": "true", "Credential": "Device.LocalAgent.Certificate.1",
		"Role": roleReadOnly, "AllowedUses": "MTP-and-USP"} {
		if got := value(t, m, "Device.LocalAgent.ControllerTrust.Credential.1."+name); got != want {
			t.Errorf("after a restart, %s = %q, want %q", name, got, want)
		}
	}
	if _, pa := r.controllerRow(t, "proto::ctl-a"); pa["InheritedRole"] != "" {
		t.Errorf("InheritedRole %q after a restart, before any Record", pa["InheritedRole"])
	}
}

// TestCredentialConfigValidate: a factory Credential names a certificate,
// a known AllowedUses and existing roles.
func TestCredentialConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cr   agent.CredentialConfig
		err  string
	}{
		{"valid", agent.CredentialConfig{Certificate: 1, Roles: []string{"Full Access"}, AllowedUses: "MTP-and-USP"}, ""},
		{"no role: the UntrustedRole", agent.CredentialConfig{Certificate: 2, AllowedUses: "MTP-and-broker"}, ""},
		{"no certificate", agent.CredentialConfig{AllowedUses: "MTP-only"}, "credentials[0].certificate"},
		{"unknown use", agent.CredentialConfig{Certificate: 1, AllowedUses: "USP-only"}, "credentials[0].allowed_uses"},
		{"unknown role", agent.CredentialConfig{Certificate: 1, Roles: []string{"Root"}, AllowedUses: "MTP-and-USP"}, "credentials[0].roles"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := (&agent.Config{Credentials: []agent.CredentialConfig{tt.cr}}).Validate()
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("Validate: %v, want %q", err, tt.err)
			}
		})
	}
}

// ExampleCredentialConfig trusts the CA of Device.LocalAgent.Certificate.1
// to give the Controllers it certifies the "Full Access" role.
func ExampleCredentialConfig() {
	cfg := agent.Config{Credentials: []agent.CredentialConfig{
		{Alias: "operator-ca", Certificate: 1, Roles: []string{"Full Access"}, AllowedUses: "MTP-and-USP"},
	}}
	fmt.Println(cfg.Validate())
	// Output: <nil>
}

// TestCredentialFactoryBeforeCertificate: a factory Credential entry may
// name a Certificate row that AddCertificate() gives later (an Agent
// built with no certificates); it gives its Role once the row exists.
func TestCredentialFactoryBeforeCertificate(t *testing.T) {
	r := startCredRig(t, nil, func(o *agent.Options) {
		o.Certificates = nil
		o.Factory.Credentials = []agent.CredentialConfig{{Alias: "ca-a", Certificate: 1, Roles: []string{"Read Only"}, AllowedUses: "MTP-and-USP"}}
	})
	a := r.dial(t, r.pkiA.Client, "proto::ctl-a")
	if a.reads("Device.LocalAgent.SoftwareVersion") {
		t.Fatal("a role inherited from a certificate the Agent does not have")
	}
	if code := opFailure(t, r.ctl.do(addCertReq("", string(r.pkiA.CAPEM)))); code != 0 {
		t.Fatalf("AddCertificate: %d", code)
	}
	if !a.reads("Device.LocalAgent.SoftwareVersion") {
		t.Error("the factory credential gives no role once its certificate is added")
	}
}

// TestCredentialNeedsEndpointInCertificate: a Controller the MTP
// authenticated otherwise (a hook accepting it), whose certificate from a
// trusted CA does not carry its Endpoint ID, inherits no Role [R-SEC.4].
func TestCredentialNeedsEndpointInCertificate(t *testing.T) {
	accept := func(ctx context.Context, r *http.Request, eid string, certs []*x509.Certificate) error { return nil }
	r := startCredRigAuth(t, nil, accept, func(o *agent.Options) {
		o.Factory.Credentials = []agent.CredentialConfig{{Certificate: 1, Roles: []string{"Read Only"}, AllowedUses: "MTP-and-USP"}}
	})
	named := r.dial(t, r.pkiA.Client, "proto::ctl-a")
	if !named.reads("Device.LocalAgent.SoftwareVersion") {
		t.Fatal("a certificate naming the Controller inherits no role")
	}
	anon := r.dial(t, r.pkiA.Issue(t, "no-endpoint-id", nil, nil, nil), "proto::ctl-anon")
	if anon.reads("Device.LocalAgent.SoftwareVersion") {
		t.Error("a certificate without the Controller's Endpoint ID gave a role")
	}
}

// TestCredentialCertificateDeleted: deleting a Certificate row empties
// the strong references to it (a Credential entry's Credential, an item of
// a Controller's Credential), and the Role it gave goes.
func TestCredentialCertificateDeleted(t *testing.T) {
	r := startCredRig(t, nil, func(o *agent.Options) { o.Certificates = nil })
	if code := opFailure(t, r.ctl.do(addCertReq("ca-a", string(r.pkiA.CAPEM)))); code != 0 {
		t.Fatalf("AddCertificate: %d", code)
	}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.pkiA.Client.Certificate[0]})
	if code := opFailure(t, r.ctl.do(addCertReq("ctl-a", string(leafPEM)))); code != 0 {
		t.Fatalf("AddCertificate: %d", code)
	}
	r.ctl.do(addReq("Device.LocalAgent.ControllerTrust.Credential.", "Enable", "true",
		"Credential", "Device.LocalAgent.Certificate.1", "Role", roleReadOnly, "AllowedUses", "MTP-and-USP"))
	a := r.dial(t, r.pkiA.Client, "proto::ctl-a")
	if !a.reads("Device.LocalAgent.SoftwareVersion") {
		t.Fatal("role not inherited")
	}
	rowA, _ := r.controllerRow(t, "proto::ctl-a")
	r.set(t, rowA, "Credential", "Device.LocalAgent.Certificate.1,Device.LocalAgent.Certificate.2")
	if code := opFailure(t, r.ctl.do(operateReq("Device.LocalAgent.Certificate.1.Delete()", "", true, nil))); code != 0 {
		t.Fatalf("Delete(): %d", code)
	}
	if v := value(t, r.ctl.do(get("Device.LocalAgent.ControllerTrust.Credential.1.Credential")), "Device.LocalAgent.ControllerTrust.Credential.1.Credential"); v != "" {
		t.Errorf("Credential.1.Credential %q after its certificate was deleted", v)
	}
	if _, pa := r.controllerRow(t, "proto::ctl-a"); pa["Credential"] != "Device.LocalAgent.Certificate.2" {
		t.Errorf("Controller Credential %q, want the remaining Certificate.2", pa["Credential"])
	}
	if a.reads("Device.LocalAgent.SoftwareVersion") {
		t.Error("the role outlived the certificate that gave it")
	}
}
