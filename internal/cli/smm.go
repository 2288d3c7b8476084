//go:build !usp_nosmm

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
	"github.com/uspkit/uspkit/tr181/softwaremodules"
)

// softwareConfig is `usp agent`'s software_modules section: Software
// Module Management (Device.SoftwareModules) is on when it is present.
type softwareConfig struct {
	// Dir holds the units, their logs and the container state; default
	// DATA/software.
	Dir string `yaml:"dir"`
	// ExecEnvs are the Execution Environments, ExecEnv.1 onwards: "oci"
	// and "process"; default both, OCI first.
	ExecEnvs []string `yaml:"exec_envs"`
	// Runtimes are the OCI runtime binaries tried in order; default runc,
	// then crun.
	Runtimes []string `yaml:"runtimes"`
	// StopTimeout is how long a unit has after SIGTERM; default 10s.
	StopTimeout time.Duration `yaml:"stop_timeout"`
	// MaxDUSize bounds a Deployment Unit file in bytes; default 1 GiB.
	MaxDUSize int64 `yaml:"max_du_size"`
}

func (c *softwareConfig) check() error {
	if c == nil {
		return nil
	}
	seen := map[string]bool{}
	for i, e := range c.ExecEnvs {
		if e != "oci" && e != "process" || seen[e] {
			return fmt.Errorf("software_modules.exec_envs[%d]: %q is not oci or process, or is listed twice", i, e)
		}
		seen[e] = true
	}
	if c.StopTimeout < 0 || c.MaxDUSize < 0 {
		return fmt.Errorf("software_modules: stop_timeout and max_du_size cannot be negative")
	}
	return nil
}

// software is Device.SoftwareModules in an Agent being built; its methods
// do nothing on a nil software (the section is absent).
type software struct{ m *softwaremodules.Manager }

// setupSoftware defines Device.SoftwareModules in m and loads the units
// kept in the data directory; nil c means no Software Module Management.
func setupSoftware(ctx context.Context, c *softwareConfig, dataDir string, m *schema.Model, log *slog.Logger) (*software, error) {
	if c == nil {
		return nil, nil
	}
	dir := c.Dir
	if dir == "" {
		dir = filepath.Join(dataDir, "software")
	}
	kinds := c.ExecEnvs
	if len(kinds) == 0 {
		kinds = []string{"oci", "process"}
	}
	var envs []softwaremodules.ExecEnv
	for _, k := range kinds {
		if k == "oci" {
			envs = append(envs, softwaremodules.NewOCI(&softwaremodules.OCIOptions{Runtimes: c.Runtimes, StateDir: filepath.Join(dir, "oci")}))
		} else {
			envs = append(envs, softwaremodules.ProcessEnv{})
		}
	}
	softwaremodules.Define(m)
	sm, err := softwaremodules.New(ctx, &softwaremodules.Options{Dir: dir, Envs: envs, StopTimeout: c.StopTimeout, MaxDUSize: c.MaxDUSize, Logger: log})
	if err != nil {
		return nil, err
	}
	for _, e := range envs {
		if err := e.Check(ctx); err != nil {
			log.Warn("execution environment unusable", "env", e.Info().Name, "err", err)
		}
	}
	return &software{m: sm}, nil
}

func (s *software) register(mux *datamodel.Mux) {
	if s != nil {
		softwaremodules.Register(mux, s.m)
	}
}

// start sends DUStateChange! through a and starts the AutoStart units.
func (s *software) start(ctx context.Context, a *agent.Agent) {
	if s != nil {
		s.m.Start(ctx, a)
	}
}

// close stops the running units.
func (s *software) close() {
	if s != nil {
		s.m.Close()
	}
}
