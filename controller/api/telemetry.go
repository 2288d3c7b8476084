package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/telemetry"
	"github.com/uspkit/uspkit/wire"
)

// BulkDataBody configures a Bulk Data profile on an Agent that reports to
// this Controller: over HTTP to the collector (with the Agent's
// credentials) or as Push! events over USP.
type BulkDataBody struct {
	// Name is the profile's Name.
	Name string `json:"name,omitempty"`
	// Protocol is "HTTP" (default) or "USPEventNotif".
	Protocol string `json:"protocol,omitempty"`
	// Encoding is "JSON" (default) or "CSV".
	Encoding string `json:"encoding,omitempty"`
	// Interval is the ReportingInterval in seconds; 0 means 300.
	Interval uint32 `json:"interval,omitempty"`
	// Params are the Parameter references: parameter or object paths,
	// "*" for instance numbers.
	Params []string `json:"params"`
	// Retain is NumberOfRetainedFailedReports (HTTP); 0 means 3.
	Retain int `json:"retain,omitempty"`
}

func (s *Server) telemetryRoutes() []route {
	return []route{
		{"GET", "/api/v1/agents/{id}/telemetry", "Bulk Data values of an agent: the parameters stored (no param), or one parameter's points (param, from, to as RFC 3339 or Unix seconds, step as a Go duration, agg avg|min|max|last)", Viewer, "", s.getTelemetry},
		{"POST", "/api/v1/agents/{id}/bulkdata", "Configure a Bulk Data profile on an agent that reports to this controller; answers the profile's path", Operator, "BulkDataBody", s.addBulkData},
	}
}

// collector mounts the Bulk Data collector, which authenticates Agents
// with their own credentials, not bearer tokens.
func (s *Server) collector() {
	if s.opt.Telemetry == nil {
		return
	}
	h := s.opt.Telemetry.Collector()
	s.mux.Handle("POST /bulkdata/{agent}", h)
	s.mux.Handle("PUT /bulkdata/{agent}", h)
}

func (s *Server) getTelemetry(w http.ResponseWriter, r *http.Request) {
	tel := s.opt.Telemetry
	if tel == nil {
		writeError(w, http.StatusNotImplemented, "this controller keeps no telemetry")
		return
	}
	id := r.PathValue("id")
	qv := r.URL.Query()
	if qv.Get("param") == "" {
		ps, err := tel.Params(r.Context(), id)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"agent": id, "params": ps})
		return
	}
	q := telemetry.Query{Agent: id, Param: qv.Get("param"), Agg: qv.Get("agg")}
	var err error
	if q.From, err = queryTime(qv.Get("from")); err != nil {
		writeError(w, http.StatusBadRequest, "from: "+err.Error())
		return
	}
	if q.To, err = queryTime(qv.Get("to")); err != nil {
		writeError(w, http.StatusBadRequest, "to: "+err.Error())
		return
	}
	if st := qv.Get("step"); st != "" {
		if q.Step, err = time.ParseDuration(st); err != nil || q.Step <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("step: %q is not a positive Go duration", st))
			return
		}
	}
	switch q.Agg {
	case "", "avg", "min", "max", "last":
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("agg: %q is not avg, min, max or last", q.Agg))
		return
	}
	ps, err := tel.Query(r.Context(), q)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if ps == nil {
		ps = []telemetry.Point{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"agent": id, "param": q.Param, "points": ps})
}

// queryTime reads RFC 3339 or Unix seconds; "" is the zero Time.
func queryTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor Unix seconds", s)
	}
	return t, nil
}

// addBulkData adds the profile (disabled), its Parameter rows, then
// enables it: three requests, each checked against the path policy.
func (s *Server) addBulkData(w http.ResponseWriter, r *http.Request) {
	var b BulkDataBody
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err == nil {
		err = decode(body, &b)
	}
	if err == nil && len(b.Params) == 0 {
		err = errors.New("request body: params is empty")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	id := r.PathValue("id")
	if b.Protocol == "" {
		b.Protocol = "HTTP"
	}
	if b.Encoding == "" {
		b.Encoding = "JSON"
	}
	if b.Interval == 0 {
		b.Interval = 300
	}
	if b.Retain == 0 {
		b.Retain = 3
	}
	set := [][2]string{{"Protocol", b.Protocol}, {"EncodingType", b.Encoding}, {"ReportingInterval", strconv.FormatUint(uint64(b.Interval), 10)}}
	if b.Name != "" {
		set = append(set, [2]string{"Name", b.Name})
	}
	if b.Protocol == "HTTP" {
		if s.opt.Telemetry == nil {
			writeError(w, http.StatusNotImplemented, "this controller runs no Bulk Data collector (telemetry)")
			return
		}
		base := s.opt.CollectorURL
		if base == "" {
			base = "http://" + r.Host
			if r.TLS != nil {
				base = "https://" + r.Host
			}
		}
		c := s.opt.Telemetry.Credentials()
		set = append(set, [2]string{"HTTP.URL", strings.TrimSuffix(base, "/") + "/bulkdata/" + url.PathEscape(id)},
			[2]string{"HTTP.Username", c.User(id)}, [2]string{"HTTP.Password", c.Password(id)},
			[2]string{"HTTP.RetryEnable", "true"}, [2]string{"NumberOfRetainedFailedReports", strconv.Itoa(b.Retain)})
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.Timeout)
	defer cancel()
	paths, ok := s.bulkDo(ctx, w, r, addOne("Device.BulkData.Profile.", set))
	if !ok {
		return
	}
	profile := paths[0]
	add := &wire.Add{}
	for _, p := range b.Params {
		add.CreateObjs = append(add.CreateObjs, &wire.Add_CreateObject{ObjPath: profile + "Parameter.",
			ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Reference", Value: p, Required: true}}})
	}
	if _, ok := s.bulkDo(ctx, w, r, &wire.Request{ReqType: &wire.Request_Add{Add: add}}); !ok {
		return
	}
	if b.Protocol == "USPEventNotif" {
		// The Push! events reach this Controller through a subscription.
		sub := addOne("Device.LocalAgent.Subscription.", [][2]string{{"NotifType", "Event"}, {"ReferenceList", profile + "Push!"},
			{"ID", "uspkit-bulkdata-" + strings.TrimSuffix(strings.TrimPrefix(profile, "Device.BulkData.Profile."), ".")}, {"Enable", "true"}, {"Persistent", "true"}})
		if _, ok := s.bulkDo(ctx, w, r, sub); !ok {
			return
		}
	}
	enable := &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: profile,
		ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Enable", Value: "true", Required: true}}}}}
	if _, ok := s.bulkDo(ctx, w, r, &wire.Request{ReqType: &wire.Request_Set{Set: enable}}); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": profile})
}

func addOne(table string, set [][2]string) *wire.Request {
	co := &wire.Add_CreateObject{ObjPath: table}
	for _, kv := range set {
		co.ParamSettings = append(co.ParamSettings, &wire.Add_CreateParamSetting{Param: kv[0], Value: kv[1], Required: true})
	}
	return &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{co}}}}
}

// bulkDo sends req to the agent after the policy check and returns the
// paths of the objects an Add created; on failure it has answered w.
func (s *Server) bulkDo(ctx context.Context, w http.ResponseWriter, r *http.Request, req *wire.Request) ([]string, bool) {
	if need, at := requiredRole(req, s.opt.Policy); !callerRole(r).allows(need) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not change %s (needs %s; see the API's path policy)", callerRole(r), at, need))
		return nil, false
	}
	start := time.Now()
	m, err := s.opt.Controller.Do(ctx, r.PathValue("id"), req)
	s.metrics.observe(time.Since(start), err)
	switch {
	case errors.Is(err, controller.ErrUnknownAgent):
		writeError(w, http.StatusNotFound, "unknown agent")
		return nil, false
	case errors.Is(err, controller.ErrTimeout):
		writeError(w, http.StatusGatewayTimeout, err.Error())
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadGateway, err.Error())
		return nil, false
	}
	if e := m.GetBody().GetError(); e != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "USP error", Code: e.GetErrCode(), Message: e.GetErrMsg()})
		return nil, false
	}
	var paths []string
	for _, cr := range m.GetBody().GetResponse().GetAddResp().GetCreatedObjResults() {
		if f := cr.GetOperStatus().GetOperFailure(); f != nil {
			writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "USP error", Code: f.GetErrCode(), Message: f.GetErrMsg()})
			return nil, false
		}
		paths = append(paths, cr.GetOperStatus().GetOperSuccess().GetInstantiatedPath())
	}
	if _, ok := req.GetReqType().(*wire.Request_Add); ok && len(paths) == 0 {
		writeError(w, http.StatusBadGateway, "the agent created nothing")
		return nil, false
	}
	return paths, true
}
