//go:build !usp_device

package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/telemetry"
)

// telemetryConfig is the `telemetry:` section of `usp controller`'s file:
// the Bulk Data collector and time series (on unless disabled).
type telemetryConfig struct {
	// Disabled turns the collector, the Push! ingest and the telemetry
	// queries off.
	Disabled bool `yaml:"disabled"`
	// MaxAge is how long values are kept (a Go duration); "" means 720h.
	MaxAge string `yaml:"max_age"`
	// CollectorURL is the collector's base URL as Agents reach it, put in
	// the profiles the API configures; "" means the URL the API was
	// called with.
	CollectorURL string `yaml:"collector_url"`
	// MetricParams are the report parameter names whose latest value per
	// Agent /metrics exports.
	MetricParams []string `yaml:"metric_params"`
	// MQTTTopic is the topic filter the Controller takes the Bulk Data
	// reports Agents publish to MQTT from, on the embedded broker or that
	// of its first MQTT MTP; its first "+" level is the Agent's Endpoint
	// ID (telemetrymqtt.go). "" means usp/bulkdata/+/#, "off" none.
	MQTTTopic string `yaml:"mqtt_topic"`
}

func (t *telemetryConfig) check() error {
	if t != nil {
		if err := checkBulkMQTTTopic(t.MQTTTopic); err != nil {
			return err
		}
	}
	if t == nil || t.MaxAge == "" {
		return nil
	}
	if d, err := time.ParseDuration(t.MaxAge); err != nil || d <= 0 {
		return fmt.Errorf("telemetry.max_age: %q is not a positive duration", t.MaxAge)
	}
	return nil
}

// bulkDataKeyFile holds the key the Agents' collector passwords are
// derived from (0600).
const bulkDataKeyFile = "bulkdata.key"

// startTelemetry opens the time series (PostgreSQL when the controller
// uses it, else telemetry.db in the data directory), runs the retention
// purge and ingests the Push! events c receives. It returns nil and a
// no-op when disabled.
func startTelemetry(ctx context.Context, tc *telemetryConfig, data, postgres string, c *controller.Controller, log *slog.Logger) (*telemetry.Service, func(), error) {
	if tc != nil && tc.Disabled {
		return nil, func() {}, nil
	}
	if tc == nil {
		tc = &telemetryConfig{}
	}
	key, err := loadKey(filepath.Join(data, bulkDataKeyFile))
	if err != nil {
		return nil, nil, err
	}
	var db *telemetry.DB
	if postgres != "" {
		db, err = telemetry.OpenPostgres(ctx, postgres)
	} else {
		db, err = telemetry.OpenSQLite(ctx, filepath.Join(data, "telemetry.db"))
	}
	if err != nil {
		return nil, nil, err
	}
	maxAge := 720 * time.Hour
	if tc.MaxAge != "" {
		maxAge, _ = time.ParseDuration(tc.MaxAge)
	}
	svc := telemetry.New(db, telemetry.NewCredentials(key), &telemetry.Options{MetricParams: tc.MetricParams, Logger: log})
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { svc.RunRetention(ctx, maxAge, 0); done <- struct{}{} }()
	ing := newPushIngest(c, func(ctx context.Context, e controller.Event) { ingestPush(ctx, svc, e, log) }, pushPoint(data), log)
	go func() { ing.run(ctx); done <- struct{}{} }()
	return svc, func() { cancel(); <-done; <-done; db.Close() }, nil
}

// loadKey reads the 32-byte key at path, creating it (0600) if absent.
func loadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("telemetry key: %w", err)
	}
	return b, nil
}

// pushEvent is the part of a Notify Msg (protobuf JSON, proto names) a
// Push! event needs.
type pushEvent struct {
	Body struct {
		Request struct {
			Notify struct {
				Event struct {
					ObjPath   string            `json:"obj_path"`
					EventName string            `json:"event_name"`
					Params    map[string]string `json:"params"`
				} `json:"event"`
			} `json:"notify"`
		} `json:"request"`
	} `json:"body"`
}

func ingestPush(ctx context.Context, svc *telemetry.Service, e controller.Event, log *slog.Logger) {
	if e.Kind != "notify" {
		return
	}
	var m pushEvent
	if json.Unmarshal(e.Msg, &m) != nil {
		return
	}
	ev := m.Body.Request.Notify.Event
	if ev.EventName != "Push!" || !strings.HasPrefix(ev.ObjPath, "Device.BulkData.Profile.") {
		return
	}
	if _, err := svc.IngestPush(ctx, e.Agent, ev.Params["Data"]); err != nil {
		log.WarnContext(ctx, "Push! report not stored", "agent", e.Agent, "profile", ev.ObjPath, "err", err)
	}
}

func (t *telemetryConfig) collectorURL() string {
	if t == nil {
		return ""
	}
	return t.CollectorURL
}
