package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/download"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/firmware"
)

// firmwareConfig is the `firmware:` section of `usp agent`'s file: it
// turns on Device.DeviceInfo.FirmwareImage with the default banks (the
// usp binary in bank directories of the data directory; docs/firmware.md).
type firmwareConfig struct {
	// Banks is the number of image banks; 0 means 2.
	Banks int `yaml:"banks"`
	// ConfirmTimeout is how long a newly activated image has to connect
	// (an MTP Up) before the agent rolls back to the previous one; 0
	// means 2 minutes.
	ConfirmTimeout time.Duration `yaml:"confirm_timeout"`
	// CA is a PEM file of certificates trusted for HTTPS downloads, in
	// addition to the system's.
	CA string `yaml:"ca"`
	// MaxSize bounds an image in bytes; 0 means 512 MiB.
	MaxSize int64 `yaml:"max_size"`
	// Stall is how long a download may receive nothing before it is
	// retried; 0 means 30 s.
	Stall time.Duration `yaml:"stall"`
}

// agentFirmware is the firmware side of a running `usp agent`; a nil one
// (no `firmware:` section) does nothing.
type agentFirmware struct {
	cfg      firmwareConfig
	dir      *firmware.Dir
	svc      *firmware.Service
	rep      firmware.BootReport
	log      *slog.Logger
	onReboot func(string)

	mu   sync.Mutex
	next string // the binary to restart into
}

// setupFirmware runs the boot loader: when another bank's binary must run
// it replaces this process with it and does not return. It is called
// before anything else of the agent is opened.
func setupFirmware(c *firmwareConfig, dataDir string, log *slog.Logger, onReboot func(string)) (*agentFirmware, error) {
	if c == nil {
		return nil, nil
	}
	f := &agentFirmware{cfg: *c, log: log, onReboot: onReboot}
	if f.cfg.ConfirmTimeout <= 0 {
		f.cfg.ConfirmTimeout = 2 * time.Minute
	}
	if f.cfg.MaxSize <= 0 {
		f.cfg.MaxSize = 512 << 20
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("firmware: %w", err)
	}
	banks := filepath.Join(dataDir, "firmware")
	f.dir, err = firmware.OpenDir(banks, exe, &firmware.DirOptions{Banks: c.Banks, Version: buildVersion(), Restart: f.restartInto})
	if err != nil {
		return nil, err
	}
	next, rep, err := f.dir.Boot()
	if err != nil {
		return nil, err
	}
	if next != "" {
		log.Info("firmware: starting the boot image", "path", next)
		if err := syscall.Exec(next, os.Args, os.Environ()); err != nil {
			return nil, fmt.Errorf("firmware: starting %s: %w", next, err)
		}
	}
	f.rep = rep
	if rep.FailedBank != 0 {
		log.Warn("firmware: rolled back", "failed_bank", rep.FailedBank, "reason", rep.FailureLog)
	}
	o := &download.Options{MaxSize: f.cfg.MaxSize, Stall: f.cfg.Stall, Logger: log}
	if c.CA != "" {
		pem, err := os.ReadFile(c.CA)
		if err != nil {
			return nil, fmt.Errorf("firmware.ca: %w", err)
		}
		pool, _ := x509.SystemCertPool()
		if pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("firmware.ca: no certificate in %s", c.CA)
		}
		o.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	f.svc, err = firmware.New(&firmware.Options{Flash: f.dir, StateDir: banks, Download: o, Boot: rep, Logger: log})
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (f *agentFirmware) define(m *schema.Model) {
	if f != nil {
		firmware.Define(m)
	}
}

func (f *agentFirmware) register(mux *datamodel.Mux) {
	if f != nil {
		f.svc.Register(mux)
	}
}

// options adds this start's Boot! FirmwareUpdated, and the cause and
// command key of an activation or roll-back, to o; a restart the Agent
// recorded itself (Reboot()) keeps its own cause.
func (f *agentFirmware) options(o *agent.Options) {
	if f == nil {
		return
	}
	o.BootFirmwareUpdated = f.rep.FirmwareUpdated
	if f.rep.Cause != "" {
		o.BootCause, o.BootCommandKey = f.rep.Cause, f.rep.CommandKey
	}
	// A download cut short by a Reboot() continues at the next start.
	prev := o.OnReboot
	o.OnReboot = func(cause string) {
		f.svc.Close()
		if prev != nil {
			prev(cause)
		}
	}
}

// start sends TransferComplete! through a, continues the downloads the
// previous run left (ctx is the agent's life: a download cut short by its
// end continues at the next start), and, while the running image is on
// trial, confirms it when an MTP is Up or rolls back after ConfirmTimeout.
func (f *agentFirmware) start(ctx context.Context, a *agent.Agent) {
	if f == nil {
		return
	}
	f.svc.SetEmitter(a)
	f.svc.Resume(ctx) // downloads the previous run did not finish
	if !f.dir.Trial() {
		return
	}
	go f.confirm(ctx, a)
}

func (f *agentFirmware) confirm(ctx context.Context, a *agent.Agent) {
	deadline := time.NewTimer(f.cfg.ConfirmTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			if next := f.dir.Rollback(fmt.Sprintf("the image did not connect within %s; rolled back", f.cfg.ConfirmTimeout)); next != "" {
				f.log.Warn("firmware: the new image did not connect; rolling back", "to", next)
				f.restartInto(next)
			}
			return
		case <-tick.C:
			if mtpUp(ctx, a) {
				if err := f.dir.Confirm(); err != nil {
					f.log.Error("firmware: confirming the image", "err", err)
				} else {
					f.log.Info("firmware: image confirmed", "version", buildVersion())
				}
				return
			}
		}
	}
}

// mtpUp reports whether any of the agent's MTPs is Up.
func mtpUp(ctx context.Context, a *agent.Agent) bool {
	for _, r := range a.Engine().Get(ctx, datamodel.Caller{}, []string{"Device.LocalAgent.MTP.*.Status"}, 0) {
		for _, o := range r.Objects {
			if o.Params["Status"] == "Up" {
				return true
			}
		}
	}
	return false
}

// restartInto ends the agent and restarts it from path.
func (f *agentFirmware) restartInto(path string) {
	f.mu.Lock()
	f.next = path
	f.mu.Unlock()
	f.svc.Close()
	if f.onReboot != nil {
		f.onReboot("firmware")
	}
}

// restart replaces the process: with the binary an activation or a
// roll-back chose, or else with itself (Reboot()).
func (f *agentFirmware) restart() error {
	if f != nil {
		f.mu.Lock()
		next := f.next
		f.mu.Unlock()
		if next != "" {
			return syscall.Exec(next, os.Args, os.Environ())
		}
	}
	return restartSelf()
}
