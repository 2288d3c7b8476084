package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/tr181/vendorfiles"
)

// agentLogRing is how much of its log `usp agent` keeps for
// Device.DeviceInfo.VendorLogFile.1.Upload().
const agentLogRing = 256 << 10

// configFormat names the content of the Agent's VendorConfigFile.
const configFormat = "uspkit-agent-config"

// agentConfigFile is the content of VendorConfigFile.1: the Agent's
// stored data model, as its store holds it (Secured values stay sealed
// with the device's key, so a backup restores on the device that made it).
type agentConfigFile struct {
	Format   string            `json:"format"`
	Version  string            `json:"version"`
	Objects  []store.Object    `json:"objects"`
	Counters map[string]uint32 `json:"counters,omitempty"`
}

// vendorFiles is `usp agent`'s Device.DeviceInfo.VendorConfigFile and
// VendorLogFile: its stored configuration and its recent log.
type vendorFiles struct {
	ring  *vendorfiles.LogRing
	files *vendorfiles.Files // once registered
}

// defineVendorFiles adds the vendor files to m and returns the logger to
// use from now on: log, with a copy of each record it writes in the ring
// VendorLogFile.1 uploads (the same records, so that nothing more is
// formatted than log_level asks for).
func defineVendorFiles(m *schema.Model, log *slog.Logger) (*vendorFiles, *slog.Logger) {
	vendorfiles.Define(m)
	v := &vendorFiles{ring: vendorfiles.NewLogRing(agentLogRing)}
	return v, slog.New(teeHandler{log.Handler(), slog.NewTextHandler(v.ring, &slog.HandlerOptions{Level: slog.LevelDebug})})
}

// register serves the files: Backup() sends db's objects and counters,
// Restore() replaces them and restarts the Agent (reboot) so that it runs
// on what was restored.
func (v *vendorFiles) register(mux *datamodel.Mux, db agentStore, reboot func(cause string), log *slog.Logger) {
	cfg := vendorfiles.ConfigFile{Name: "usp-agent-config.json", Version: buildVersion(), UseForBackupRestore: true,
		Description: "the Agent's stored data model (secured values sealed with this device's key)",
		Backup: func(ctx context.Context, w io.Writer) error {
			snap, err := db.Load(ctx)
			if err != nil {
				return err
			}
			return json.NewEncoder(w).Encode(agentConfigFile{Format: configFormat, Version: buildVersion(), Objects: snap.Objects, Counters: snap.Counters})
		},
		Restore: func(ctx context.Context, data []byte) error {
			var c agentConfigFile
			if err := json.Unmarshal(data, &c); err != nil {
				return fmt.Errorf("not an agent configuration: %w", err)
			}
			if c.Format != configFormat || len(c.Objects) == 0 {
				return fmt.Errorf("not an agent configuration: want format %s with objects", configFormat)
			}
			for _, o := range c.Objects {
				if len(o.Path) < len("Device.") || o.Path[:len("Device.")] != "Device." || o.Path[len(o.Path)-1] != '.' {
					return fmt.Errorf("object path %.64q is not under Device", o.Path)
				}
			}
			if err := db.Apply(ctx, &store.Batch{Delete: []string{"Device."}, Put: c.Objects, Counters: c.Counters}); err != nil {
				return err
			}
			log.WarnContext(ctx, "configuration restored; restarting", "objects", len(c.Objects), "from_version", c.Version)
			if reboot != nil {
				go func() {
					time.Sleep(time.Second) // the OperationComplete goes out first
					reboot("RemoteReboot")
				}()
			}
			return nil
		}}
	v.files = vendorfiles.Register(mux, vendorfiles.Options{Config: []vendorfiles.ConfigFile{cfg}, Logs: []vendorfiles.LogFile{v.ring.File("usp-agent.log")}, Logger: log})
}

// teeHandler sends the records a takes to a, and a copy to b.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool { return t.a.Enabled(ctx, l) }

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	return errors.Join(t.a.Handle(ctx, r.Clone()), t.b.Handle(ctx, r))
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(g string) slog.Handler {
	return teeHandler{t.a.WithGroup(g), t.b.WithGroup(g)}
}
