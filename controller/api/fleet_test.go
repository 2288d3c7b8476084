package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/api"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/sim"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/postgres"
	"github.com/uspkit/uspkit/store/sqlite"
	"github.com/uspkit/uspkit/wire"
)

// fleetCtl is a running Controller with a WebSocket server at a fixed
// address and the API in front of it.
type fleetCtl struct {
	t    *testing.T
	c    *controller.Controller
	srv  *httptest.Server
	addr string
	stop func()
}

// startFleetCtl runs a Controller on st, its WebSocket server on addr
// ("127.0.0.1:0" for any port); stop ends both (also at the end of t).
func startFleetCtl(t *testing.T, st controller.Store, addr string) *fleetCtl {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var c *controller.Controller
	var srv *ws.Server
	var err error
	for range 50 { // the port of a stopped Controller may take a moment to free
		srv, err = ws.Listen(ctx, addr, &ws.Options{EndpointID: ctrlID, MaxConns: -1, MaxConnsPerSource: -1, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			if c != nil {
				c.OnState("WebSocket")(ctx, p, s, err)
			}
		}})
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c, err = controller.New(ctx, controller.Options{EndpointID: ctrlID, Store: st, Admission: controller.AdmitAll, RequestTimeout: 5 * time.Second,
		MTPs: []controller.MTP{{Protocol: "WebSocket", Transport: srv, Identity: controller.IdentityClaimed}}})
	if err != nil {
		cancel()
		srv.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	hs := httptest.NewServer(api.New(api.Options{Controller: c,
		Tokens: api.NewTokens(map[string]api.Role{admin: api.Admin, oper: api.Operator, viewer: api.Viewer})}))
	f := &fleetCtl{t: t, c: c, srv: hs, addr: srv.Addr().String()}
	stopped := false
	f.stop = func() {
		if stopped {
			return
		}
		stopped = true
		hs.Close()
		cancel()
		<-done
	}
	t.Cleanup(f.stop)
	return f
}

// sims starts n simulated Agents named prefix0…prefix(n-1) and waits
// until the Controller has them online; closing the fleet takes them
// offline.
func (f *fleetCtl) sims(prefix string, n int) *sim.Fleet {
	f.t.Helper()
	url := "ws://" + f.addr + "/usp"
	fl, err := sim.Start(context.Background(), sim.Options{N: n, Prefix: prefix, Controller: ctrlID, ControllerAddr: ctrlID,
		Dial: func(id string, onState mtp.StateFunc) mtp.Transport {
			return ws.NewClient(&ws.Options{URL: url, EndpointID: id, OnState: onState, MinWait: 50 * time.Millisecond})
		}})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(fl.Close)
	f.waitOnline(prefix, n, true)
	return fl
}

// waitOnline waits until the Agents prefix0… are all online (or all
// offline).
func (f *fleetCtl) waitOnline(prefix string, n int, online bool) {
	f.t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ok := true
		for i := range n {
			if a, known := f.c.Agent(fmt.Sprint(prefix, i)); !known || a.Online != online {
				ok = false
				break
			}
		}
		if ok {
			return
		}
	}
	f.t.Fatalf("agents %s* not all online=%v", prefix, online)
}

// get calls the API and decodes its JSON answer into v, failing unless
// the status is want.
func (f *fleetCtl) get(token, method, path, body string, want int, v any) {
	f.t.Helper()
	code, b := call(f.t, f.srv, token, method, path, body)
	if code != want {
		f.t.Fatalf("%s %s: %d %s (want %d)", method, path, code, b, want)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			f.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

type agentPage struct {
	Agents []struct {
		ID   string    `json:"id"`
		Tags *[]string `json:"tags"`
	} `json:"agents"`
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

func (p *agentPage) ids() []string {
	out := []string{}
	for _, a := range p.Agents {
		out = append(out, a.ID)
	}
	return out
}

// search lists agents (viewer) with a query string.
func (f *fleetCtl) search(path, query string) agentPage {
	f.t.Helper()
	var p agentPage
	f.get(viewer, "GET", path+"?"+query, "", http.StatusOK, &p)
	return p
}

// eventually polls until search(query) gives the agents want, in order.
func (f *fleetCtl) eventually(path, query string, want []string) {
	f.t.Helper()
	var got []string
	for range 300 {
		p := f.search(path, query)
		if got = p.ids(); slices.Equal(got, want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.t.Fatalf("%s?%s: %v, want %v", path, query, got, want)
}

// preload stores Agents (as a Controller that knew them would have) for
// the next Controller on st to load.
func preload(t *testing.T, st controller.Store, agents []controller.Agent) {
	t.Helper()
	b := &store.Batch{}
	for _, a := range agents {
		data, _ := json.Marshal(a)
		b.PutItems = append(b.PutItems, store.Item{Kind: "agent", ID: a.ID, Data: data})
	}
	if err := st.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// stores are the Controller stores the fleet tests run on: SQLite and
// PostgreSQL search their own indexed tables, memory scans the registry.
func stores() []struct {
	name string
	open func(t *testing.T) controller.Store
} {
	return []struct {
		name string
		open func(t *testing.T) controller.Store
	}{
		{"sqlite", func(t *testing.T) controller.Store {
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "controller.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}},
		{"postgres", func(t *testing.T) controller.Store {
			s := testenv.Postgres(t) // skips loudly when PostgreSQL is missing
			db, err := postgres.Open(context.Background(), s.DSN(s.NewDatabase(t)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}},
		{"memory", func(t *testing.T) controller.Store { return store.NewMemory() }},
	}
}

const pre = "os::012345-pre"

// TestFleetSearch searches agents by each filter, sorts them both ways
// and pages them; tags are set by an operator only and a dynamic group's
// members follow a tag change.
func TestFleetSearch(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			var agents []controller.Agent
			for i := range 6 {
				agents = append(agents, controller.Agent{ID: fmt.Sprint(pre, i), Protocol: "WebSocket", LastSeen: base.Add(time.Duration(i) * time.Hour),
					Info: map[string]string{"ModelName": map[bool]string{true: "Alpha", false: "Beta"}[i < 3],
						"SoftwareVersion": map[bool]string{true: "1.0", false: "2.0"}[i%2 == 0], "SerialNumber": fmt.Sprint("SN", i)}})
			}
			preload(t, s, agents)
			f := startFleetCtl(t, s, "127.0.0.1:0")
			f.sims("os::012345-on", 2)
			p := func(ids ...int) []string {
				out := []string{}
				for _, i := range ids {
					out = append(out, fmt.Sprint(pre, i))
				}
				return out
			}
			const list = "/api/v1/agents"
			for _, tc := range []struct {
				query string
				want  []string
			}{
				{"q=pre", p(0, 1, 2, 3, 4, 5)},
				{"q=os::012345-on", []string{"os::012345-on0", "os::012345-on1"}},
				{"model=Alpha", p(0, 1, 2)},
				{"version=2.0", p(1, 3, 5)},
				{"online=false", p(0, 1, 2, 3, 4, 5)},
				{"seen_before=" + base.Add(150*time.Minute).Format(time.RFC3339), p(0, 1, 2)},
				{"q=pre&seen_after=" + base.Add(210*time.Minute).Format(time.RFC3339), p(4, 5)},
				{"param=SerialNumber&value=SN3", p(3)},
				{"param=Device.DeviceInfo.SerialNumber&value=SN4", p(4)},
				{"model=Beta&version=1.0", p(4)},
				{"q=pre&sort=version&order=desc&limit=2", p(5, 3)},
				{"q=pre&sort=model&offset=4&limit=10", p(4, 5)},
				{"q=pre&sort=last_seen&order=desc&limit=1", p(5)},
				{"q=pre&order=desc&limit=3", p(5, 4, 3)},
			} {
				// The index follows a change just after the registry.
				f.eventually(list, tc.query, tc.want)
			}
			f.eventually(list, "online=true", []string{"os::012345-on0", "os::012345-on1"})
			f.eventually(list, "sort=online&order=desc&limit=2", []string{"os::012345-on1", "os::012345-on0"})
			page := f.search(list, "q=pre&limit=2&offset=2")
			if page.Total != 6 || page.Offset != 2 || page.Limit != 2 || !slices.Equal(page.ids(), p(2, 3)) {
				t.Errorf("page: %+v", page)
			}
			if page.Agents[0].Tags == nil || len(*page.Agents[0].Tags) != 0 {
				t.Errorf("an agent never tagged has no \"tags\": []")
			}
			for _, bad := range []string{"sort=bogus", "order=up", "online=maybe", "seen_before=yesterday", "param=Bogus&value=1",
				"group=nosuchgroup", "limit=-1", "value=x"} {
				if code, b := call(t, f.srv, viewer, "GET", list+"?"+bad, ""); code != http.StatusBadRequest {
					t.Errorf("%s: %d %s, want 400", bad, code, b)
				}
			}

			// Tags: operators set them, viewers may not.
			f.get(viewer, "PUT", "/api/v1/agents/"+pre+"1/tags", `{"tags":["gold"]}`, http.StatusForbidden, nil)
			f.get(oper, "PUT", "/api/v1/agents/os::012345-none/tags", `{"tags":["gold"]}`, http.StatusNotFound, nil)
			f.get(oper, "PUT", "/api/v1/agents/"+pre+"1/tags", `{"tags":["gold plated"]}`, http.StatusBadRequest, nil)
			var tagged struct{ Tags []string }
			f.get(oper, "PUT", "/api/v1/agents/"+pre+"1/tags", `{"tags":["gold","lab","gold"]}`, http.StatusOK, &tagged)
			if !slices.Equal(tagged.Tags, []string{"gold", "lab"}) {
				t.Errorf("tags %v", tagged.Tags)
			}
			f.get(oper, "PUT", "/api/v1/agents/"+pre+"4/tags", `{"tags":["gold"]}`, http.StatusOK, nil)
			f.get(viewer, "GET", "/api/v1/agents/"+pre+"4", "", http.StatusOK, &tagged)
			if !slices.Equal(tagged.Tags, []string{"gold"}) {
				t.Errorf("GET agent: tags %v", tagged.Tags)
			}
			f.eventually(list, "tag=gold", p(1, 4))
			f.eventually(list, "tag=lab", p(1))

			// A dynamic group follows the tags; a static one keeps its list.
			var dyn, static controller.Group
			f.get(viewer, "POST", "/api/v1/groups", `{"name":"gold","filter":{"tag":"gold"}}`, http.StatusForbidden, nil)
			f.get(oper, "POST", "/api/v1/groups", `{"name":"gold","filter":{"tag":"gold"}}`, http.StatusCreated, &dyn)
			f.get(oper, "POST", "/api/v1/groups", `{"id":"two","name":"two","static":["`+pre+`0","`+pre+`5"]}`, http.StatusCreated, &static)
			f.get(oper, "POST", "/api/v1/groups", `{"id":"two","static":[]}`, http.StatusConflict, nil)
			f.get(oper, "POST", "/api/v1/groups", `{"name":"x","filter":{"param":"Bogus"}}`, http.StatusBadRequest, nil)
			f.get(oper, "POST", "/api/v1/groups", `{"name":"x","static":["not an endpoint id"]}`, http.StatusBadRequest, nil)
			f.eventually("/api/v1/groups/"+dyn.ID+"/agents", "", p(1, 4))
			f.eventually(list, "group="+dyn.ID, p(1, 4))
			f.get(oper, "PUT", "/api/v1/agents/"+pre+"4/tags", `{"tags":[]}`, http.StatusOK, nil)
			f.get(oper, "PUT", "/api/v1/agents/"+pre+"2/tags", `{"tags":["gold"]}`, http.StatusOK, nil)
			f.eventually("/api/v1/groups/"+dyn.ID+"/agents", "", p(1, 2))
			f.eventually("/api/v1/groups/two/agents", "", p(0, 5))
			f.eventually(list, "group=two&model=Beta", p(5))
			page = f.search("/api/v1/groups/two/agents", "limit=1&offset=1")
			if page.Total != 2 || !slices.Equal(page.ids(), p(5)) {
				t.Errorf("group page: %+v", page)
			}
			// A group naming a group: members of both.
			var nested controller.Group
			f.get(oper, "POST", "/api/v1/groups", `{"name":"gold Alpha","filter":{"group":"`+dyn.ID+`","model":"Alpha"}}`, http.StatusCreated, &nested)
			f.eventually("/api/v1/groups/"+nested.ID+"/agents", "", p(1, 2))

			var groups struct{ Groups []controller.Group }
			f.get(viewer, "GET", "/api/v1/groups", "", http.StatusOK, &groups)
			if len(groups.Groups) != 3 {
				t.Errorf("groups: %+v", groups)
			}
			var renamed controller.Group
			f.get(oper, "PUT", "/api/v1/groups/two", `{"name":"pair","static":["`+pre+`0"]}`, http.StatusOK, &renamed)
			if renamed.Name != "pair" || !slices.Equal(renamed.Static, p(0)) {
				t.Errorf("PUT group: %+v", renamed)
			}
			f.get(oper, "PUT", "/api/v1/groups/nope", `{"name":"x"}`, http.StatusNotFound, nil)
			f.get(viewer, "DELETE", "/api/v1/groups/two", "", http.StatusForbidden, nil)
			f.get(oper, "DELETE", "/api/v1/groups/two", "", http.StatusNoContent, nil)
			f.get(viewer, "GET", "/api/v1/groups/two", "", http.StatusNotFound, nil)
			f.get(viewer, "GET", "/api/v1/groups/two/agents", "", http.StatusNotFound, nil)

			// A forgotten agent is no longer found.
			f.get(admin, "DELETE", "/api/v1/agents/"+pre+"3", "", http.StatusNoContent, nil)
			if page := f.search(list, "q=pre"); page.Total != 5 || !slices.Equal(page.ids(), p(0, 1, 2, 4, 5)) {
				t.Errorf("after deleting %s3: %+v", pre, page)
			}
		})
	}
}

// jobView is the part of a job the tests read.
type jobView struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	State   string `json:"state"`
	Link    string `json:"link"`
	Counts  controller.JobCounts
	Results []controller.JobResult
}

// waitJob polls a job until done says so.
func (f *fleetCtl) waitJob(id string, done func(j *jobView) bool) jobView {
	f.t.Helper()
	var j jobView
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		j = jobView{}
		f.get(viewer, "GET", "/api/v1/jobs/"+id, "", http.StatusOK, &j)
		if done(&j) {
			return j
		}
	}
	f.t.Fatalf("job %s: %+v", id, j.Counts)
	return j
}

// events returns the stored events of a kind.
func (f *fleetCtl) events(kind string) []controller.Event {
	f.t.Helper()
	var evs struct{ Events []controller.Event }
	f.get(viewer, "GET", "/api/v1/events", "", http.StatusOK, &evs)
	var out []controller.Event
	for _, e := range evs.Events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// TestFleetJob runs a Get over a group of 50 simulated agents, 5 at a
// time: every agent has a result with its response, no more than 5 were
// in flight, each result and the end went on the event stream; a Set the
// agents refuse fails on each with the USP error's code and message.
func TestFleetJob(t *testing.T) {
	f := startFleetCtl(t, store.NewMemory(), "127.0.0.1:0")
	f.sims("os::012345-job", 50)
	var g controller.Group
	f.get(oper, "POST", "/api/v1/groups", `{"name":"all","filter":{"q":"os::012345-job"}}`, http.StatusCreated, &g)
	body := `{"name":"read","group":"` + g.ID + `","request":{"kind":"get","paths":["Device.DeviceInfo.SerialNumber"]},"concurrency":5}`
	f.get(viewer, "POST", "/api/v1/jobs", body, http.StatusForbidden, nil)
	var j jobView
	f.get(oper, "POST", "/api/v1/jobs", body, http.StatusCreated, &j)
	if j.Counts.Total != 50 || j.Kind != "get" || j.State != controller.JobRunning && j.State != controller.JobCompleted {
		t.Fatalf("created: %+v", j)
	}
	j = f.waitJob(j.ID, func(j *jobView) bool { return j.State == controller.JobCompleted })
	if j.Counts.Succeeded != 50 || len(j.Results) != 50 {
		t.Fatalf("counts %+v, %d results", j.Counts, len(j.Results))
	}
	for _, r := range j.Results {
		if r.State != controller.ResultSucceeded || !strings.Contains(string(r.Response), r.Agent) || r.Attempts != 1 {
			t.Errorf("result %+v", r)
		}
	}
	var progress int
	for _, e := range f.events("job.progress") {
		var b struct {
			Job    string
			Counts controller.JobCounts
		}
		json.Unmarshal(e.Msg, &b)
		if b.Job != j.ID {
			continue
		}
		progress++
		if b.Counts.Running > 5 {
			t.Errorf("%d requests in flight, concurrency 5", b.Counts.Running)
		}
	}
	if progress != 50 {
		t.Errorf("%d job.progress events, want 50", progress)
	}
	if len(f.events("job.done")) != 1 {
		t.Errorf("job.done events: %v", f.events("job.done"))
	}

	// A request the agents refuse: each fails with the USP error.
	f.get(oper, "POST", "/api/v1/jobs", `{"agents":["os::012345-job1","os::012345-job2"],"request":{"kind":"set","objects":[{"path":"Device.LocalAgent.","params":{"X":"1"}}]}}`, http.StatusCreated, &j)
	j = f.waitJob(j.ID, func(j *jobView) bool { return j.State == controller.JobCompleted })
	if j.Counts.Failed != 2 {
		t.Fatalf("set: %+v", j.Counts)
	}
	for _, r := range j.Results {
		if r.State != controller.ResultFailed || r.Code != 7001 || r.Message == "" || len(r.Response) == 0 {
			t.Errorf("set result %+v", r)
		}
	}

	// Bad jobs.
	for _, bad := range []string{
		`{"group":"nosuch","request":{"kind":"get","paths":["Device."]}}`,
		`{"agents":["os::012345-none"],"request":{"kind":"get","paths":["Device."]}}`,
		`{"agents":["os::012345-job1"],"request":{"kind":"fly"}}`,
		`{"agents":["os::012345-job1"],"request":{"kind":"get"}}`,
		`{"agents":["os::012345-job1"],"request":{"kind":"get","paths":["Device."],"bogus":1}}`,
		`{"request":{"kind":"get","paths":["Device."]}}`,
		`{"agents":["os::012345-job1"],"request":{"kind":"get","paths":["Device."]},"deadline":"2020-01-01T00:00:00Z"}`,
		`{"agents":["os::012345-job1"],"request":{"kind":"get","paths":["Device."]},"retry_for":"soon"}`,
		`{"agents":["os::012345-job1"],"request":{"kind":"get","paths":["Device."]},"concurrency":-1}`,
	} {
		if code, b := call(t, f.srv, oper, "POST", "/api/v1/jobs", bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", bad, code, b)
		}
	}
	// The path policy applies to a job as to a request to one agent.
	code, b := call(t, f.srv, oper, "POST", "/api/v1/jobs", `{"agents":["os::012345-job1"],"request":{"kind":"operate","command":"Device.Reboot()"}}`)
	if code != http.StatusForbidden {
		t.Errorf("operator reboot job: %d %s", code, b)
	}

	var list struct{ Jobs []jobView }
	f.get(viewer, "GET", "/api/v1/jobs", "", http.StatusOK, &list)
	if len(list.Jobs) != 2 || list.Jobs[0].ID != j.ID {
		t.Errorf("jobs, newest first: %+v", list.Jobs)
	}
}

// TestFleetJobOffline: agents offline when a job starts are done when
// they come back before the deadline; those that do not come back by the
// deadline fail; a job is cancelled and deleted.
func TestFleetJobOffline(t *testing.T) {
	f := startFleetCtl(t, store.NewMemory(), "127.0.0.1:0")
	f.sims("os::012345-up", 4)
	away := f.sims("os::012345-away", 3)
	away.Close()
	f.waitOnline("os::012345-away", 3, false)
	var g controller.Group
	f.get(oper, "POST", "/api/v1/groups", `{"name":"all","filter":{"q":"os::012345-"}}`, http.StatusCreated, &g)
	var j, short, cancelled jobView
	f.get(oper, "POST", "/api/v1/jobs", `{"group":"`+g.ID+`","request":{"kind":"get","paths":["Device.DeviceInfo.SerialNumber"]},"retry_for":"2m"}`, http.StatusCreated, &j)
	f.get(oper, "POST", "/api/v1/jobs", `{"agents":["os::012345-away0"],"request":{"kind":"get","paths":["Device.DeviceInfo."]},"retry_for":"300ms"}`, http.StatusCreated, &short)
	f.get(oper, "POST", "/api/v1/jobs", `{"agents":["os::012345-away1","os::012345-away2"],"request":{"kind":"get","paths":["Device."]}}`, http.StatusCreated, &cancelled)
	j = f.waitJob(j.ID, func(j *jobView) bool { return j.Counts.Succeeded == 4 && j.Counts.OfflineWaiting == 3 })
	if j.State != controller.JobRunning || j.Counts.Pending != 0 {
		t.Fatalf("waiting for the offline agents: %+v %+v", j.State, j.Counts)
	}
	short = f.waitJob(short.ID, func(j *jobView) bool { return j.State == controller.JobCompleted })
	if r := short.Results[0]; r.State != controller.ResultFailed || !strings.Contains(r.Message, "deadline") {
		t.Errorf("past its deadline: %+v", r)
	}

	f.get(viewer, "POST", "/api/v1/jobs/"+cancelled.ID+"/cancel", "", http.StatusForbidden, nil)
	f.get(oper, "POST", "/api/v1/jobs/"+cancelled.ID+"/cancel", "", http.StatusOK, &cancelled)
	if cancelled.State != controller.JobCancelled || cancelled.Counts.Cancelled != 2 {
		t.Errorf("cancelled: %+v", cancelled)
	}
	f.get(oper, "POST", "/api/v1/jobs/"+cancelled.ID+"/cancel", "", http.StatusConflict, nil)

	f.sims("os::012345-away", 3) // back
	j = f.waitJob(j.ID, func(j *jobView) bool { return j.State == controller.JobCompleted })
	if j.Counts.Succeeded != 7 {
		t.Fatalf("after the agents came back: %+v", j.Counts)
	}
	// The cancelled job sent nothing when its agents came back.
	f.get(viewer, "GET", "/api/v1/jobs/"+cancelled.ID, "", http.StatusOK, &cancelled)
	for _, r := range cancelled.Results {
		if r.State != controller.ResultCancelled || r.Attempts != 0 {
			t.Errorf("cancelled job's result %+v", r)
		}
	}
	f.get(oper, "DELETE", "/api/v1/jobs/"+cancelled.ID, "", http.StatusNoContent, nil)
	f.get(viewer, "GET", "/api/v1/jobs/"+cancelled.ID, "", http.StatusNotFound, nil)
	f.get(oper, "DELETE", "/api/v1/jobs/"+cancelled.ID, "", http.StatusNotFound, nil)
}

// TestFleetJobRestart stops the Controller while a job waits for agents
// that are offline; the next Controller on the same store resumes it:
// the results already in are kept, the agents are done when they come
// back. Tags and groups survive the restart too.
func TestFleetJobRestart(t *testing.T) {
	for _, st := range stores() {
		if st.name == "memory" {
			continue
		}
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			f := startFleetCtl(t, s, "127.0.0.1:0")
			addr := f.addr
			f.sims("os::012345-stay", 3)
			away := f.sims("os::012345-back", 2)
			away.Close()
			f.waitOnline("os::012345-back", 2, false)
			f.get(oper, "PUT", "/api/v1/agents/os::012345-back0/tags", `{"tags":["returning"]}`, http.StatusOK, nil)
			var g controller.Group
			f.get(oper, "POST", "/api/v1/groups", `{"id":"fleet","filter":{"q":"os::012345-"}}`, http.StatusCreated, &g)
			var j jobView
			f.get(oper, "POST", "/api/v1/jobs", `{"group":"fleet","request":{"kind":"get","paths":["Device.DeviceInfo.SerialNumber"]},"concurrency":2}`, http.StatusCreated, &j)
			f.waitJob(j.ID, func(j *jobView) bool { return j.Counts.Succeeded == 3 && j.Counts.OfflineWaiting == 2 })
			f.stop()

			f2 := startFleetCtl(t, s, addr)
			f2.waitOnline("os::012345-stay", 3, true) // they reconnect by themselves
			f2.eventually("/api/v1/agents", "tag=returning", []string{"os::012345-back0"})
			f2.eventually("/api/v1/groups/fleet/agents", "", []string{"os::012345-back0", "os::012345-back1",
				"os::012345-stay0", "os::012345-stay1", "os::012345-stay2"})
			got := f2.waitJob(j.ID, func(j *jobView) bool { return j.Counts.OfflineWaiting == 2 })
			if got.State != controller.JobRunning || got.Counts.Succeeded != 3 {
				t.Fatalf("after the restart: %s %+v", got.State, got.Counts)
			}
			f2.sims("os::012345-back", 2)
			got = f2.waitJob(j.ID, func(j *jobView) bool { return j.State == controller.JobCompleted })
			if got.Counts.Succeeded != 5 {
				t.Fatalf("resumed job: %+v", got.Counts)
			}
			for _, r := range got.Results {
				if r.Attempts != 1 || r.State != controller.ResultSucceeded {
					t.Errorf("result %+v: each agent asked once", r)
				}
			}
		})
	}
}

// TestJobsListCampaigns: a firmware campaign is listed among the jobs,
// as kind campaign with its counts and a link to it, newest first with
// the jobs.
func TestJobsListCampaigns(t *testing.T) {
	srv, fl, _ := fleetRig(t, 2)
	code, b := call(t, srv, admin, "POST", "/api/v1/campaigns", fmt.Sprintf(`{"name":"fw","kind":"firmware","url":"http://127.0.0.1:1/fw.bin","agents":[%q,%q]}`, fl.ID(0), fl.ID(1)))
	if code != http.StatusCreated {
		t.Fatalf("campaign: %d %s", code, b)
	}
	var camp struct{ ID string }
	json.Unmarshal(b, &camp)
	code, b = call(t, srv, oper, "POST", "/api/v1/jobs", fmt.Sprintf(`{"agents":[%q],"request":{"kind":"get","paths":["Device.DeviceInfo.SoftwareVersion"]}}`, fl.ID(0)))
	if code != http.StatusCreated {
		t.Fatalf("job: %d %s", code, b)
	}
	var job struct{ ID string }
	json.Unmarshal(b, &job)
	var list struct{ Jobs []jobView }
	code, b = call(t, srv, viewer, "GET", "/api/v1/jobs", "")
	if code != http.StatusOK || json.Unmarshal(b, &list) != nil || len(list.Jobs) != 2 {
		t.Fatalf("jobs: %d %s", code, b)
	}
	if j := list.Jobs[0]; j.ID != job.ID || j.Kind != "get" {
		t.Errorf("newest: %+v", j)
	}
	if j := list.Jobs[1]; j.ID != camp.ID || j.Kind != controller.JobCampaign || j.Link != "/api/v1/campaigns/"+camp.ID || j.Counts.Total != 2 {
		t.Errorf("campaign as a job: %+v", j)
	}
	var one jobView
	code, b = call(t, srv, viewer, "GET", "/api/v1/jobs/"+camp.ID, "")
	if code != http.StatusOK || json.Unmarshal(b, &one) != nil || one.Link == "" {
		t.Errorf("GET a campaign as a job: %d %s", code, b)
	}
}

// TestFleetJobRealAgent runs jobs on a real Agent: a failure inside a
// response fails the target with its code, the response kept (a Set
// with allow_partial answers an object that failed with an OperFailure
// rather than an Error [R-SET.0]; a Get answers a path it cannot
// resolve with that path's error); a subscribe job creates the
// subscription on the Agent.
func TestFleetJobRealAgent(t *testing.T) {
	srv := rig(t)
	run := func(request string) jobView {
		t.Helper()
		code, b := call(t, srv, oper, "POST", "/api/v1/jobs", `{"agents":["`+agentID+`"],"request":`+request+`}`)
		if code != http.StatusCreated {
			t.Fatalf("%s: %d %s", request, code, b)
		}
		var j jobView
		json.Unmarshal(b, &j)
		for range 500 {
			_, b = call(t, srv, viewer, "GET", "/api/v1/jobs/"+j.ID, "")
			j = jobView{}
			json.Unmarshal(b, &j)
			if j.State == controller.JobCompleted {
				return j
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s: %s", request, b)
		return j
	}
	for _, tc := range []struct {
		name, request, state string
		code                 bool
		in                   string // in the response
	}{
		{"get", `{"kind":"get","paths":["Device.LocalAgent.EndpointID"]}`, controller.ResultSucceeded, false, agentID},
		{"get path error", `{"kind":"get","paths":["Device.NoSuchObject."]}`, controller.ResultFailed, true, "NoSuchObject"},
		{"set oper failure", `{"kind":"set","allow_partial":true,"objects":[{"path":"Device.LocalAgent.Subscription.99.","params":{"Enable":"true"}}]}`, controller.ResultFailed, true, "oper_failure"},
		{"subscribe", `{"kind":"subscribe","id":"fleet-boot","notif_type":"Event","reference_list":"Device.Boot!"}`, controller.ResultSucceeded, false, "Device.LocalAgent.Subscription."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := run(tc.request)
			r := j.Results[0]
			if r.State != tc.state || (r.Code != 0) != tc.code || !strings.Contains(string(r.Response), tc.in) {
				t.Errorf("result %+v response %s", r, r.Response)
			}
		})
	}
	code, b := call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/get", `{"paths":["Device.LocalAgent.Subscription.*.ID"]}`)
	if code != http.StatusOK || !strings.Contains(string(b), "fleet-boot") {
		t.Errorf("subscription not created: %d %s", code, b)
	}
}

// TestFleetJobInFlightAtStop: a target whose request was in flight when
// the Controller stopped is asked again after the restart (at least
// once), its attempts counted on.
func TestFleetJobInFlightAtStop(t *testing.T) {
	st := store.NewMemory()
	const id, agent = "0123456789abcdef", "os::012345-flight0"
	req := &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.DeviceInfo.SerialNumber"}}}}
	msg, err := controller.MsgJSON(&wire.Msg{Header: &wire.Header{MsgId: "job", MsgType: wire.Header_GET}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}})
	if err != nil {
		t.Fatal(err)
	}
	job, _ := json.Marshal(controller.Job{ID: id, JobSpec: controller.JobSpec{Kind: controller.JobGet, Concurrency: 5, Deadline: time.Now().Add(time.Hour)},
		State: controller.JobRunning, Created: time.Now().UTC(), Msg: msg})
	target, _ := json.Marshal(controller.JobResult{Agent: agent, State: controller.ResultRunning, Attempts: 1, Started: time.Now().UTC()})
	preload(t, st, []controller.Agent{{ID: agent, Protocol: "WebSocket"}})
	if err := st.Apply(context.Background(), &store.Batch{PutItems: []store.Item{{Kind: "job", ID: id, Data: job}, {Kind: "job-target", ID: id + "/" + agent, Data: target}}}); err != nil {
		t.Fatal(err)
	}
	f := startFleetCtl(t, st, "127.0.0.1:0")
	j := f.waitJob(id, func(j *jobView) bool { return j.Counts.OfflineWaiting == 1 })
	if r := j.Results[0]; r.State != controller.ResultPending || !strings.Contains(r.Message, "restarted") {
		t.Fatalf("after the restart: %+v", r)
	}
	f.sims("os::012345-flight", 1)
	j = f.waitJob(id, func(j *jobView) bool { return j.State == controller.JobCompleted })
	if r := j.Results[0]; r.State != controller.ResultSucceeded || r.Attempts != 2 {
		t.Errorf("resumed: %+v", r)
	}
}

// TestFleetJobSkipsPending: an Agent waiting for approval is a member of
// the groups it matches, but a group's job sends it nothing.
func TestFleetJobSkipsPending(t *testing.T) {
	srv := rigWith(t, controller.AdmitPending)
	if code, b := call(t, srv, oper, "POST", "/api/v1/groups", `{"id":"all","filter":{}}`); code != http.StatusCreated {
		t.Fatalf("group: %d %s", code, b)
	}
	code, b := call(t, srv, viewer, "GET", "/api/v1/groups/all/agents", "")
	if code != http.StatusOK || !strings.Contains(string(b), agentID) {
		t.Fatalf("members: %d %s", code, b)
	}
	code, b = call(t, srv, oper, "POST", "/api/v1/jobs", `{"group":"all","request":{"kind":"get","paths":["Device."]}}`)
	if code != http.StatusBadRequest || !strings.Contains(string(b), "no target agents") {
		t.Errorf("job over pending agents only: %d %s", code, b)
	}
}

// TestFleetJobResultPages reads a job's results by state and by page.
func TestFleetJobResultPages(t *testing.T) {
	f := startFleetCtl(t, store.NewMemory(), "127.0.0.1:0")
	f.sims("os::012345-page", 6)
	var j jobView
	f.get(oper, "POST", "/api/v1/jobs", `{"agents":["os::012345-page0","os::012345-page1","os::012345-page2","os::012345-page3"],"request":{"kind":"get","paths":["Device."]}}`, http.StatusCreated, &j)
	f.waitJob(j.ID, func(j *jobView) bool { return j.State == controller.JobCompleted })
	var page struct {
		Results      []controller.JobResult
		ResultsTotal int `json:"results_total"`
	}
	f.get(viewer, "GET", "/api/v1/jobs/"+j.ID+"?limit=2&offset=1", "", http.StatusOK, &page)
	if page.ResultsTotal != 4 || len(page.Results) != 2 || page.Results[0].Agent != "os::012345-page1" {
		t.Errorf("page: %+v", page)
	}
	page.Results, page.ResultsTotal = nil, -1
	f.get(viewer, "GET", "/api/v1/jobs/"+j.ID+"?state=failed", "", http.StatusOK, &page)
	if page.ResultsTotal != 0 || page.Results == nil || len(page.Results) != 0 {
		t.Errorf("failed ones: %+v", page)
	}
	f.get(viewer, "GET", "/api/v1/jobs/"+j.ID+"?limit=x", "", http.StatusBadRequest, nil)
}

// TestFleetVersionAfterUpgrade: after a firmware upgrade the Agent's
// Boot! makes the Controller read its DeviceInfo again, so that a search
// by version finds it at its new version.
func TestFleetVersionAfterUpgrade(t *testing.T) {
	srv, fl, _ := fleetRig(t, 2)
	code, b := call(t, srv, oper, "POST", "/api/v1/files?name=fw-2.bin", strings.Repeat("image ", 1000))
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, b)
	}
	var file struct{ ID string }
	json.Unmarshal(b, &file)
	code, b = call(t, srv, admin, "POST", "/api/v1/campaigns", fmt.Sprintf(`{"kind":"firmware","file":%q,"agents":[%q,%q],"activate":true,"version":"2"}`, file.ID, fl.ID(0), fl.ID(1)))
	if code != http.StatusCreated {
		t.Fatalf("campaign: %d %s", code, b)
	}
	want := []string{fl.ID(0), fl.ID(1)}
	var got []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var p agentPage
		_, b = call(t, srv, viewer, "GET", "/api/v1/agents?version=2", "")
		json.Unmarshal(b, &p)
		if got = p.ids(); slices.Equal(got, want) {
			return
		}
	}
	t.Fatalf("version=2 after the upgrade: %v", got)
}
