//go:build usp_nodiscovery

package cli

import (
	"context"
	"errors"
	"log/slog"

	"go.yaml.in/yaml/v3"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/tr181/gatewayinfo"
)

// An agent built with the usp_nodiscovery tag neither advertises nor
// browses with mDNS, reads no DHCP lease for a Controller and has no
// `usp agent dhcp-options`; a configuration with a discovery section is
// refused. Its Controllers are those of its configuration and data model,
// and a ".local." host name is left to the system resolver.

// discoveryConfig refuses the discovery section.
type discoveryConfig struct{}

func (*discoveryConfig) UnmarshalYAML(*yaml.Node) error {
	return errors.New("discovery: not in this build (usp_nodiscovery)")
}

func (*discoveryConfig) check() error { return nil }

// mdnsOptions: no mDNS.
func (*discoveryConfig) mdnsOptions(*slog.Logger) *discovery.Options { return nil }

func startDiscovery(context.Context, *discoveryConfig, *agent.Agent, *gatewayinfo.Info, *slog.Logger) (func(), error) {
	return func() {}, nil
}

func runAgentDHCPOptions(context.Context, *env, []string) error {
	return errors.New("agent dhcp-options: DHCP discovery is not in this build (usp_nodiscovery)")
}
