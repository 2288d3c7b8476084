package agent

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// WithoutAbsoluteTime returns a copy of cfg, the TLS configuration of an
// MTP, for an Agent that cannot obtain absolute time (a device without a
// real-time clock, before its clock is set): the Controller's certificate
// chain is verified against the same trust anchors (ClientCAs when the
// Agent is the server, RootCAs, or the system's, when it is the client),
// with the same name and key-usage checks, but its validity dates are
// ignored [R-SEC.19]. An Agent that has absolute time keeps cfg as it is,
// which checks them [R-SEC.20].
//
// As the verification is the configuration's own, the connection state
// carries no VerifiedChains: the MTP reports no certificate for the peer.
func WithoutAbsoluteTime(cfg *tls.Config, server bool) *tls.Config {
	c := cfg.Clone()
	if c == nil {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	roots, usage := c.RootCAs, x509.ExtKeyUsageServerAuth
	required := true
	if server {
		roots, usage = c.ClientCAs, x509.ExtKeyUsageClientAuth
		switch c.ClientAuth {
		case tls.RequireAndVerifyClientCert:
			c.ClientAuth = tls.RequireAnyClientCert
		case tls.VerifyClientCertIfGiven:
			c.ClientAuth, required = tls.RequestClientCert, false
		default:
			return c // client certificates are not verified: nothing to change
		}
	} else {
		if c.InsecureSkipVerify {
			return c
		}
		c.InsecureSkipVerify = true // verified below, without the dates
	}
	next := c.VerifyConnection
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := verifyIgnoringTime(cs, roots, usage, server, required); err != nil {
			return err
		}
		if next != nil {
			return next(cs)
		}
		return nil
	}
	return c
}

// verifyIgnoringTime verifies the peer's chain at a moment it was valid:
// the leaf's NotBefore, its NotAfter, or now, the first at which the chain
// verifies, so that only the dates are left out.
func verifyIgnoringTime(cs tls.ConnectionState, roots *x509.CertPool, usage x509.ExtKeyUsage, server, required bool) error {
	if len(cs.PeerCertificates) == 0 {
		if required {
			return errors.New("agent: the peer sent no certificate")
		}
		return nil
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if roots == nil {
		var err error
		if roots, err = x509.SystemCertPool(); err != nil {
			return fmt.Errorf("agent: system roots: %w", err)
		}
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}
	if !server {
		opts.DNSName = cs.ServerName
	}
	var err error
	for _, at := range []time.Time{leaf.NotBefore, leaf.NotAfter, time.Now()} {
		opts.CurrentTime = at
		if _, err = leaf.Verify(opts); err == nil {
			return nil
		}
	}
	return fmt.Errorf("agent: peer certificate (validity dates ignored, no absolute time): %w", err)
}
