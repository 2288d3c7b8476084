package cli

import (
	"strings"
	"testing"
	"time"
)

// TestSoftwareModulesConfig: usp agent's software_modules section is read
// and checked; a bad value is refused with its key.
func TestSoftwareModulesConfig(t *testing.T) {
	head := "endpoint_id: os::012345-CFG\n"
	for _, tc := range []struct {
		name, yaml, err string
		check           func(*softwareConfig) bool
	}{
		{"absent", "", "", func(c *softwareConfig) bool { return c == nil }},
		{"empty", "software_modules: {}\n", "", func(c *softwareConfig) bool { return c != nil && len(c.ExecEnvs) == 0 }},
		{"full", "software_modules:\n  dir: /var/lib/apps\n  exec_envs: [process, oci]\n  runtimes: [crun, /usr/sbin/runc]\n  stop_timeout: 5s\n  max_du_size: 1048576\n", "",
			func(c *softwareConfig) bool {
				return c.Dir == "/var/lib/apps" && c.ExecEnvs[0] == "process" && c.Runtimes[1] == "/usr/sbin/runc" && c.StopTimeout == 5*time.Second && c.MaxDUSize == 1<<20
			}},
		{"unknown env", "software_modules:\n  exec_envs: [docker]\n", "software_modules.exec_envs[0]", nil},
		{"env twice", "software_modules:\n  exec_envs: [oci, oci]\n", "software_modules.exec_envs[1]", nil},
		{"negative", "software_modules:\n  max_du_size: -1\n", "software_modules", nil},
		{"unknown key", "software_modules:\n  engine: x\n", "engine", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadAgentConfig(strings.NewReader(head + tc.yaml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c.SoftwareModules) {
				t.Errorf("software_modules = %+v", c.SoftwareModules)
			}
		})
	}
}
