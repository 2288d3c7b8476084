//go:build !usp_nohost

package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/host"
)

// hostConfig is the `host:` section of `usp agent`'s file: present (even
// empty), the Agent serves the host's own objects (tr181/host).
type hostConfig struct {
	// Areas are the areas served: ip, ethernet, hosts, dns, routing,
	// time; empty means all.
	Areas []string `yaml:"areas"`
	// Interval is how often the areas are read to notify rows that
	// appeared or vanished; 0 means 10s.
	Interval time.Duration `yaml:"interval"`
	// MaxAge is how long a reading serves Gets; 0 means 1s.
	MaxAge time.Duration `yaml:"max_age"`
	// Netns is a network namespace file to read instead of the Agent's
	// own ("/var/run/netns/NAME").
	Netns string `yaml:"netns"`
	// ValueChangeInterval is how often the Agent reads the parameters
	// under ValueChange subscriptions (these objects' and any other
	// provided ones: agent.Options.PollInterval); 0 means 5s.
	ValueChangeInterval time.Duration `yaml:"value_change_interval"`
}

// hostObjects is the Agent's host objects, or nothing without a host:
// section.
type hostObjects struct {
	h    *host.Host
	poll time.Duration
}

// setupHost defines the configured areas in m and opens the host; with
// c nil it does nothing.
func setupHost(c *hostConfig, dir string, m *schema.Model, log *slog.Logger) (*hostObjects, error) {
	if c == nil {
		return &hostObjects{}, nil
	}
	if c.Interval < 0 || c.MaxAge < 0 || c.ValueChangeInterval < 0 {
		return nil, fmt.Errorf("host: interval, max_age and value_change_interval cannot be negative")
	}
	var areas []host.Area
	for _, s := range c.Areas {
		a, err := host.ParseArea(s)
		if err != nil {
			return nil, fmt.Errorf("host.areas: %w", err)
		}
		areas = append(areas, a)
	}
	h, err := host.New(&host.Options{Areas: areas, Netns: c.Netns, Interval: c.Interval, MaxAge: c.MaxAge,
		State: filepath.Join(dir, "host-instances.json"), Log: log})
	if err != nil {
		return nil, err
	}
	host.Define(m, areas...)
	return &hostObjects{h: h, poll: c.ValueChangeInterval}, nil
}

// options sets the Agent's ValueChange polling interval when the host:
// section names one.
func (ho *hostObjects) options(o *agent.Options) {
	if ho.poll > 0 {
		o.PollInterval = ho.poll
	}
}

// register serves the host objects on mux.
func (ho *hostObjects) register(mux *datamodel.Mux) {
	if ho.h != nil {
		ho.h.Register(mux)
	}
}

// start announces rows that appear and vanish to a until the returned
// function is called; it returns once the polling stopped.
func (ho *hostObjects) start(ctx context.Context, a *agent.Agent) (stop func()) {
	if ho.h == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ho.h.Run(ctx, a)
	}()
	return func() { cancel(); <-done; ho.h.Close() }
}
