//go:build !usp_nodiag

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/ipdiag"
)

// defineDiagnostics adds Device.IP.Diagnostics and
// Device.DNS.Diagnostics to usp agent's data model (docs/diagnostics.md).
func defineDiagnostics(m *schema.Model) { ipdiag.Define(m) }

// echoConfigFile keeps Device.IP.Diagnostics.UDPEchoConfig in the data
// directory across restarts.
const echoConfigFile = "udpecho.json"

// startDiagnostics serves the diagnostics commands and the UDP echo
// server on mux; an Interface argument is resolved through the agent's
// data model once it exists. The echo server's configuration is kept in
// dir and restored once the agent exists; the server stops when ctx ends.
func startDiagnostics(ctx context.Context, mux *datamodel.Mux, ag *atomic.Pointer[agent.Agent], dir string, log *slog.Logger) {
	path := filepath.Join(dir, echoConfigFile)
	d := ipdiag.New(&ipdiag.Options{Log: log,
		InterfaceName: ipdiag.EngineInterfaces(func() *datamodel.Engine {
			if a := ag.Load(); a != nil {
				return a.Engine()
			}
			return nil
		}),
		SaveEchoConfig: func(cfg map[string]string) {
			if err := writeJSONFile(path, cfg); err != nil {
				log.Warn("diagnostics: keeping the UDP echo configuration", "err", err)
			}
		}})
	d.Register(mux)
	context.AfterFunc(ctx, func() { d.Close() })
	var cfg map[string]string
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		log.Warn("diagnostics: the kept UDP echo configuration", "file", path, "err", err)
		return
	}
	go func() { // once the agent exists, its data model resolves the Interface
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for ag.Load() == nil {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		if err := d.RestoreEchoConfig(ctx, cfg); err != nil {
			log.Warn("diagnostics: restoring the UDP echo server", "err", err)
		}
	}()
}

// writeJSONFile replaces path with v as JSON, readable by its owner only.
func writeJSONFile(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
