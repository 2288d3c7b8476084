//go:build !usp_device

package cli

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/uspkit/uspkit/conformance"
)

// altCertSetup reads the alternate certificate of case 9.2: the runner's
// certificate and key, and the certificate it has the agent add (the
// issuing CA; "" leaves the choice to the runner). No --alt-cert: nil.
func altCertSetup(certFile, keyFile, caFile string) (*conformance.AltCertSetup, error) {
	if certFile == "" {
		if keyFile != "" || caFile != "" {
			return nil, fmt.Errorf("%w: --alt-key and --alt-ca go with --alt-cert", errUsage)
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--alt-cert, --alt-key: %w", err)
	}
	s := &conformance.AltCertSetup{Cert: cert}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--alt-ca: %w", err)
		}
		if p, _ := pem.Decode(b); p == nil || p.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("--alt-ca: %s holds no PEM certificate", caFile)
		}
		s.Trust = string(b)
	}
	return s, nil
}
