package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/uspkit/uspkit/tr181/deviceinfo"
)

// platformConfig is the `platform:` section of `usp agent`'s file: how
// the Agent acts on the device it manages. (`host:` is another section:
// the host's own TR-181 objects, internal/cli/host.go.)
type platformConfig struct {
	// RebootCommand reboots the device for Device.Reboot() ("reboot" on
	// OpenWrt); without it the Agent restarts its own process.
	RebootCommand []string `yaml:"reboot_command"`
	// FactoryResetCommand resets the device for Device.FactoryReset()
	// ("firstboot -y" then "reboot"); without it RebootCommand runs, and
	// without either the Agent restarts its own process. The Agent's own
	// configuration is back to the factory's before it runs.
	FactoryResetCommand []string `yaml:"factory_reset_command"`
	// Identity sets Device.DeviceInfo's identity parameters
	// (SerialNumber, ManufacturerOUI, ModelName, ...) from a literal, a
	// file, a UCI option or a command; those not named keep the host's.
	Identity map[string]deviceinfo.Source `yaml:"identity"`
	// UCIDir is where identity's UCI options are read; "" means
	// /etc/config.
	UCIDir string `yaml:"uci_dir"`
}

// platformCommandTimeout bounds a reboot or factory reset command.
const platformCommandTimeout = 2 * time.Minute

// check reports an identity source that is not one place, or an empty
// command.
func (p *platformConfig) check() error {
	if p == nil {
		return nil
	}
	if err := deviceinfo.CheckIdentity(p.Identity); err != nil {
		return fmt.Errorf("platform.identity: %w", err)
	}
	for name, c := range map[string][]string{"reboot_command": p.RebootCommand, "factory_reset_command": p.FactoryResetCommand} {
		if c != nil && (len(c) == 0 || c[0] == "") {
			return fmt.Errorf("platform.%s: no program", name)
		}
	}
	return nil
}

// identity is base with the configured identity applied; a source that
// cannot be read is logged and its parameter keeps base's value.
func (p *platformConfig) identity(ctx context.Context, base deviceinfo.Info, log *slog.Logger) deviceinfo.Info {
	if p == nil || len(p.Identity) == 0 {
		return base
	}
	if err := base.Apply(ctx, p.Identity, p.UCIDir); err != nil {
		log.Warn("platform: identity not read; the host's value stays", "err", err)
	}
	return base
}

// command returns the platform command for a restart's cause, or nil when
// the Agent restarts itself: Reboot() and FactoryReset() run the
// platform's; a firmware activation starts the new image itself.
func (p *platformConfig) command(cause string) []string {
	if p == nil {
		return nil
	}
	switch cause {
	case "RemoteReboot":
		return p.RebootCommand
	case "RemoteFactoryReset":
		if p.FactoryResetCommand != nil {
			return p.FactoryResetCommand
		}
		return p.RebootCommand
	}
	return nil
}

// restart carries out a restart the Agent asked for, once it has stopped
// and closed its store (the cause is recorded there for Boot!): it runs
// the platform's command for cause and returns, the device going down;
// without one, or when it fails, the Agent restarts its own process.
func (p *platformConfig) restart(ctx context.Context, cause string, fw *agentFirmware, log *slog.Logger) error {
	argv := p.command(cause)
	if argv == nil {
		return fw.restart()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), platformCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Env = append(os.Environ(), "USP_RESTART_CAUSE="+cause)
	log.Info("platform: running the restart command", "cause", cause, "command", argv)
	err := cmd.Run()
	if err == nil {
		return nil
	}
	log.Error("platform: the restart command failed; restarting the agent instead", "cause", cause, "err", err)
	if rerr := fw.restart(); rerr != nil {
		return errors.Join(fmt.Errorf("platform: %s: %w", argv[0], err), rerr)
	}
	return nil
}
