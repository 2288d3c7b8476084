//go:build usp_nobulk

package cli

import (
	"context"
	"errors"
	"log/slog"

	"go.yaml.in/yaml/v3"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/schema"
)

// An agent built with the usp_nobulk tag has no Device.BulkData
// (tr181/bulkdata: HTTP and MQTT reports of profiles); a configuration
// with a bulk_data section is refused.

// bulkDataConfig refuses the bulk_data section.
type bulkDataConfig struct{}

func (*bulkDataConfig) UnmarshalYAML(*yaml.Node) error {
	return errors.New("bulk_data: not in this build (usp_nobulk)")
}

func defineBulkData(*schema.Model) {}

// noBulkData stands for the Bulk Data service: it serves nothing.
type noBulkData struct{}

func newBulkData(*bulkDataConfig, string, *slog.Logger) (*noBulkData, error) {
	return &noBulkData{}, nil
}

func (*noBulkData) Register(*datamodel.Mux) {}
func (*noBulkData) SetMQTT(*mqttClients)    {}

func runBulkData(context.Context, *noBulkData, *agent.Agent) (stop func()) { return func() {} }

// mqttClients keeps no MQTT clients: no report is published through them.
type mqttClients struct{}

func (*mqttClients) add(string, *mqtt.Client, bool) {}
