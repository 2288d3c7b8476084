//go:build usp_nosmm

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

// An agent built with the usp_nosmm tag has no Device.SoftwareModules
// (tr181/softwaremodules: Deployment and Execution Units, the OCI and
// process execution environments); a configuration with a
// software_modules section is refused.

// softwareConfig refuses the software_modules section.
type softwareConfig struct{}

func (*softwareConfig) UnmarshalYAML(*yaml.Node) error {
	return errors.New("software_modules: not in this build (usp_nosmm)")
}

func (*softwareConfig) check() error { return nil }

// software is never made: its methods do nothing on nil.
type software struct{ m *noSoftware }

type noSoftware struct{}

// DeploymentUnitOf names no Deployment Unit.
func (*noSoftware) DeploymentUnitOf(int) string { return "" }

func setupSoftware(context.Context, *softwareConfig, string, *schema.Model, *slog.Logger) (*software, error) {
	return nil, nil
}

func (*software) register(*datamodel.Mux)             {}
func (*software) start(context.Context, *agent.Agent) {}
func (*software) close()                              {}
