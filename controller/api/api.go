package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/filestore"
	"github.com/uspkit/uspkit/telemetry"
	"github.com/uspkit/uspkit/wire"
)

// MaxTimeout caps the ?timeout= of a request to an Agent.
const MaxTimeout = 10 * time.Minute

// streamWriteTimeout bounds each write of an event stream.
const streamWriteTimeout = 30 * time.Second

// Options configure the API.
type Options struct {
	Controller *controller.Controller
	Tokens     *Tokens
	// Timeout bounds a request to an Agent unless the call says
	// otherwise (?timeout=5s); 0 means 30 seconds.
	Timeout time.Duration
	// Policy lists the paths whose change needs more than the operator
	// role, checked on every request sent to an Agent whatever the route
	// (see PathRule); nil means DefaultPolicy().
	Policy []PathRule
	Logger *slog.Logger
	// Accounts, if not nil, serves /api/v1/accounts (the embedded MQTT
	// broker's Agent accounts); nil answers 501 there.
	Accounts Accounts
	// Files, if not nil, is the file store behind /api/v1/files, served
	// to Agents at /files/TOKEN/NAME; FilesURL is the base URL Agents
	// reach it at (default: the scheme and host of the API request), and
	// MaxUpload bounds an upload (0 means 2 GiB).
	Files     *filestore.Store
	FilesURL  string
	MaxUpload int64
	// Telemetry, if not nil, serves the Bulk Data collector (POST and PUT
	// /bulkdata/{agent}, with the Agent's credentials), the telemetry
	// queries and their figures in /metrics (controller/api/telemetry.go);
	// CollectorURL is the collector's base URL as Agents reach it
	// ("https://host:port"), given to the profiles the API configures;
	// "" means the scheme and Host the API was called with.
	Telemetry    *telemetry.Service
	CollectorURL string
}

// Server is the API's http.Handler.
type Server struct {
	opt     Options
	mux     *http.ServeMux
	metrics *metrics
	routes  []route
}

// route is one operation, for the mux and the OpenAPI document.
type route struct {
	method, path, summary string
	role                  Role
	body                  string // name of the request schema, if any
	handler               http.HandlerFunc
}

// New builds the API.
func New(o Options) *Server {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Policy == nil {
		o.Policy = DefaultPolicy()
	}
	s := &Server{opt: o, mux: http.NewServeMux(), metrics: newMetrics()}
	s.routes = []route{
		{"GET", "/api/v1/agents", "List agents (filters: q, model, version, online, tag, group, seen_before, seen_after, param and value; sort: id, model, version, last_seen, online; order: asc, desc; paging: limit, offset)", Viewer, "", s.listAgents},
		{"GET", "/api/v1/agents/{id}", "One agent", Viewer, "", s.getAgent},
		{"DELETE", "/api/v1/agents/{id}", "Forget an agent", Admin, "", s.deleteAgent},
		{"POST", "/api/v1/agents/{id}/get", "USP Get", Viewer, "GetBody", s.usp(getReq)},
		{"POST", "/api/v1/agents/{id}/set", "USP Set", Operator, "SetBody", s.usp(setReq)},
		{"POST", "/api/v1/agents/{id}/add", "USP Add", Operator, "AddBody", s.usp(addReq)},
		{"POST", "/api/v1/agents/{id}/delete", "USP Delete", Operator, "DeleteBody", s.usp(deleteReq)},
		{"POST", "/api/v1/agents/{id}/operate", "USP Operate", Operator, "OperateBody", s.usp(operateReq)},
		{"POST", "/api/v1/agents/{id}/instances", "USP GetInstances", Viewer, "InstancesBody", s.usp(instancesReq)},
		{"POST", "/api/v1/agents/{id}/supported", "USP GetSupportedDM", Viewer, "SupportedBody", s.usp(supportedReq)},
		{"POST", "/api/v1/agents/{id}/protocol", "USP GetSupportedProtocol", Viewer, "", s.usp(protocolReq)},
		{"POST", "/api/v1/agents/{id}/msg", "Any USP request Msg, in protobuf JSON", Viewer, "Msg", s.usp(rawReq)},
		{"GET", "/api/v1/events", "Stored events (after, agent)", Viewer, "", s.listEvents},
		{"GET", "/api/v1/events/stream", "Live events as Server-Sent Events", Viewer, "", s.streamEvents},
		{"GET", "/api/v1/subscriptions", "Subscriptions the controller keeps on every agent", Viewer, "", s.listSubscriptions},
		{"POST", "/api/v1/subscriptions", "Add a subscription to keep on every agent", Operator, "SubscriptionBody", s.addSubscription},
		{"GET", "/api/v1/operations", "Asynchronous operations and their outcome (agent)", Viewer, "", s.listOperations},
		{"GET", "/api/v1/openapi.json", "This document", Viewer, "", s.openAPI},
		{"GET", "/metrics", "Prometheus metrics", Viewer, "", s.serveMetrics},
	}
	s.routes = append(s.routes, s.accountRoutes()...)
	s.routes = append(s.routes, s.admissionRoutes()...)
	s.routes = append(s.routes, s.campaignRoutes()...)
	s.routes = append(s.routes, s.fleetRoutes()...)
	s.routes = append(s.routes, s.e2eRoutes()...)
	s.serveFiles()
	s.routes = append(s.routes, s.telemetryRoutes()...)
	s.routes = append(s.routes, s.uiRoutes()...)
	for _, r := range s.routes {
		s.mux.Handle(r.method+" "+r.path, s.auth(r.role, r.handler))
	}
	s.collector()
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// auth checks the bearer token against the route's role.
func (s *Server) auth(need Role, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		role, known := s.opt.Tokens.role(strings.TrimSpace(tok))
		switch {
		case !ok || !known:
			w.Header().Set("WWW-Authenticate", `Bearer realm="uspkit"`)
			writeError(w, http.StatusUnauthorized, "a valid bearer token is required")
		case !role.allows(need):
			writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not do this (needs %s)", role, need))
		default:
			next(w, r.WithContext(context.WithValue(r.Context(), roleKey{}, role)))
		}
	})
}

// roleKey is the request context key of the caller's Role.
type roleKey struct{}

// callerRole returns the Role auth found for r.
func callerRole(r *http.Request) Role {
	role, _ := r.Context().Value(roleKey{}).(Role)
	return role
}

type errorBody struct {
	Error string `json:"error"`
	// Code and Message are the USP error, for a USP Error response.
	Code    uint32          `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
	Msg     json.RawMessage `json:"msg,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request) {
	s.searchAgents(w, r, "")
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request) {
	a, ok := s.opt.Controller.Agent(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "unknown agent")
		return
	}
	writeJSON(w, http.StatusOK, withTags(a))
}

func (s *Server) deleteAgent(w http.ResponseWriter, r *http.Request) {
	if err := s.opt.Controller.DeleteAgent(r.Context(), r.PathValue("id")); err != nil {
		if errors.Is(err, controller.ErrUnknownAgent) {
			writeError(w, http.StatusNotFound, "unknown agent")
			return
		}
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// usp runs one USP request built from the JSON body and answers with the
// response Msg in protobuf JSON; a USP Error answers 422 with its code and
// message.
func (s *Server) usp(build func([]byte) (*wire.Request, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if mb := (*http.MaxBytesError)(nil); errors.As(err, &mb) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", mb.Limit))
			return
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		req, err := build(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if need, at := requiredRole(req, s.opt.Policy); !callerRole(r).allows(need) {
			s.opt.Logger.Warn("api: request refused by the path policy", "role", callerRole(r), "need", need, "path", at, "agent", r.PathValue("id"))
			writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s (needs %s; see the API's path policy)", callerRole(r), refusedWhat(req, at), need))
			return
		}
		timeout := s.opt.Timeout
		if d, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && d > 0 {
			timeout = min(d, MaxTimeout)
		}
		// The server's WriteTimeout bounds ordinary answers; this one may
		// wait for the Agent as long as the caller asked.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout + 10*time.Second))
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		start := time.Now()
		m, err := s.opt.Controller.Do(ctx, r.PathValue("id"), req)
		s.metrics.observe(time.Since(start), err)
		switch {
		case errors.Is(err, controller.ErrUnknownAgent):
			writeError(w, http.StatusNotFound, "unknown agent")
			return
		case errors.Is(err, controller.ErrTooLarge):
			writeError(w, http.StatusRequestEntityTooLarge, err.Error())
			return
		case errors.Is(err, controller.ErrPending):
			writeError(w, http.StatusConflict, "agent waiting for approval (POST /api/v1/agents/{id}/approve)")
			return
		case errors.Is(err, controller.ErrQueued):
			writeJSON(w, http.StatusAccepted, map[string]any{"queued": true, "error": err.Error()})
			return
		case errors.Is(err, controller.ErrTimeout):
			writeError(w, http.StatusGatewayTimeout, err.Error())
			return
		case err != nil:
			writeError(w, http.StatusBadGateway, err.Error())
			return
		}
		raw, err := controller.MsgJSON(m)
		if err != nil {
			writeError(w, http.StatusBadGateway, err.Error())
			return
		}
		if e := m.GetBody().GetError(); e != nil {
			writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "USP error", Code: e.GetErrCode(), Message: e.GetErrMsg(), Msg: raw})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(raw)
	}
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	ev := s.opt.Controller.Events(r.URL.Query().Get("agent"), after)
	if ev == nil {
		ev = []controller.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": ev})
}

// SubscriptionBody is the body of POST /api/v1/subscriptions.
type SubscriptionBody struct {
	ID            string `json:"id"`
	NotifType     string `json:"notif_type"`
	ReferenceList string `json:"reference_list"`
}

func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	var out []SubscriptionBody
	for _, x := range s.opt.Controller.DesiredSubscriptions() {
		out = append(out, SubscriptionBody{ID: x.ID, NotifType: x.NotifType, ReferenceList: x.ReferenceList})
	}
	if out == nil {
		out = []SubscriptionBody{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": out})
}

func (s *Server) addSubscription(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	var sb SubscriptionBody
	if err == nil {
		err = decode(b, &sb)
	}
	if err == nil && (sb.ID == "" || sb.NotifType == "") {
		err = errors.New("request body: id and notif_type are required")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.opt.Controller.AddSubscription(r.Context(), controller.Subscription{ID: sb.ID, NotifType: sb.NotifType, ReferenceList: sb.ReferenceList})
	writeJSON(w, http.StatusCreated, sb)
}

func (s *Server) listOperations(w http.ResponseWriter, r *http.Request) {
	ops := s.opt.Controller.Operations(r.URL.Query().Get("agent"))
	if ops == nil {
		ops = []controller.Operation{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"operations": ops})
}
