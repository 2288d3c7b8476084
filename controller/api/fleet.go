package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/wire"
)

// TagsBody is the body of PUT /api/v1/agents/{id}/tags: the Agent's tags,
// replacing those it had.
type TagsBody struct {
	Tags []string `json:"tags"`
}

// GroupBody is the body of POST /api/v1/groups and PUT
// /api/v1/groups/{id}: static (a list of Endpoint IDs) or dynamic (a
// filter with the keys of GET /api/v1/agents' filters; online is a
// boolean, seen_before and seen_after RFC 3339 times).
type GroupBody = controller.Group

// JobBody is the body of POST /api/v1/jobs.
type JobBody struct {
	Name string `json:"name,omitempty"`
	// Group (an ID) or Agents (Endpoint IDs) are the targets.
	Group  string   `json:"group,omitempty"`
	Agents []string `json:"agents,omitempty"`
	// Request is {"kind": "get|set|add|delete|operate|subscribe", …} with
	// the other fields of the body the per-agent route of that kind
	// takes (GetBody, SetBody, AddBody, DeleteBody, OperateBody;
	// SubscriptionBody for subscribe, which adds a
	// Device.LocalAgent.Subscription.).
	Request json.RawMessage `json:"request"`
	// Concurrency bounds the requests in flight (0 means 50).
	Concurrency int `json:"concurrency,omitempty"`
	// Deadline (RFC 3339) or RetryFor (a Go duration) is how long Agents
	// offline are waited for; neither means the controller's queue TTL.
	Deadline string `json:"deadline,omitempty"`
	RetryFor string `json:"retry_for,omitempty"`
}

// fleetRoutes serve tags, groups and jobs.
func (s *Server) fleetRoutes() []route {
	return []route{
		{"PUT", "/api/v1/agents/{id}/tags", "Replace an agent's tags", Operator, "TagsBody", s.putTags},
		{"GET", "/api/v1/groups", "Groups of agents", Viewer, "", s.listGroups},
		{"POST", "/api/v1/groups", "Create a static or dynamic group", Operator, "GroupBody", s.createGroup},
		{"GET", "/api/v1/groups/{id}", "One group", Viewer, "", s.getGroup},
		{"PUT", "/api/v1/groups/{id}", "Replace a group", Operator, "GroupBody", s.putGroup},
		{"DELETE", "/api/v1/groups/{id}", "Delete a group", Operator, "", s.deleteGroup},
		{"GET", "/api/v1/groups/{id}/agents", "A group's members (the filters, sort and paging of GET /api/v1/agents)", Viewer, "", s.groupAgents},
		{"GET", "/api/v1/jobs", "Jobs and campaigns, newest first, with their counts", Viewer, "", s.listJobs},
		{"POST", "/api/v1/jobs", "Start a job: one USP request to a group or a list of agents", Operator, "JobBody", s.createJob},
		{"GET", "/api/v1/jobs/{id}", "One job with its per-agent results (state, limit, offset: some of them)", Viewer, "", s.getJob},
		{"POST", "/api/v1/jobs/{id}/cancel", "Cancel a job", Operator, "", s.cancelJob},
		{"DELETE", "/api/v1/jobs/{id}", "Forget a job (cancelling it if it runs)", Operator, "", s.deleteJob},
	}
}

// fleetSchemas are the request schemas of the fleet routes.
func fleetSchemas() map[string]any {
	return map[string]any{
		"TagsBody":  schemaOf(reflect.TypeOf(TagsBody{})),
		"GroupBody": schemaOf(reflect.TypeOf(GroupBody{})),
		"JobBody":   schemaOf(reflect.TypeOf(JobBody{})),
	}
}

// withTags gives an Agent never tagged an empty list of tags.
func withTags(a controller.Agent) controller.Agent {
	if a.Tags == nil {
		a.Tags = []string{}
	}
	return a
}

// fleetStatus maps the controller's fleet errors to HTTP statuses.
func fleetStatus(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, controller.ErrUnknownAgent), errors.Is(err, controller.ErrUnknownGroup), errors.Is(err, controller.ErrUnknownJob):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, controller.ErrFleetSpec):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, controller.ErrJobState):
		writeError(w, http.StatusConflict, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// readBody reads and decodes a small JSON body; it answers the error
// itself and returns false.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if mb := (*http.MaxBytesError)(nil); errors.As(err, &mb) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", mb.Limit))
		return false
	}
	if err == nil {
		err = decode(b, v)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

// agentFilter reads the search filters of a query string.
func agentFilter(q url.Values) (controller.AgentFilter, error) {
	f := controller.AgentFilter{Q: q.Get("q"), Model: q.Get("model"), Version: q.Get("version"), Tag: q.Get("tag"),
		Group: q.Get("group"), Param: q.Get("param"), Value: q.Get("value")}
	if v := q.Get("online"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, fmt.Errorf("online=%q: want true or false", v)
		}
		f.Online = &b
	}
	for _, t := range []struct {
		key string
		to  *time.Time
	}{{"seen_before", &f.SeenBefore}, {"seen_after", &f.SeenAfter}} {
		if v := q.Get(t.key); v != "" {
			at, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, fmt.Errorf("%s=%q: want an RFC 3339 time", t.key, v)
			}
			*t.to = at
		}
	}
	return f, nil
}

// agentSearch reads a search (filters, sort, order, paging) from a query
// string.
func agentSearch(q url.Values) (controller.AgentSearch, error) {
	f, err := agentFilter(q)
	s := controller.AgentSearch{AgentFilter: f, Sort: q.Get("sort"), Order: q.Get("order"), Limit: 100}
	if err != nil {
		return s, err
	}
	for _, p := range []struct {
		key string
		to  *int
	}{{"limit", &s.Limit}, {"offset", &s.Offset}} {
		if v := q.Get(p.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return s, fmt.Errorf("%s=%q: want a number, 0 or more", p.key, v)
			}
			*p.to = n
		}
	}
	if s.Limit == 0 {
		s.Limit = 100
	}
	s.Limit = min(s.Limit, 10000)
	return s, nil
}

// searchAgents answers a search with {"agents", "total", "offset",
// "limit"}.
func (s *Server) searchAgents(w http.ResponseWriter, r *http.Request, group string) {
	search, err := agentSearch(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if group != "" {
		if _, err := s.opt.Controller.Group(group); err != nil {
			fleetStatus(w, err)
			return
		}
		if search.Group != "" && search.Group != group {
			writeError(w, http.StatusBadRequest, "group= names another group than the path")
			return
		}
		search.Group = group
	}
	agents, total, err := s.opt.Controller.SearchAgents(r.Context(), search)
	if err != nil {
		if errors.Is(err, controller.ErrUnknownGroup) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		fleetStatus(w, err)
		return
	}
	for i := range agents {
		agents[i] = withTags(agents[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": agents, "total": total, "offset": search.Offset, "limit": search.Limit})
}

func (s *Server) putTags(w http.ResponseWriter, r *http.Request) {
	var body TagsBody
	if !readBody(w, r, &body) {
		return
	}
	a, err := s.opt.Controller.SetTags(r.Context(), r.PathValue("id"), body.Tags)
	if err != nil {
		fleetStatus(w, err)
		return
	}
	writeJSON(w, http.StatusOK, withTags(a))
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"groups": s.opt.Controller.Groups()})
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	g, err := s.opt.Controller.Group(r.PathValue("id"))
	if err != nil {
		fleetStatus(w, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	var g GroupBody
	if !readBody(w, r, &g) {
		return
	}
	if g.ID != "" {
		if _, err := s.opt.Controller.Group(g.ID); err == nil {
			writeError(w, http.StatusConflict, "group "+g.ID+" exists (PUT /api/v1/groups/{id} replaces it)")
			return
		}
	}
	out, err := s.opt.Controller.PutGroup(r.Context(), g)
	if err != nil {
		fleetStatus(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) putGroup(w http.ResponseWriter, r *http.Request) {
	var g GroupBody
	if !readBody(w, r, &g) {
		return
	}
	id := r.PathValue("id")
	if g.ID != "" && g.ID != id {
		writeError(w, http.StatusBadRequest, "the body's id is not the path's")
		return
	}
	if _, err := s.opt.Controller.Group(id); err != nil {
		fleetStatus(w, err)
		return
	}
	g.ID = id
	out, err := s.opt.Controller.PutGroup(r.Context(), g)
	if err != nil {
		fleetStatus(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) {
	if err := s.opt.Controller.DeleteGroup(r.Context(), r.PathValue("id")); err != nil {
		fleetStatus(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) groupAgents(w http.ResponseWriter, r *http.Request) {
	s.searchAgents(w, r, r.PathValue("id"))
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"jobs": s.opt.Controller.Jobs()})
}

// jobPage is a job with one page of its results.
type jobPage struct {
	controller.Job
	// Results is the page, empty rather than absent.
	Results []controller.JobResult `json:"results"`
	// ResultsTotal is how many results the state filter kept, before
	// the page.
	ResultsTotal int `json:"results_total"`
}

// getJob answers a job with its results, all of them unless the query
// asks for a state (state=failed), a page (limit, offset) or both.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, offset := 0, 0
	for _, p := range []struct {
		key string
		to  *int
	}{{"limit", &limit}, {"offset", &offset}} {
		if v := q.Get(p.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%s=%q: want a number, 0 or more", p.key, v))
				return
			}
			*p.to = n
		}
	}
	j, err := s.opt.Controller.Job(r.PathValue("id"))
	if err != nil {
		fleetStatus(w, err)
		return
	}
	if j.Kind == controller.JobCampaign {
		writeJSON(w, http.StatusOK, j)
		return
	}
	results := []controller.JobResult{}
	state := q.Get("state")
	for _, x := range j.Results {
		if state == "" || x.State == state {
			results = append(results, x)
		}
	}
	total := len(results)
	results = results[min(offset, total):]
	if limit > 0 {
		results = results[:min(limit, len(results))]
	}
	j.Results = nil
	writeJSON(w, http.StatusOK, jobPage{Job: j, Results: results, ResultsTotal: total})
}

// jobRequest builds the USP request of a job from {"kind", …}.
func jobRequest(raw json.RawMessage) (string, *wire.Request, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return "", nil, errors.New("request: want an object with a kind")
	}
	var kind string
	if err := json.Unmarshal(fields["kind"], &kind); err != nil {
		return "", nil, errors.New("request: kind: want get, set, add, delete, operate or subscribe")
	}
	delete(fields, "kind")
	rest, _ := json.Marshal(fields)
	build := map[string]func([]byte) (*wire.Request, error){
		controller.JobGet: getReq, controller.JobSet: setReq, controller.JobAdd: addReq,
		controller.JobDelete: deleteReq, controller.JobOperate: operateReq, controller.JobSubscribe: subscribeReq,
	}[kind]
	if build == nil {
		return "", nil, fmt.Errorf("request: kind %q: want get, set, add, delete, operate or subscribe", kind)
	}
	req, err := build(rest)
	if err != nil {
		return "", nil, fmt.Errorf("request: %w", err)
	}
	return kind, req, nil
}

// subscribeReq builds the Add of a Device.LocalAgent.Subscription. from
// a SubscriptionBody.
func subscribeReq(b []byte) (*wire.Request, error) {
	var sb SubscriptionBody
	if err := decode(b, &sb); err != nil {
		return nil, err
	}
	if sb.ID == "" || sb.NotifType == "" || sb.ReferenceList == "" {
		return nil, errors.New("request body: id, notif_type and reference_list are required")
	}
	return &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.",
		ParamSettings: []*wire.Add_CreateParamSetting{
			{Param: "ID", Value: sb.ID, Required: true}, {Param: "NotifType", Value: sb.NotifType, Required: true},
			{Param: "ReferenceList", Value: sb.ReferenceList, Required: true}, {Param: "Enable", Value: "true", Required: true},
			{Param: "Persistent", Value: "true"}}}}}}}, nil
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	var body JobBody
	if !readBody(w, r, &body) {
		return
	}
	kind, req, err := jobRequest(body.Request)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if need, at := requiredRole(req, s.opt.Policy); !callerRole(r).allows(need) {
		s.opt.Logger.Warn("api: job refused by the path policy", "role", callerRole(r), "need", need, "path", at)
		writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not change %s (needs %s; see the API's path policy)", callerRole(r), at, need))
		return
	}
	spec := controller.JobSpec{Name: body.Name, Group: body.Group, Agents: body.Agents, Kind: kind, Body: body.Request, Concurrency: body.Concurrency}
	if body.Deadline != "" {
		if spec.Deadline, err = time.Parse(time.RFC3339, body.Deadline); err != nil {
			writeError(w, http.StatusBadRequest, "deadline: want an RFC 3339 time")
			return
		}
	}
	if body.RetryFor != "" {
		d, err := time.ParseDuration(body.RetryFor)
		if err != nil {
			writeError(w, http.StatusBadRequest, "retry_for: want a Go duration (90s, 2h)")
			return
		}
		spec.RetryFor = controller.Duration(d)
	}
	j, err := s.opt.Controller.CreateJob(r.Context(), spec, req)
	if err != nil {
		if errors.Is(err, controller.ErrUnknownAgent) || errors.Is(err, controller.ErrUnknownGroup) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		fleetStatus(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, j)
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	j, err := s.opt.Controller.CancelJob(r.Context(), r.PathValue("id"))
	if err != nil {
		fleetStatus(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request) {
	if err := s.opt.Controller.DeleteJob(r.Context(), r.PathValue("id")); err != nil {
		fleetStatus(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// idOf describes the {id} of a route's path.
func idOf(path string) string {
	for _, p := range []struct{ prefix, what string }{
		{"/api/v1/groups/", "Group ID"}, {"/api/v1/jobs/", "Job ID (or a campaign's)"},
		{"/api/v1/campaigns/", "Campaign ID"}, {"/api/v1/files/", "File ID"},
	} {
		if strings.HasPrefix(path, p.prefix) {
			return p.what
		}
	}
	return "Agent Endpoint ID"
}
