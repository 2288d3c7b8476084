package broker

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// ErrNoAccount is returned by Accounts.Revoke for a name without an
// account.
var ErrNoAccount = errors.New("broker: no such account")

// Password hashing: PBKDF2-HMAC-SHA-256 with a 16-byte random salt. The
// passwords Accounts generates carry 192 random bits, so the iteration
// count only needs to slow down an offline search of a stolen file, not
// make up for weak passwords; kept low so that a fleet reconnecting at
// once costs little CPU.
const (
	passwordBytes = 24
	saltBytes     = 16
	hashIter      = 4096
	hashLen       = 32
)

// Accounts is a file-backed set of broker accounts, one per USP Agent,
// named by the Agent's Endpoint ID, which then is the {user} of its topic
// (usp/agent/<EndpointID> by default). An account holds a password, kept
// only as a salted hash, and the fingerprints of client certificates it
// may log in with. The file is written with mode 0600 on every change,
// through a temporary file and a rename.
//
// Give an Accounts to Options.Accounts; a Broker using it cuts the
// connections whose credential is revoked or replaced.
//
// Accounts is safe for concurrent use; one file must have one Accounts
// (one process) at a time.
type Accounts struct {
	path string

	mu       sync.Mutex
	m        map[string]*accountRec
	watchers map[int]func(name string)
	nextW    int
}

// accountRec is one account as stored.
type accountRec struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Salt and Hash are hex; empty when the account has no password.
	Salt string `json:"salt,omitempty"`
	Hash string `json:"hash,omitempty"`
	Iter int    `json:"iter,omitempty"`
	// Certs are SHA-256 fingerprints (hex) of the DER certificates the
	// account may log in with.
	Certs []string `json:"certs,omitempty"`
}

// AccountInfo describes an account, without its secrets.
type AccountInfo struct {
	Name         string    `json:"endpoint_id"`
	Created      time.Time `json:"created"`
	Password     bool      `json:"password"`
	Certificates int       `json:"certificates"`
}

// OpenAccounts loads the accounts kept in the file at path, or starts an
// empty set when there is no such file (the file is created at the first
// change).
func OpenAccounts(path string) (*Accounts, error) {
	a := &Accounts{path: path, m: map[string]*accountRec{}, watchers: map[int]func(string){}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("broker: accounts: %w", err)
	}
	var recs []*accountRec
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("broker: accounts %s: %w", path, err)
	}
	for _, r := range recs {
		if !topicLevel(r.Name) {
			return nil, fmt.Errorf("broker: accounts %s: invalid name %q", path, r.Name)
		}
		a.m[r.Name] = r
	}
	return a, nil
}

// checkName: the name fills {user} in topic patterns, so it must be one
// topic level.
func checkName(name string) error {
	if !topicLevel(name) || len(name) > 255 {
		return fmt.Errorf("broker: account name %q: not usable as a topic level", name)
	}
	return nil
}

// SetPassword creates the account name if needed and gives it a new
// random password, which it returns; only a salted hash is stored. A
// password the account had before stops working, and connections that
// logged in with it are cut.
func (a *Accounts) SetPassword(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	raw := make([]byte, passwordBytes)
	salt := make([]byte, saltBytes)
	rand.Read(raw)
	rand.Read(salt)
	pass := hex.EncodeToString(raw)
	h, err := pbkdf2.Key(sha256.New, pass, salt, hashIter, hashLen)
	if err != nil {
		return "", fmt.Errorf("broker: hash password: %w", err)
	}
	err = a.update(name, func(r *accountRec) {
		r.Salt, r.Hash, r.Iter = hex.EncodeToString(salt), hex.EncodeToString(h), hashIter
	})
	if err != nil {
		return "", err
	}
	return pass, nil
}

// AddCertificate creates the account name if needed and lets it log in
// with cert, a client certificate whose identity (see CertIdentity) must
// be name.
func (a *Accounts) AddCertificate(name string, cert *x509.Certificate) error {
	if err := checkName(name); err != nil {
		return err
	}
	if id := CertIdentity(cert); id != name {
		return fmt.Errorf("broker: certificate identity %q is not the account %q", id, name)
	}
	fp := fingerprint(cert)
	return a.update(name, func(r *accountRec) {
		if !slices.Contains(r.Certs, fp) {
			r.Certs = append(r.Certs, fp)
		}
	})
}

// Revoke deletes the account name: its password and certificates no
// longer log in, and Brokers using a cut its connections at once.
func (a *Accounts) Revoke(name string) error {
	a.mu.Lock()
	old, ok := a.m[name]
	if !ok {
		a.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNoAccount, name)
	}
	delete(a.m, name)
	if err := a.saveLocked(); err != nil {
		a.m[name] = old
		a.mu.Unlock()
		return err
	}
	ws := a.watchersLocked()
	a.mu.Unlock()
	for _, w := range ws {
		w(name)
	}
	return nil
}

// List returns the accounts, sorted by name.
func (a *Accounts) List() []AccountInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]AccountInfo, 0, len(a.m))
	for _, r := range a.m {
		out = append(out, r.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get describes the account name.
func (a *Accounts) Get(name string) (AccountInfo, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.m[name]
	if !ok {
		return AccountInfo{}, false
	}
	return r.info(), true
}

func (r *accountRec) info() AccountInfo {
	return AccountInfo{Name: r.Name, Created: r.Created, Password: r.Hash != "", Certificates: len(r.Certs)}
}

// update changes (creating if needed) one account, saves the file and
// tells the watchers.
func (a *Accounts) update(name string, f func(*accountRec)) error {
	a.mu.Lock()
	old, had := a.m[name]
	r := &accountRec{Name: name, Created: time.Now().UTC().Truncate(time.Second)}
	if had {
		cp := *old
		cp.Certs = slices.Clone(old.Certs)
		r = &cp
	}
	f(r)
	a.m[name] = r
	if err := a.saveLocked(); err != nil {
		if had {
			a.m[name] = old
		} else {
			delete(a.m, name)
		}
		a.mu.Unlock()
		return err
	}
	ws := a.watchersLocked()
	a.mu.Unlock()
	for _, w := range ws {
		w(name)
	}
	return nil
}

func (a *Accounts) watchersLocked() []func(string) {
	ws := make([]func(string), 0, len(a.watchers))
	for _, w := range a.watchers {
		ws = append(ws, w)
	}
	return ws
}

// saveLocked writes the file (0600) through a temporary file.
func (a *Accounts) saveLocked() error {
	recs := make([]*accountRec, 0, len(a.m))
	for _, r := range a.m {
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })
	b, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return fmt.Errorf("broker: accounts: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(a.path), ".accounts-*")
	if err != nil {
		return fmt.Errorf("broker: accounts: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("broker: accounts: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("broker: accounts: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("broker: accounts: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("broker: accounts: %w", err)
	}
	if err := os.Rename(tmp.Name(), a.path); err != nil {
		return fmt.Errorf("broker: accounts: %w", err)
	}
	return nil
}

// watch calls f with the name of every account that changes or is
// revoked, until the returned function is called.
func (a *Accounts) watch(f func(name string)) (stop func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := a.nextW
	a.nextW++
	a.watchers[id] = f
	return func() {
		a.mu.Lock()
		delete(a.watchers, id)
		a.mu.Unlock()
	}
}

// credential names what a session logged in with, so that a later change
// of the account can tell whether it still holds: "pw:<salt>" or
// "cert:<fingerprint>".
type credential string

// checkPassword reports whether pass is name's password, and the
// credential it is.
func (a *Accounts) checkPassword(name string, pass []byte) (credential, bool) {
	a.mu.Lock()
	r, ok := a.m[name]
	var salt, want []byte
	iter := hashIter
	if ok && r.Hash != "" {
		salt, _ = hex.DecodeString(r.Salt)
		want, _ = hex.DecodeString(r.Hash)
		iter = r.Iter
	}
	a.mu.Unlock()
	if want == nil {
		// Hash anyway, so that timing does not tell unknown names.
		salt, want, ok = make([]byte, saltBytes), make([]byte, hashLen), false
	}
	got, err := pbkdf2.Key(sha256.New, string(pass), salt, iter, hashLen)
	if err != nil || subtle.ConstantTimeCompare(got, want) != 1 || !ok {
		return "", false
	}
	return credential("pw:" + hex.EncodeToString(salt)), true
}

// checkCert reports whether cert is one of name's certificates.
func (a *Accounts) checkCert(name string, cert *x509.Certificate) (credential, bool) {
	fp := fingerprint(cert)
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.m[name]
	if !ok || !slices.Contains(r.Certs, fp) {
		return "", false
	}
	return credential("cert:" + fp), true
}

// valid reports whether credential c of account name still holds.
func (a *Accounts) valid(name string, c credential) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.m[name]
	if !ok {
		return false
	}
	if fp, isCert := strings.CutPrefix(string(c), "cert:"); isCert {
		return slices.Contains(r.Certs, fp)
	}
	salt, _ := strings.CutPrefix(string(c), "pw:")
	return r.Hash != "" && r.Salt == salt
}

func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// recheck cuts the connections of account name whose credential no
// longer holds (revoked, or replaced by a new password). It looks at
// every tracked connection, so it also reaches one whose CONNECT was
// accepted but which mochi has not listed yet. MQTT 5 clients get
// DISCONNECT "not authorized" first.
func (b *Broker) recheck(name string) {
	acc := b.cfg.Accounts
	b.mu.Lock()
	var cut []*conn
	for c := range b.conns {
		if s := c.sess.Load(); s != nil && s.name == name && s.cred != "" && !acc.valid(name, s.cred) {
			cut = append(cut, c)
		}
	}
	b.mu.Unlock()
	if len(cut) == 0 {
		return
	}
	clients := map[*conn]*mqtt.Client{}
	for _, cl := range b.srv.Clients.GetAll() {
		if c, ok := cl.Net.Conn.(*conn); ok {
			clients[c] = cl
		}
	}
	for _, c := range cut {
		remote := c.RemoteAddr().String()
		if cl, ok := clients[c]; ok {
			b.log.Warn("connection cut: its account credential was revoked", "account", name, "client", cl.ID, "remote", remote)
			_ = b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
		} else {
			b.log.Warn("connection cut: its account credential was revoked", "account", name, "remote", remote)
		}
		c.kill()
	}
}
