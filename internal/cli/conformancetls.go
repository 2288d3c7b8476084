//go:build !usp_device

package cli

import (
	"crypto/tls"
	"fmt"

	"github.com/uspkit/uspkit/conformance"
)

// mtpTLSSetup loads the certificates of the runner's own MQTT and STOMP
// servers; no --mtp-cert means none (the TLS cases skip).
func mtpTLSSetup(cert, key, expired, expiredKey string) (*conformance.MTPTLSSetup, error) {
	if cert == "" {
		if expired != "" {
			return nil, fmt.Errorf("%w: --mtp-expired-cert needs --mtp-cert", errUsage)
		}
		return nil, nil
	}
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("--mtp-cert: %w", err)
	}
	s := &conformance.MTPTLSSetup{Certificate: c}
	if expired != "" {
		e, err := tls.LoadX509KeyPair(expired, expiredKey)
		if err != nil {
			return nil, fmt.Errorf("--mtp-expired-cert: %w", err)
		}
		s.Expired = &e
	}
	return s, nil
}
