package api

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// metrics keeps the round-trip histogram; the rest comes from the
// Controller's Stats.
type metrics struct {
	mu      sync.Mutex
	buckets []float64 // upper bounds, seconds
	counts  []uint64
	sum     float64
	count   uint64
	errors  uint64
}

func newMetrics() *metrics {
	b := []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	return &metrics{buckets: b, counts: make([]uint64, len(b))}
}

func (m *metrics) observe(d time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.errors++
		return
	}
	s := d.Seconds()
	for i, b := range m.buckets {
		if s <= b {
			m.counts[i]++
		}
	}
	m.sum += s
	m.count++
}

// serveMetrics writes the Prometheus text format.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	st := s.opt.Controller.Stats()
	var b bytes.Buffer
	gauge := func(name, help string, v int) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	gauge("usp_agents", "Agents known.", st.Agents)
	gauge("usp_agents_online", "Agents online.", st.Online)
	gauge("usp_requests_in_flight", "Requests waiting for a response.", st.InFlight)
	gauge("usp_queue_depth", "Requests queued for offline agents.", st.Queued)
	gauge("usp_events_stored", "Events stored.", st.Events)
	fmt.Fprintf(&b, "# HELP usp_notifications_received_total Notify messages received.\n# TYPE usp_notifications_received_total counter\nusp_notifications_received_total %d\n", st.Notifies)
	m := s.metrics
	m.mu.Lock()
	fmt.Fprintf(&b, "# HELP usp_request_duration_seconds Round trip of API requests to agents.\n# TYPE usp_request_duration_seconds histogram\n")
	for i, ub := range m.buckets {
		fmt.Fprintf(&b, "usp_request_duration_seconds_bucket{le=\"%g\"} %d\n", ub, m.counts[i])
	}
	fmt.Fprintf(&b, "usp_request_duration_seconds_bucket{le=\"+Inf\"} %d\nusp_request_duration_seconds_sum %g\nusp_request_duration_seconds_count %d\n", m.count, m.sum, m.count)
	fmt.Fprintf(&b, "# HELP usp_request_errors_total API requests to agents that failed.\n# TYPE usp_request_errors_total counter\nusp_request_errors_total %d\n", m.errors)
	m.mu.Unlock()
	if s.opt.Telemetry != nil {
		s.opt.Telemetry.WriteMetrics(&b)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	w.Write(b.Bytes())
}
