//go:build !usp_device

package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/record"
)

// e2eConfig is the `e2e:` section of `usp controller`'s configuration.
type e2eConfig struct {
	Policy        string            `yaml:"policy"`
	MaxRecordSize int               `yaml:"max_record_size"`
	Expiration    time.Duration     `yaml:"expiration"`
	MaxRetransmit int               `yaml:"max_retransmit"`
	Agents        map[string]string `yaml:"agents"`
	// PayloadSecurity is PLAINTEXT (default) or TLS12; TLS12 needs tls:
	// the Controller's certificate and key and the CA of Agents'
	// certificates.
	PayloadSecurity string     `yaml:"payload_security"`
	TLS             *tlsConfig `yaml:"tls"`
}

func (c *e2eConfig) check() error {
	if c == nil {
		return nil
	}
	if _, err := controller.ParseSessionPolicy(c.Policy); err != nil {
		return err
	}
	for id, p := range c.Agents {
		if _, err := controller.ParseSessionPolicy(p); err != nil {
			return fmt.Errorf("agents: %s: %w", id, err)
		}
	}
	if c.MaxRecordSize != 0 && c.MaxRecordSize < 512 {
		return fmt.Errorf("max_record_size %d: 0 or at least 512", c.MaxRecordSize)
	}
	sec, err := controller.ParsePayloadSecurity(c.PayloadSecurity)
	if err != nil {
		return err
	}
	tc, err := c.TLS.e2e()
	if err != nil {
		return err
	}
	if sec == record.PayloadSecurityTLS12 && tc == nil {
		return errors.New("payload_security TLS12 needs tls (cert, key, ca)")
	}
	if c.MaxRetransmit < 0 {
		return fmt.Errorf("max_retransmit %d is negative", c.MaxRetransmit)
	}
	return nil
}

// settings returns the settings of agent ("" for the default).
func (c *e2eConfig) settings(agent string) controller.SessionSettings {
	if c == nil {
		return controller.SessionSettings{}
	}
	p := c.Policy
	if ap, ok := c.Agents[agent]; ok && agent != "" {
		p = ap
	}
	policy, _ := controller.ParseSessionPolicy(p)
	sec, _ := controller.ParsePayloadSecurity(c.PayloadSecurity)
	return controller.SessionSettings{Policy: policy, Config: e2e.Config{MaxRecordSize: c.MaxRecordSize, Expiration: c.Expiration,
		MaxRetransmit: c.MaxRetransmit, Security: sec}}
}

// apply gives the Agents named under agents their own settings.
func (c *e2eConfig) apply(ctl *controller.Controller) {
	if c == nil {
		return
	}
	for id := range c.Agents {
		ctl.SetSessions(id, c.settings(id))
	}
}

// tls returns the Controller's E2E TLS settings (checked by check).
func (c *e2eConfig) tls() *tls.Config {
	if c == nil {
		return nil
	}
	tc, _ := c.TLS.e2e()
	return tc
}
