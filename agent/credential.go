package agent

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// Roles from certificates (TR-369 "Trusted Certificate Authorities",
// "Trusted Brokers", "Role Associated with a Credential or Challenge",
// "Assigning Controller Roles"; TR-181 Device.LocalAgent.ControllerTrust.
// Credential.{i}, Controller.{i}.Credential and InheritedRole):
//
//   - An enabled ControllerTrust.Credential entry names a
//     Device.LocalAgent.Certificate row (a CA, or a Controller's or a
//     broker's own certificate) and what it is trusted for (AllowedUses).
//   - When the certificate chain that authenticated a Record's sender (the
//     chain of a connection whose leaf names the Record's from_id in a
//     urn:bbf:usp:id subjectAltName [R-SEC.4]) holds the certificate of an
//     MTP-and-USP entry, the Controller inherits that entry's Role: only the
//     first matching certificate of the chain, leaf first, counts
//     [R-SEC.25]. The Agent writes the Role to Controller.{i}.InheritedRole,
//     and the Controller's permissions are the union of its AssignedRole
//     and InheritedRole roles.
//   - An entry validating the Controller with an empty Role gives a
//     Controller whose AssignedRole is empty the UntrustedRole, written to
//     its AssignedRole.
//   - MTP-only entries authorize connectivity and no Role.
//   - MTP-and-broker: when the connection's certificate is a broker's (the
//     MTP names no sender: MQTT, STOMP) and its chain holds the certificate
//     of an MTP-and-broker entry, the broker is a Trusted Broker and the
//     Controllers whose Records come through it inherit that entry's Role
//     (TR-369 allows this policy; it is what this Agent does).
//   - Any other Record (no certificate, one no entry matches) leaves its
//     sender with no inherited Role.
//   - A Controller whose Controller.{i}.Credential lists certificates must
//     present one of them, as the leaf of a chain naming it [R-SEC.4], or
//     come through a Trusted Broker: other Records from it are dropped and
//     logged, as a from_id that does not match the certificate's.
//
// Inherited roles live in memory: after a restart, none is held until a
// Record is validated again [R-SEC.21]. Any change of the Credential
// table, of a Controller or of a Role rebuilds the permissions at once.

// Values of ControllerTrust.Credential.{i}.AllowedUses.
const (
	usesMTPOnly   = "MTP-only"
	usesMTPAndUSP = "MTP-and-USP"
	usesBroker    = "MTP-and-broker"
)

const (
	pathCredentials  = "Device.LocalAgent.ControllerTrust.Credential."
	pathCertificates = "Device.LocalAgent.Certificate."
)

// defineCredentials adds ControllerTrust.Credential.{i} and the
// Controller's Credential and InheritedRole, as TR-181 2.16 has them.
func defineCredentials(m *schema.Model) {
	m.Extend("Device.LocalAgent.Controller.{i}.").
		Param("InheritedRole", schema.String(schema.ListOf(0, 0), schema.Ref())).
		Param("Credential", schema.String(schema.ListOf(0, 0), schema.Ref()), schema.ReadWrite)
	m.Extend("Device.LocalAgent.ControllerTrust.").
		Param("CredentialNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.LocalAgent.ControllerTrust.Credential.{i}.", schema.ObjAddDelete, schema.Keys("Credential"), schema.AliasKey(),
		schema.NumEntries("CredentialNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Role", schema.String(schema.ListOf(0, 0), schema.Ref()), schema.ReadWrite).
		Param("Credential", schema.String(schema.Ref()), schema.ReadWrite).
		Param("AllowedUses", schema.String(schema.Enum(usesMTPOnly, usesMTPAndUSP, usesBroker)), schema.ReadWrite)
}

// credEntry is one enabled ControllerTrust.Credential row.
type credEntry struct {
	ref   string   // "Device.LocalAgent.ControllerTrust.Credential.1"
	cert  uint32   // Device.LocalAgent.Certificate instance
	roles []string // Role references
	uses  string
}

// inheritance is the Role a Controller inherited and the entry it came from.
type inheritance struct {
	src   string
	roles []string
}

// credACL is the part of acl fed by certificates; acl.mu guards it.
type credACL struct {
	entries   []credEntry         // replaced whole, never changed in place
	ctrlCreds map[string][]uint32 // Controller Endpoint ID → Controller.{i}.Credential instances
	inherited map[string]inheritance
	active    atomic.Bool // anything above: Records are looked at
}

// withInherited returns refs and the roles the Controller id inherited;
// l.mu is held.
func (l *acl) withInherited(id string, refs []string) []string {
	if inh, ok := l.cred.inherited[id]; ok && len(inh.roles) > 0 {
		return append(slices.Clip(refs), inh.roles...)
	}
	return refs
}

// setCredentials replaces the Credential configuration and brings the
// inherited roles in line with it: an entry that is gone, disabled or no
// longer trusted for the use takes its roles back, and one whose Role
// changed gives the new value.
func (l *acl) setCredentials(entries []credEntry, ctrlCreds map[string][]uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cred.entries, l.cred.ctrlCreds = entries, ctrlCreds
	for id, inh := range l.cred.inherited {
		i := slices.IndexFunc(entries, func(e credEntry) bool { return e.ref == inh.src })
		if i < 0 || entries[i].uses != usesMTPAndUSP && entries[i].uses != usesBroker {
			delete(l.cred.inherited, id)
			continue
		}
		inh.roles = entries[i].roles
		l.cred.inherited[id] = inh
	}
	l.cached = nil
	l.gen++
	l.cred.active.Store(len(entries) > 0 || len(ctrlCreds) > 0 || len(l.cred.inherited) > 0)
}

// setInherited records the roles the Controller id inherits from the
// entry src (none when src is empty) and drops its cached permissions at
// once; it reports a change.
func (l *acl) setInherited(id, src string, roles []string) bool {
	same := func() bool {
		cur, had := l.cred.inherited[id]
		return !had && src == "" || had && cur.src == src && slices.Equal(cur.roles, roles)
	}
	l.mu.RLock()
	unchanged := same() // the usual case: no write lock per Record
	l.mu.RUnlock()
	if unchanged {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if src != "" { // the entry as it is now, not as the caller read it
		i := slices.IndexFunc(l.cred.entries, func(e credEntry) bool { return e.ref == src })
		if i < 0 || l.cred.entries[i].uses != usesMTPAndUSP && l.cred.entries[i].uses != usesBroker {
			src, roles = "", nil
		} else {
			roles = l.cred.entries[i].roles
		}
	}
	if same() {
		return false
	}
	_, had := l.cred.inherited[id]
	if src == "" {
		if !had {
			return false
		}
		delete(l.cred.inherited, id)
	} else {
		if l.cred.inherited == nil {
			l.cred.inherited = map[string]inheritance{}
		}
		l.cred.inherited[id] = inheritance{src: src, roles: roles}
		l.cred.active.Store(true)
	}
	delete(l.cached, id)
	l.gen++
	return true
}

// inheritedRoles returns the value of InheritedRole for Controller id.
func (l *acl) inheritedRoles(id string) string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return strings.Join(l.cred.inherited[id].roles, ",")
}

// credentials returns the entries and the Controller's own credentials.
func (l *acl) credentials(id string) ([]credEntry, []uint32) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cred.entries, l.cred.ctrlCreds[id]
}

// loadCredentials reads the Credential table and Controller.{i}.Credential
// from rows (those of Device.LocalAgent.) into the ACL.
func (a *Agent) loadCredentials(rows map[string]map[string]string) {
	var entries []credEntry
	ctrlCreds := map[string][]uint32{}
	for path, p := range rows {
		if rest, ok := strings.CutPrefix(path, pathCredentials); ok && strings.Count(rest, ".") == 1 {
			n, ok := certInstance(p["Credential"])
			if p["Enable"] != "true" || !ok {
				continue
			}
			entries = append(entries, credEntry{ref: strings.TrimSuffix(path, "."), cert: n, roles: splitRoles(p["Role"]), uses: p["AllowedUses"]})
		}
		if rest, ok := strings.CutPrefix(path, pathControllers); ok && strings.Count(rest, ".") == 1 && p["Enable"] == "true" && p["Credential"] != "" {
			for ref := range strings.SplitSeq(p["Credential"], ",") {
				if n, ok := certInstance(ref); ok {
					ctrlCreds[p["EndpointID"]] = append(ctrlCreds[p["EndpointID"]], n)
				}
			}
		}
	}
	slices.SortFunc(entries, func(x, y credEntry) int { return strings.Compare(x.ref, y.ref) })
	a.acl.setCredentials(entries, ctrlCreds)
}

// certInstance reads a reference to a Device.LocalAgent.Certificate row.
func certInstance(ref string) (uint32, bool) {
	s, ok := strings.CutPrefix(strings.TrimSuffix(strings.TrimSpace(ref), "."), pathCertificates)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil && n > 0
}

// checkCertRef returns a 7012 error unless ref is a reference to an
// existing Device.LocalAgent.Certificate row.
func (a *Agent) checkCertRef(name, ref string) error {
	n, ok := certInstance(ref)
	if !ok {
		return usperr.Errorf(usperr.CodeInvalidValue, "%s: %q is not a reference to a %s{i} row", name, ref, pathCertificates)
	}
	if _, ok := a.certEntry(n); !ok {
		return usperr.Errorf(usperr.CodeInvalidValue, "%s: %s%d does not exist", name, pathCertificates, n)
	}
	return nil
}

// checkCredential keeps ControllerTrust.Credential rows valid: Credential
// refers to an existing Certificate row and Role to Role rows.
func (a *Agent) checkCredential(ctx context.Context, r *datamodel.Request) error {
	if r.Op == datamodel.OpDelete {
		return nil
	}
	if v := r.Values["Credential"]; v != "" {
		if _, ok := certInstance(v); ok && r.Caller.EndpointID == "" {
			// The factory configuration may name a certificate that
			// AddCertificate() gives later: it matches nothing till then.
		} else if err := a.checkCertRef("Credential", v); err != nil {
			a.log.InfoContext(ctx, "credential refused", "path", r.Path, "err", err)
			return err
		}
	}
	for ref := range strings.SplitSeq(r.Values["Role"], ",") {
		if ref = strings.TrimSpace(ref); ref != "" && !strings.HasPrefix(ref, pathRoles) {
			return usperr.Errorf(usperr.CodeInvalidValue, "Role: %q is not a reference to a %s{i} row", ref, pathRoles)
		}
	}
	return nil
}

// checkControllerCredential keeps Controller.{i}.Credential a list of
// references to existing Certificate rows.
func (a *Agent) checkControllerCredential(r *datamodel.Request) error {
	v, ok := r.Values["Credential"]
	if !ok || v == "" {
		return nil
	}
	for ref := range strings.SplitSeq(v, ",") {
		if err := a.checkCertRef("Credential", ref); err != nil {
			return err
		}
	}
	return nil
}

// namesEndpoint reports whether the certificate holds the URN form of the
// Endpoint ID id in a uniformResourceIdentifier subjectAltName [R-SEC.4]:
// an MTP may have authenticated its peer otherwise (a password).
func namesEndpoint(c *x509.Certificate, id string) bool {
	return slices.ContainsFunc(c.URIs, func(u *url.URL) bool { return u.String() == "urn:bbf:usp:id:"+id })
}

// certOf returns the enabled Certificate row n's certificate.
func (a *Agent) certOf(n uint32) *x509.Certificate {
	e, ok := a.certEntry(n)
	if !ok || e.disabled {
		return nil
	}
	return e.cert
}

// firstCredential returns the entry whose certificate is the first of
// chain, leaf first, that an entry names [R-SEC.25].
func (a *Agent) firstCredential(chain []*x509.Certificate, entries []credEntry) *credEntry {
	if len(entries) == 0 {
		return nil
	}
	certs := make([]*x509.Certificate, len(entries))
	for i, e := range entries {
		certs[i] = a.certOf(e.cert)
	}
	for _, c := range chain {
		for i, ec := range certs {
			if ec != nil && bytes.Equal(ec.Raw, c.Raw) {
				return &entries[i]
			}
		}
	}
	return nil
}

// admitCertificate applies the Credential rules above to a Record and
// reports whether it may be processed.
func (a *Agent) admitCertificate(ctx context.Context, in mtp.Inbound, rec *record.Record) bool {
	if !a.acl.cred.active.Load() {
		return true
	}
	certs := in.From.Certs
	entries, own := a.acl.credentials(rec.FromID)
	identifies := len(certs) > 0 && in.From.Authenticated && in.From.EndpointID == rec.FromID && namesEndpoint(certs[0], rec.FromID)
	var e *credEntry
	broker := false
	switch {
	case identifies: // the Controller's own certificate [R-SEC.4]
		e = a.firstCredential(certs, entries)
		if e != nil && e.uses != usesMTPAndUSP {
			e = nil // MTP-only: connectivity, no Role
		}
	case len(certs) > 0 && in.From.EndpointID == "": // a broker's certificate
		if e = a.firstCredential(certs, entries); e != nil && e.uses == usesBroker {
			broker = true
		} else {
			e = nil
		}
	}
	if len(own) > 0 && !broker {
		ok := identifies && slices.ContainsFunc(own, func(n uint32) bool {
			c := a.certOf(n)
			return c != nil && bytes.Equal(c.Raw, certs[0].Raw)
		})
		if !ok {
			a.log.WarnContext(ctx, "record dropped: the Controller did not present a certificate of its Controller.{i}.Credential (TR-369 R-SEC.4)",
				"from", rec.FromID, "peer", in.From.Address)
			return false
		}
	}
	if e == nil {
		if a.acl.setInherited(rec.FromID, "", nil) {
			a.log.InfoContext(ctx, "inherited role dropped: no credential validated the Controller", "controller", rec.FromID)
			a.syncInherited(ctx)
		}
		return true
	}
	if len(e.roles) == 0 {
		a.untrustedIfUnassigned(ctx, rec.FromID)
	}
	if a.acl.setInherited(rec.FromID, e.ref, e.roles) {
		a.log.InfoContext(ctx, "role inherited from a credential", "controller", rec.FromID, "credential", e.ref,
			"roles", strings.Join(e.roles, ","), "trusted_broker", broker)
		a.syncInherited(ctx)
	}
	return true
}

// untrustedIfUnassigned gives a known Controller with no AssignedRole the
// UntrustedRole, written to its AssignedRole (TR-369 "Assigning
// Controller Roles": a Credential with no Role).
func (a *Agent) untrustedIfUnassigned(ctx context.Context, id string) {
	a.mu.Lock()
	c := a.ctrls[id]
	a.mu.Unlock()
	if c == nil || len(c.roles) > 0 {
		return // an unknown Controller is registered with the UntrustedRole
	}
	untrusted := a.rows(ctx, pathTrust)[pathTrust]["UntrustedRole"]
	if untrusted == "" {
		return
	}
	if err := a.eng.Update(ctx, c.ref+".", map[string]string{"AssignedRole": untrusted}); err != nil {
		a.log.WarnContext(ctx, "UntrustedRole not assigned", "controller", id, "err", err)
		return
	}
	a.log.InfoContext(ctx, "credential with no role: the Controller is given the UntrustedRole", "controller", id)
}

// syncInherited writes every Controller's InheritedRole as the ACL holds
// it.
func (a *Agent) syncInherited(ctx context.Context) {
	for path, p := range a.rows(ctx, pathControllers) {
		rest, ok := strings.CutPrefix(path, pathControllers)
		if !ok || strings.Count(rest, ".") != 1 {
			continue
		}
		want := a.acl.inheritedRoles(p["EndpointID"])
		if p["InheritedRole"] == want {
			continue
		}
		if err := a.eng.Update(ctx, path, map[string]string{"InheritedRole": want}); err != nil {
			a.log.WarnContext(ctx, "InheritedRole not written", "controller", p["EndpointID"], "err", err)
		}
	}
}

// CredentialConfig is one Device.LocalAgent.ControllerTrust.Credential.{i}
// entry of the factory configuration.
type CredentialConfig struct {
	Alias string `yaml:"alias"`
	// Certificate is the instance number of the Device.LocalAgent.
	// Certificate row the entry trusts: 1 for the first of
	// Options.Certificates.
	Certificate uint32 `yaml:"certificate"`
	// Roles are the names of the roles inherited; none gives the
	// UntrustedRole to a Controller without an AssignedRole.
	Roles []string `yaml:"roles"`
	// AllowedUses is MTP-only, MTP-and-USP or MTP-and-broker.
	AllowedUses string `yaml:"allowed_uses"`
	Disabled    bool   `yaml:"disabled"`
}

// validateCredentials checks the Credentials against the role names.
func (c *Config) validateCredentials(roles map[string]bool) error {
	for i, cr := range c.Credentials {
		if cr.Certificate == 0 {
			return fmt.Errorf("credentials[%d].certificate: give the Device.LocalAgent.Certificate instance number", i)
		}
		switch cr.AllowedUses {
		case usesMTPOnly, usesMTPAndUSP, usesBroker:
		default:
			return fmt.Errorf("credentials[%d].allowed_uses: %q is not %s, %s or %s", i, cr.AllowedUses, usesMTPOnly, usesMTPAndUSP, usesBroker)
		}
		for _, r := range cr.Roles {
			if !roles[r] {
				return fmt.Errorf("credentials[%d].roles: no role named %q", i, r)
			}
		}
	}
	return nil
}

// settings are the entry's parameters, with roles by reference.
func (cr CredentialConfig) settings(roleRef map[string]string) []datamodel.ParamSetting {
	var refs []string
	for _, r := range cr.Roles {
		refs = append(refs, roleRef[r])
	}
	s := ps("Enable", strconv.FormatBool(!cr.Disabled), "Credential", pathCertificates+strconv.FormatUint(uint64(cr.Certificate), 10),
		"Role", strings.Join(refs, ","), "AllowedUses", cr.AllowedUses)
	if cr.Alias != "" {
		s = append(s, ps("Alias", cr.Alias)...)
	}
	return s
}

// dropCertRefs removes the references to Certificate row n, deleted, from
// the Credential entries and the Controllers' Credential lists: TR-181's
// strong references become empty when their target goes.
func (a *Agent) dropCertRefs(ctx context.Context, n uint32) {
	for path, p := range a.rows(ctx, pathLocalAgent) {
		cred, isCred := strings.CutPrefix(path, pathCredentials)
		ctrl, isCtrl := strings.CutPrefix(path, pathControllers)
		switch {
		case isCred && strings.Count(cred, ".") == 1:
			if m, ok := certInstance(p["Credential"]); ok && m == n {
				if err := a.eng.Update(ctx, path, map[string]string{"Credential": ""}); err != nil {
					a.log.WarnContext(ctx, "reference to a deleted certificate kept", "path", path, "err", err)
				}
			}
		case isCtrl && strings.Count(ctrl, ".") == 1 && p["Credential"] != "":
			var keep []string
			for ref := range strings.SplitSeq(p["Credential"], ",") {
				if m, ok := certInstance(ref); !ok || m != n {
					keep = append(keep, strings.TrimSpace(ref))
				}
			}
			if v := strings.Join(keep, ","); v != p["Credential"] {
				if err := a.eng.Update(ctx, path, map[string]string{"Credential": v}); err != nil {
					a.log.WarnContext(ctx, "reference to a deleted certificate kept", "path", path, "err", err)
				}
			}
		}
	}
}
