//go:build !usp_device

package cli

import (
	"crypto/tls"
	"fmt"
	"time"
)

// checkExpired makes sure the runner's certificate has expired, as
// --expired-cert (TP-469 2.6) declares: the case would otherwise pass
// without showing anything.
func checkExpired(certFile, keyFile string, now time.Time) error {
	if certFile == "" {
		return fmt.Errorf("%w: --expired-cert needs --cert", errUsage)
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("--expired-cert: %w", err)
	}
	if !now.After(c.Leaf.NotAfter) {
		return fmt.Errorf("%w: --expired-cert: the certificate in %s is valid until %s", errUsage, certFile, c.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}
