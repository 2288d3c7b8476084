package api

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/endpoint"
)

// E2EBody is the body of PUT /api/v1/agents/{id}/e2e: how the Controller
// uses E2E Session Contexts with one Agent.
type E2EBody struct {
	// Policy is off, prefer or require.
	Policy string `json:"policy"`
	// PayloadSecurity is PLAINTEXT (or empty) or TLS12.
	PayloadSecurity string `json:"payload_security,omitempty"`
	// MaxRecordSize bounds the session's Records, in bytes; 0: the MTP's
	// largest.
	MaxRecordSize int `json:"max_record_size,omitempty"`
	// Expiration ends an idle session, a Go duration ("10m"); "": never.
	Expiration string `json:"expiration,omitempty"`
	// MaxRetransmit is how often a Record may be sent again on request;
	// 0: the default, 3.
	MaxRetransmit int `json:"max_retransmit,omitempty"`
}

// E2EState is what GET /api/v1/agents/{id}/e2e answers: the settings in
// force for the Agent and whether a session is established now.
type E2EState struct {
	E2EBody
	Established bool `json:"established"`
}

// e2eRoutes serve the per-Agent E2E session settings.
func (s *Server) e2eRoutes() []route {
	return []route{
		{"GET", "/api/v1/agents/{id}/e2e", "An agent's E2E session settings and whether a session is established", Viewer, "", s.getE2E},
		{"PUT", "/api/v1/agents/{id}/e2e", "Set an agent's E2E session settings (policy off, prefer or require; payload security PLAINTEXT or TLS12)", Operator, "E2EBody", s.putE2E},
	}
}

// e2eSchemas are the request schemas of the E2E routes.
func e2eSchemas() map[string]any {
	return map[string]any{"E2EBody": schemaOf(reflect.TypeOf(E2EBody{}))}
}

func (s *Server) getE2E(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := endpoint.Validate(id); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	set, up := s.opt.Controller.Sessions(id)
	st := E2EState{E2EBody: E2EBody{Policy: set.Policy.String(), PayloadSecurity: controller.PayloadSecurityName(set.Config.Security),
		MaxRecordSize: set.Config.MaxRecordSize, MaxRetransmit: set.Config.MaxRetransmit}, Established: up}
	if set.Config.Expiration > 0 {
		st.Expiration = set.Config.Expiration.String()
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) putE2E(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := endpoint.Validate(id); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var b E2EBody
	if !readBody(w, r, &b) {
		return
	}
	set, err := b.settings()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.opt.Controller.SaveSessions(r.Context(), id, set); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, controller.ErrSessionSpec) {
			status = http.StatusBadRequest
		}
		writeError(w, status, err.Error())
		return
	}
	s.getE2E(w, r)
}

func (b E2EBody) settings() (controller.SessionSettings, error) {
	var exp time.Duration
	if b.Expiration != "" {
		var err error
		if exp, err = time.ParseDuration(b.Expiration); err != nil || exp < 0 {
			return controller.SessionSettings{}, fmt.Errorf("expiration %q: want a positive Go duration", b.Expiration)
		}
	}
	return controller.NewSessionSettings(b.Policy, b.PayloadSecurity, b.MaxRecordSize, exp, b.MaxRetransmit)
}
