package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/usperr"
)

// Stored form of the certificates Device.LocalAgent.AddCertificate() adds:
// one store.Item each, by instance number, and the counter of instance
// numbers, so that a deleted entry's number is not given again.
const (
	addedCertKind    = "localagent-certificate"
	addedCertCounter = "agent:Device.LocalAgent.Certificate.added"
)

// TrustStore holds the trust anchors that Controllers add with
// Device.LocalAgent.AddCertificate() (TR-181 2.16, TR-369 "Certificate
// Management") and puts them to use on the Agent's MTP connections: a
// TLS configuration wrapped by ServerTLS verifies the client certificates
// of every new connection against its own ClientCAs and the certificates
// added so far, without a restart. Its zero value is not usable; call
// NewTrustStore. Hand the same TrustStore to Options.Trust and to the MTPs'
// TLS configurations.
type TrustStore struct {
	// opMu serialises AddCertificate() and Delete(); next is the last
	// instance number given.
	opMu sync.Mutex
	next uint32

	mu    sync.Mutex
	certs []*addedCert // by instance number
	gen   uint64       // counts changes of certs
	pools map[*x509.CertPool]mergedPool
}

// addedCert is one entry added by AddCertificate().
type addedCert struct {
	instance uint32
	alias    string
	cert     *x509.Certificate
	disabled bool // Certificate.{i}.Enable false: listed, not trusted
}

// mergedPool is a base pool with the added certificates, as of gen.
type mergedPool struct {
	gen  uint64
	pool *x509.CertPool
}

// NewTrustStore returns an empty TrustStore.
func NewTrustStore() *TrustStore {
	return &TrustStore{pools: map[*x509.CertPool]mergedPool{}}
}

// Certificates returns the certificates added so far and enabled, in the
// order of their Device.LocalAgent.Certificate instance numbers.
func (s *TrustStore) Certificates() []*x509.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*x509.Certificate
	for _, c := range s.certs {
		if !c.disabled {
			out = append(out, c.cert)
		}
	}
	return out
}

// ServerTLS returns a copy of cfg, the configuration of an MTP on which
// the Agent is the TLS server (a WebSocket listener), whose handshakes
// verify client certificates against cfg.ClientCAs (the system's roots
// when nil) and every certificate added at the time of the handshake.
// With none added, handshakes use cfg as it is. nil stays nil.
func (s *TrustStore) ServerTLS(cfg *tls.Config) *tls.Config {
	if cfg == nil || s == nil {
		return cfg
	}
	base := cfg.Clone()
	c := cfg.Clone()
	next := cfg.GetConfigForClient
	c.GetConfigForClient = func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		from := base
		if next != nil {
			nc, err := next(hi)
			if err != nil {
				return nil, err
			}
			if nc != nil {
				from = nc
			}
		}
		pool, err := s.merged(from.ClientCAs)
		if err != nil || pool == nil {
			if from == base {
				return nil, err
			}
			return from, err
		}
		out := from.Clone()
		out.GetConfigForClient = nil
		out.ClientCAs = pool
		return out, nil
	}
	return c
}

// ClientTLS returns a copy of cfg, the configuration of an MTP on which
// the Agent is the TLS client (MQTT, STOMP, a WebSocket client), whose
// RootCAs (the system's when nil) also hold the certificates added by
// the time of the call: a transport opened after AddCertificate() trusts
// the new anchor, while one already open keeps the roots it was given.
// nil stays nil.
func (s *TrustStore) ClientTLS(cfg *tls.Config) *tls.Config {
	if cfg == nil || s == nil {
		return cfg
	}
	pool, err := s.merged(cfg.RootCAs)
	if err != nil || pool == nil {
		return cfg
	}
	c := cfg.Clone()
	c.RootCAs = pool
	return c
}

// merged returns base with the added certificates, nil when none are
// added. Results are kept per base pool until the next change.
func (s *TrustStore) merged(base *x509.CertPool) (*x509.CertPool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.ContainsFunc(s.certs, func(c *addedCert) bool { return !c.disabled }) {
		return nil, nil
	}
	if m, ok := s.pools[base]; ok && m.gen == s.gen {
		return m.pool, nil
	}
	var pool *x509.CertPool
	if base != nil {
		pool = base.Clone()
	} else {
		sys, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("agent: system roots: %w", err)
		}
		pool = sys
	}
	for _, c := range s.certs {
		if !c.disabled {
			pool.AddCert(c.cert)
		}
	}
	if len(s.pools) > 64 { // bases are the MTPs' own pools: a handful
		clear(s.pools)
	}
	s.pools[base] = mergedPool{gen: s.gen, pool: pool}
	return pool, nil
}

// find returns the entry with instance number n.
func (s *TrustStore) find(n uint32) *addedCert {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.certs {
		if c.instance == n {
			return c
		}
	}
	return nil
}

// entries returns a copy of the added entries.
func (s *TrustStore) entries() []*addedCert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.certs)
}

// insert adds c, keeping instance order.
func (s *TrustStore) insert(c *addedCert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.certs, c.instance, func(x *addedCert, n uint32) int { return int(int64(x.instance) - int64(n)) })
	s.certs = slices.Insert(s.certs, i, c)
	s.gen++
}

// replace swaps the entry with c's instance number for c (entries are
// never changed in place: readers hold them without the lock).
func (s *TrustStore) replace(c *addedCert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.certs {
		if x.instance == c.instance {
			s.certs[i] = c
			s.gen++
		}
	}
}

// reset forgets every entry.
func (s *TrustStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs = nil
	s.gen++
}

// remove deletes the entry with instance number n.
func (s *TrustStore) remove(n uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs = slices.DeleteFunc(s.certs, func(c *addedCert) bool { return c.instance == n })
	s.gen++
}

// storedCert is the stored form of an added certificate.
type storedCert struct {
	Alias    string `json:"alias"`
	PEM      string `json:"pem"`
	Disabled bool   `json:"disabled,omitempty"`
}

// trust returns the Agent's TrustStore.
func (a *Agent) trust() *TrustStore { return a.opt.Trust }

// loadAddedCerts restores the certificates added by earlier runs from
// the store's snapshot. An entry that no longer parses is logged and
// left out, and one whose number is now taken by a configured certificate
// (Options.Certificates grew) is given a new number.
func (a *Agent) loadAddedCerts(ctx context.Context, snap *store.Snapshot) error {
	ac := a.trust()
	ac.opMu.Lock()
	defer ac.opMu.Unlock()
	ac.next = max(snap.Counters[addedCertCounter], uint32(len(a.opt.Certificates)))
	ac.reset()
	var moved []store.Item
	var dropped []store.Item
	for _, it := range snap.Items {
		if it.Kind != addedCertKind {
			continue
		}
		n, err := strconv.ParseUint(it.ID, 10, 32)
		var sc storedCert
		if err == nil {
			err = json.Unmarshal(it.Data, &sc)
		}
		var cert *x509.Certificate
		if err == nil {
			cert, err = parseCertPEM(sc.PEM)
		}
		if err != nil {
			a.log.WarnContext(ctx, "stored certificate left out", "id", it.ID, "err", err)
			continue
		}
		inst := uint32(n)
		if inst <= uint32(len(a.opt.Certificates)) || a.trust().find(inst) != nil {
			ac.next++
			dropped = append(dropped, store.Item{Kind: addedCertKind, ID: it.ID})
			inst = ac.next
			moved = append(moved, store.Item{Kind: addedCertKind, ID: strconv.FormatUint(uint64(inst), 10), Data: it.Data})
		}
		ac.next = max(ac.next, inst)
		a.trust().insert(&addedCert{instance: inst, alias: sc.Alias, cert: cert, disabled: sc.Disabled})
	}
	if len(moved) == 0 {
		return nil
	}
	return a.opt.Store.Apply(ctx, &store.Batch{DeleteItems: dropped, PutItems: moved, Counters: map[string]uint32{addedCertCounter: ac.next}})
}

// parseCertPEM returns the single X.509 certificate of a PEM text
// (RFC 7468). Text around the block is allowed, as PEM allows it; more
// than one block, another block type or a DER that does not parse are
// not.
func parseCertPEM(s string) (*x509.Certificate, error) {
	b, rest := pem.Decode([]byte(s))
	if b == nil {
		return nil, fmt.Errorf("not a PEM certificate (RFC 7468)")
	}
	if b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("a PEM %q block, not a CERTIFICATE", b.Type)
	}
	if more, _ := pem.Decode(rest); more != nil {
		return nil, fmt.Errorf("more than one PEM block: give one certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not an X.509 certificate: %w", err)
	}
	return c, nil
}

// certEntry is one row of Device.LocalAgent.Certificate: a configured
// certificate (instances 1 to len(Options.Certificates)) or an added one.
type certEntry struct {
	instance uint32
	alias    string
	cert     *x509.Certificate
	added    bool
	disabled bool
}

// certEntries returns every row of Device.LocalAgent.Certificate.
func (a *Agent) certEntries() []certEntry {
	var out []certEntry
	for i, c := range a.opt.Certificates {
		out = append(out, certEntry{instance: uint32(i + 1), alias: "cpe-" + strconv.Itoa(i+1), cert: c})
	}
	for _, c := range a.trust().entries() {
		out = append(out, certEntry{instance: c.instance, alias: c.alias, cert: c.cert, added: true, disabled: c.disabled})
	}
	return out
}

// certEntry returns the row with instance number n.
func (a *Agent) certEntry(n uint32) (certEntry, bool) {
	if n >= 1 && int(n) <= len(a.opt.Certificates) {
		return certEntry{instance: n, alias: "cpe-" + strconv.Itoa(int(n)), cert: a.opt.Certificates[n-1]}, true
	}
	if c := a.trust().find(n); c != nil {
		return certEntry{instance: c.instance, alias: c.alias, cert: c.cert, added: true, disabled: c.disabled}, true
	}
	return certEntry{}, false
}

// addCertificate is Device.LocalAgent.AddCertificate(): it adds the PEM
// Certificate to Device.LocalAgent.Certificate with the SerialNumber and
// Issuer it carries, under Alias (cpe-N when none is given), stores it,
// and makes it a trust anchor of new MTP connections through the
// TrustStore: a trusted CA certificate provided by a secure means
// [R-SEC.2]. A Certificate that is not one PEM X.509 certificate fails
// with 7027 (Invalid command arguments); one whose SerialNumber and
// Issuer, or an Alias that is already in the table, with 7025 (Object
// exists with duplicate key), as TR-181 has the command fail then.
func (a *Agent) addCertificate(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	cert, err := parseCertPEM(r.Values["Certificate"])
	if err != nil {
		a.log.InfoContext(ctx, "AddCertificate refused", "controller", r.Caller.EndpointID, "err", err)
		return usperr.Errorf(usperr.CodeInvalidCommandArgs, "Certificate: %v", err)
	}
	alias, aliasGiven := r.Values["Alias"]
	if aliasGiven && alias != "" {
		if err := checkCertAlias(alias); err != nil {
			a.log.InfoContext(ctx, "AddCertificate refused", "controller", r.Caller.EndpointID, "err", err)
			return usperr.Errorf(usperr.CodeInvalidCommandArgs, "Alias: %v", err)
		}
	}
	serial, issuer := hexColon(cert.SerialNumber.Bytes()), cert.Issuer.String()
	ac := a.trust()
	ac.opMu.Lock()
	defer ac.opMu.Unlock()
	for _, e := range a.certEntries() {
		if hexColon(e.cert.SerialNumber.Bytes()) == serial && e.cert.Issuer.String() == issuer {
			a.log.InfoContext(ctx, "AddCertificate refused: already present", "controller", r.Caller.EndpointID, "instance", e.instance)
			return usperr.Errorf(usperr.CodeDuplicateKey, "Certificate: %sCertificate.%d. has SerialNumber %s and Issuer %q (delete it first to replace it)",
				pathLocalAgent, e.instance, serial, issuer)
		}
		if alias != "" && e.alias == alias {
			return usperr.Errorf(usperr.CodeDuplicateKey, "Alias: %q is the Alias of %sCertificate.%d.", alias, pathLocalAgent, e.instance)
		}
	}
	n := ac.next + 1
	if alias == "" {
		alias = "cpe-" + strconv.FormatUint(uint64(n), 10)
		for _, e := range a.certEntries() {
			if e.alias == alias {
				return usperr.Errorf(usperr.CodeDuplicateKey, "Alias: the default %q is taken; give an Alias", alias)
			}
		}
	}
	data, err := json.Marshal(storedCert{Alias: alias, PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))})
	if err != nil {
		return usperr.Errorf(usperr.CodeInternal, "%v", err)
	}
	id := strconv.FormatUint(uint64(n), 10)
	if err := a.opt.Store.Apply(ctx, &store.Batch{PutItems: []store.Item{{Kind: addedCertKind, ID: id, Data: data}},
		Counters: map[string]uint32{addedCertCounter: n}}); err != nil {
		a.log.ErrorContext(ctx, "AddCertificate: store", "err", err)
		return usperr.Errorf(usperr.CodeCommandFailure, "the certificate could not be stored: %v", err)
	}
	ac.next = n
	a.trust().insert(&addedCert{instance: n, alias: alias, cert: cert})
	a.log.InfoContext(ctx, "certificate added", "controller", r.Caller.EndpointID, "instance", n, "alias", alias,
		"subject", cert.Subject.String(), "issuer", issuer, "serial", serial)
	return nil
}

// deleteCertificate is Device.LocalAgent.Certificate.{i}.Delete() for an
// added certificate: the entry, its stored copy and its place among the
// trust anchors of new connections go. A configured certificate cannot
// be deleted (7022, Command failure).
func (a *Agent) deleteCertificate(ctx context.Context, e certEntry, r *datamodel.Request) error {
	if !e.added {
		return usperr.Errorf(usperr.CodeCommandFailure, "%s is configured on the device and cannot be deleted", r.Path)
	}
	ac := a.trust()
	ac.opMu.Lock()
	defer ac.opMu.Unlock()
	if a.trust().find(e.instance) == nil {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", r.Path)
	}
	id := strconv.FormatUint(uint64(e.instance), 10)
	if err := a.opt.Store.Apply(ctx, &store.Batch{DeleteItems: []store.Item{{Kind: addedCertKind, ID: id}}}); err != nil {
		a.log.ErrorContext(ctx, "Certificate Delete(): store", "err", err)
		return usperr.Errorf(usperr.CodeCommandFailure, "the certificate could not be removed from the store: %v", err)
	}
	a.trust().remove(e.instance)
	a.dropCertRefs(ctx, e.instance) // credential.go
	a.log.InfoContext(ctx, "certificate deleted", "controller", r.Caller.EndpointID, "instance", e.instance, "alias", e.alias)
	return nil
}

// checkCertAlias applies TR-181's Alias data type: at most 64 characters,
// starting with a letter.
func checkCertAlias(s string) error {
	if len(s) > 64 {
		return fmt.Errorf("%q is longer than 64 characters", s)
	}
	if c := s[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return fmt.Errorf("%q does not start with a letter", s)
	}
	if strings.ContainsAny(s, ".") {
		return fmt.Errorf("%q holds a '.'", s)
	}
	return nil
}

// setCertificate is a Set of an added row's writable parameters, Alias
// and Enable (TR-181 has both readWrite): a disabled certificate stays
// listed but is no trust anchor of new connections. The configured rows
// cannot be changed (7002, Request denied).
func (a *Agent) setCertificate(ctx context.Context, e certEntry, r *datamodel.Request) error {
	if !e.added {
		return usperr.Errorf(usperr.CodeRequestDenied, "%s is configured on the device and cannot be changed", r.Path)
	}
	ts := a.trust()
	ts.opMu.Lock()
	defer ts.opMu.Unlock()
	cur := ts.find(e.instance)
	if cur == nil {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", r.Path)
	}
	next := *cur
	for name, v := range r.Values {
		switch name {
		case "Alias":
			if err := checkCertAlias(v); v == "" || err != nil {
				return usperr.Errorf(usperr.CodeInvalidValue, "Alias: %q is not an Alias", v)
			}
			for _, o := range a.certEntries() {
				if o.instance != e.instance && o.alias == v {
					return usperr.Errorf(usperr.CodeValueConflict, "Alias: %q is the Alias of %sCertificate.%d.", v, pathLocalAgent, o.instance)
				}
			}
			next.alias = v
		case "Enable":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return usperr.Errorf(usperr.CodeInvalidType, "Enable: %q is not a boolean", v)
			}
			next.disabled = !b
		default:
			return usperr.Errorf(usperr.CodeParamReadOnly, "%s is read-only", name)
		}
	}
	if r.CheckOnly || (next.alias == cur.alias && next.disabled == cur.disabled) {
		return nil
	}
	data, err := json.Marshal(storedCert{Alias: next.alias, Disabled: next.disabled,
		PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: next.cert.Raw}))})
	if err != nil {
		return usperr.Errorf(usperr.CodeInternal, "%v", err)
	}
	id := strconv.FormatUint(uint64(e.instance), 10)
	if err := a.opt.Store.Apply(ctx, &store.Batch{PutItems: []store.Item{{Kind: addedCertKind, ID: id, Data: data}}}); err != nil {
		a.log.ErrorContext(ctx, "Certificate set: store", "err", err)
		return usperr.Errorf(usperr.CodeInternal, "the change could not be stored: %v", err)
	}
	ts.replace(&next)
	a.log.InfoContext(ctx, "certificate changed", "controller", r.Caller.EndpointID, "instance", e.instance, "alias", next.alias, "enable", !next.disabled)
	return nil
}
