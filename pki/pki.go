package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/uspkit/uspkit/endpoint"
)

// Files in the data directory.
const (
	CAKeyFile      = "ca.key"     // the CA's private key (PKCS #8 PEM, 0600)
	CACertFile     = "ca.crt"     // the CA's certificate (PEM)
	ServerCertFile = "server.crt" // the listeners' certificate (PEM)
	ServerKeyFile  = "server.key" // its private key (PKCS #8 PEM, 0600)
)

// Validity periods.
const (
	CAValidity           = 10 * 365 * 24 * time.Hour
	DefaultAgentValidity = 2 * 365 * 24 * time.Hour
	ServerValidity       = 365 * 24 * time.Hour
	// RenewBefore: a stored server certificate this close to its end is
	// replaced.
	RenewBefore = 30 * 24 * time.Hour
	// clockSkew backdates NotBefore, for peers whose clocks are behind.
	clockSkew = time.Hour
)

// CA is the Controller's certificate authority. Its methods are safe for
// concurrent use.
type CA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte

	mu sync.Mutex // serializes the server certificate's files
}

// Issued is a certificate and its new private key.
type Issued struct {
	Cert    *x509.Certificate
	CertPEM []byte // the certificate
	KeyPEM  []byte // its private key, PKCS #8; keep it secret
}

// Open loads the CA kept in dir, creating dir (0700) and a new CA (key
// and self-signed certificate, ECDSA P-256, CAValidity) when there is
// none.
func Open(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	keyPath, certPath := filepath.Join(dir, CAKeyFile), filepath.Join(dir, CACertFile)
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, os.ErrNotExist) {
		return create(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", dir, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !pair.Leaf.IsCA {
		return nil, fmt.Errorf("pki: %s: not an ECDSA CA", dir)
	}
	return &CA{dir: dir, cert: pair.Leaf, key: key, pem: certPEM}, nil
}

func create(dir string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "uspkit Controller CA", Organization: []string{"uspkit"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeFile(filepath.Join(dir, CAKeyFile), keyPEM); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, CACertFile), certPEM); err != nil {
		return nil, err
	}
	return &CA{dir: dir, cert: cert, key: key, pem: certPEM}, nil
}

// Certificate is the CA's certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM is the CA's certificate in PEM, for clients to trust.
func (ca *CA) CertPEM() []byte { return slices.Clone(ca.pem) }

// Pool is a pool holding the CA's certificate, for ClientCAs or RootCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// IssueAgent issues a client certificate for the Agent with Endpoint ID
// id: a new ECDSA P-256 key, the URN form of id as its URI
// subjectAltName [R-SEC.0a], [R-SEC.10] and id as its Common Name, for
// client authentication only, valid for validity (zero means
// DefaultAgentValidity, and never beyond the CA's own end).
func (ca *CA) IssueAgent(id string, validity time.Duration) (*Issued, error) {
	eid, err := endpoint.Parse(id)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	u, err := url.Parse(eid.URN())
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if validity <= 0 {
		validity = DefaultAgentValidity
	}
	return ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: id},
		URIs:        []*url.URL{u},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, validity)
}

// IssueServer issues a server certificate for hosts (DNS names or IP
// addresses), valid for ServerValidity.
func (ca *CA) IssueServer(hosts []string) (*Issued, error) {
	if len(hosts) == 0 {
		return nil, errors.New("pki: a server certificate needs at least one host")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(tmpl, ServerValidity)
}

func (ca *CA) issue(tmpl *x509.Certificate, validity time.Duration) (*Issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	now := time.Now()
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = now.Add(-clockSkew)
	tmpl.NotAfter = now.Add(validity)
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: keyPEM}, nil
}

// ServerCertificate returns the listeners' certificate kept in the data
// directory, issuing and storing a new one when there is none, when it
// does not cover every one of hosts, when it is within RenewBefore of its
// end or when this CA did not sign it.
func (ca *CA) ServerCertificate(hosts []string) (tls.Certificate, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	certPath, keyPath := filepath.Join(ca.dir, ServerCertFile), filepath.Join(ca.dir, ServerKeyFile)
	if pair, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && ca.serves(pair.Leaf, hosts) {
		return pair, nil
	}
	is, err := ca.IssueServer(hosts)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFile(keyPath, is.KeyPEM); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFile(certPath, is.CertPEM); err != nil {
		return tls.Certificate{}, err
	}
	pair, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: %w", err)
	}
	return pair, nil
}

// serves reports whether cert, signed by ca, is good for hosts for a
// while yet.
func (ca *CA) serves(cert *x509.Certificate, hosts []string) bool {
	if cert == nil || time.Until(cert.NotAfter) < RenewBefore || cert.CheckSignatureFrom(ca.cert) != nil {
		return false
	}
	for _, h := range hosts {
		if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// serial is a random 128-bit serial number.
func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	return n.Add(n, big.NewInt(1)) // never zero
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeFile writes b to path with mode 0600, through a temporary file.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pki-*")
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}
