package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/uspkit/uspkit/controller"
)

// uiRoutes are the routes the web UI needs beyond the rest of the API:
// who the caller is, an Agent's raw exchange, and the Controller's figures
// as JSON.
func (s *Server) uiRoutes() []route {
	return []route{
		{"GET", "/api/v1/whoami", "The caller's role", Viewer, "", s.whoami},
		{"GET", "/api/v1/agents/{id}/exchange", "The last USP Records exchanged with an agent (n, at most 50), newest first, decoded as JSON", Viewer, "", s.exchange},
		{"GET", "/api/v1/summary", "The controller's figures as JSON: agents, online, requests and errors so far (the figures of /metrics)", Viewer, "", s.summary},
	}
}

// WhoAmI is the answer of GET /api/v1/whoami.
type WhoAmI struct {
	Role Role `json:"role"`
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, WhoAmI{Role: callerRole(r)})
}

func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.opt.Controller.Agent(id); !ok {
		writeError(w, http.StatusNotFound, "unknown agent")
		return
	}
	n := controller.ExchangeRecords
	if v := r.URL.Query().Get("n"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil || x <= 0 {
			writeError(w, http.StatusBadRequest, "n: "+strconv.Quote(v)+" is not a positive number")
			return
		}
		n = min(x, controller.ExchangeRecords)
	}
	writeJSON(w, http.StatusOK, map[string]any{"agent": id, "records": s.opt.Controller.Exchange(id, n)})
}

// Summary is the answer of GET /api/v1/summary: the figures of /metrics
// that a dashboard plots, with the time they were read so that rates can
// be derived from two readings.
type Summary struct {
	Time     time.Time `json:"time"`
	Agents   int       `json:"agents"`
	Online   int       `json:"online"`
	InFlight int       `json:"in_flight"`
	Queued   int       `json:"queued"`
	Events   int       `json:"events"`
	Notifies int       `json:"notifications_total"`
	// Requests and Errors count the API's requests to Agents that were
	// answered and that failed.
	Requests uint64 `json:"requests_total"`
	Errors   uint64 `json:"request_errors_total"`
}

func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	st := s.opt.Controller.Stats()
	m := s.metrics
	m.mu.Lock()
	req, errs := m.count, m.errors
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, Summary{Time: time.Now().UTC(), Agents: st.Agents, Online: st.Online, InFlight: st.InFlight,
		Queued: st.Queued, Events: st.Events, Notifies: st.Notifies, Requests: req, Errors: errs})
}
