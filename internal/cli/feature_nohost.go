//go:build usp_nohost

package cli

import (
	"context"
	"errors"
	"log/slog"

	"go.yaml.in/yaml/v3"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
)

// An agent built with the usp_nohost tag has none of the host's own
// objects (tr181/host: Device.IP.Interface, Device.Ethernet,
// Device.Routing and the others read through netlink); a configuration
// with a host section is refused.

// hostConfig refuses the host section.
type hostConfig struct{}

func (*hostConfig) UnmarshalYAML(*yaml.Node) error {
	return errors.New("host: not in this build (usp_nohost)")
}

type hostObjects struct{}

func setupHost(*hostConfig, string, *schema.Model, *slog.Logger) (*hostObjects, error) {
	return &hostObjects{}, nil
}

func (*hostObjects) options(*agent.Options)  {}
func (*hostObjects) register(*datamodel.Mux) {}
func (*hostObjects) start(context.Context, *agent.Agent) (stop func()) {
	return func() {}
}
