package telemetry

import (
	"context"
	"fmt"
)

// IngestReport stores one report body that agent sent by another way than
// the HTTP collector, such as an MQTT PUBLISH (TR-181
// Device.BulkData.Profile.{i}.MQTT): decoded as contentType says (JSON or
// CSV; "" lets the body tell), at most MaxBody bytes, counted and stored
// as a collector transfer is. A refused body counts as rejected and
// stores nothing.
func (s *Service) IngestReport(ctx context.Context, agent string, body []byte, contentType string) (int, error) {
	if int64(len(body)) > s.opt.MaxBody {
		s.rejected.Add(1)
		return 0, fmt.Errorf("%w: %d bytes, over %d", ErrFormat, len(body), s.opt.MaxBody)
	}
	reps, err := Parse(body, contentType)
	if err != nil {
		s.rejected.Add(1)
		return 0, err
	}
	return s.Ingest(ctx, agent, reps)
}
