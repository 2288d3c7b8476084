//go:build !usp_device

package cli

import (
	"fmt"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/e2e"
)

// e2eConfig is the `e2e:` section of `usp controller`'s configuration.
type e2eConfig struct {
	Policy        string            `yaml:"policy"`
	MaxRecordSize int               `yaml:"max_record_size"`
	Expiration    time.Duration     `yaml:"expiration"`
	MaxRetransmit int               `yaml:"max_retransmit"`
	Agents        map[string]string `yaml:"agents"`
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
	return controller.SessionSettings{Policy: policy, Config: e2e.Config{MaxRecordSize: c.MaxRecordSize, Expiration: c.Expiration, MaxRetransmit: c.MaxRetransmit}}
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
