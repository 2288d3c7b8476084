package conformance_test

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// supportedSubscription answers 1.99's GetSupportedDM with the
// Subscription table and the given unique key sets.
func supportedSubscription(keySets ...[]string) func(*wire.Request) *wire.Response {
	return func(r *wire.Request) *wire.Response {
		if r.GetGet() != nil {
			return getResp(r.GetGet().GetParamPaths()[0], "Device.LocalAgent.", map[string]string{"EndpointID": fakeID})
		}
		if r.GetGetSupportedDm() == nil {
			return nil
		}
		obj := &wire.GetSupportedDMResp_SupportedObjectResult{SupportedObjPath: "Device.LocalAgent.Subscription.{i}.",
			Access: wire.GetSupportedDMResp_OBJ_ADD_DELETE, IsMultiInstance: true}
		for _, k := range keySets {
			obj.UniqueKeySets = append(obj.UniqueKeySets, &wire.GetSupportedDMResp_SupportedUniqueKeySet{KeyNames: k})
		}
		resp := &wire.GetSupportedDMResp{}
		for _, path := range r.GetGetSupportedDm().GetObjPaths() {
			resp.ReqObjResults = append(resp.ReqObjResults, &wire.GetSupportedDMResp_RequestedObjectResult{ReqObjPath: path,
				DataModelInstUri: "urn:broadband-forum-org:tr-181-2-16-0-usp", SupportedObjs: []*wire.GetSupportedDMResp_SupportedObjectResult{obj}})
		}
		return &wire.Response{RespType: &wire.Response_GetSupportedDmResp{GetSupportedDmResp: resp}}
	}
}

// TestUniqueKeySetJudge1_99: a unique key is a set of parameter names,
// so TP-469 1.99 accepts Recipient and ID in either order, and refuses a
// set that lacks one of them or has an extra one (TR-181 Subscription
// unique keys: Alias; Recipient+ID).
func TestUniqueKeySetJudge1_99(t *testing.T) {
	cases := []struct {
		name string
		sets [][]string
		want conformance.Status
	}{
		{"spec order", [][]string{{"Recipient", "ID"}}, conformance.Pass},
		{"other order", [][]string{{"ID", "Recipient"}}, conformance.Pass},
		{"other order with Alias", [][]string{{"Alias"}, {"ID", "Recipient"}}, conformance.Pass},
		{"Recipient alone", [][]string{{"Recipient"}}, conformance.Fail},
		{"extra key", [][]string{{"ID", "Recipient", "Enable"}}, conformance.Fail},
		{"no key set", nil, conformance.Fail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := run(t, supportedSubscription(c.sets...), "1.99")
			if len(res) != 1 || res[0].Status != c.want {
				t.Fatalf("key sets %v: got %+v, want %s", c.sets, res, c.want)
			}
		})
	}
}

// tap is the runner's end of a transport: it records every request the
// runner sends and lets a test rewrite it on the way, which turns a
// conforming in-process Agent into one that behaves otherwise.
type tap struct {
	mtp.Transport
	rewrite func(*wire.Msg) // nil: pass unchanged

	mu   sync.Mutex
	seen []*wire.Request
}

func (p *tap) Send(ctx context.Context, addr string, b []byte) error {
	var rec record.Record
	if record.Decode(b, &rec, nil) != nil || rec.Type != record.TypeNoSessionContext {
		return p.Transport.Send(ctx, addr, b)
	}
	var m wire.Msg
	if proto.Unmarshal(rec.Payload, &m) != nil {
		return p.Transport.Send(ctx, addr, b)
	}
	p.mu.Lock()
	if req := m.GetBody().GetRequest(); req != nil {
		p.seen = append(p.seen, proto.Clone(req).(*wire.Request))
	}
	p.mu.Unlock()
	if p.rewrite == nil {
		return p.Transport.Send(ctx, addr, b)
	}
	p.rewrite(&m)
	payload, err := proto.Marshal(&m)
	if err != nil {
		return err
	}
	out, err := record.NewNoSession(rec.ToID, rec.FromID, payload).MarshalBinary()
	if err != nil {
		return err
	}
	return p.Transport.Send(ctx, addr, out)
}

// silent is an Agent's transport that sends no responses or errors, only
// requests (Notify).
type silent struct{ mtp.Transport }

func (s silent) Send(ctx context.Context, addr string, b []byte) error {
	var rec record.Record
	var m wire.Msg
	if record.Decode(b, &rec, nil) == nil && proto.Unmarshal(rec.Payload, &m) == nil && m.GetBody().GetRequest() == nil {
		return nil
	}
	return s.Transport.Send(ctx, addr, b)
}

// late is an Agent's transport that sends ValueChange Notifications d
// after the Agent does.
type late struct {
	mtp.Transport
	d time.Duration
}

func (l *late) Send(ctx context.Context, addr string, b []byte) error {
	var rec record.Record
	var m wire.Msg
	if record.Decode(b, &rec, nil) == nil && proto.Unmarshal(rec.Payload, &m) == nil &&
		m.GetBody().GetRequest().GetNotify().GetValueChange() != nil {
		cp := append([]byte(nil), b...)
		time.AfterFunc(l.d, func() { _ = l.Transport.Send(context.Background(), addr, cp) })
		return nil
	}
	return l.Transport.Send(ctx, addr, b)
}

// operated lists the commands of the Operate requests the runner sent.
func (p *tap) operated() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.seen {
		if o := r.GetOperate(); o != nil {
			out = append(out, o.GetCommand())
		}
	}
	return out
}

const secondID = "proto::second-controller"

// harness says how agentRun sets up the Agent and the runner.
type harness struct {
	reboot bool // Options.Reboot
	// secondEntry gives the second Controller an entry from the start.
	secondEntry bool
	// secondSilent makes the Agent answer no request of the second
	// Controller (it still sends it Notifications).
	secondSilent bool
	// notifyDelay holds back the Agent's ValueChange Notifications to the
	// runner, as an Agent that detects changes by polling does.
	notifyDelay time.Duration
	// valueChangeWait is Options.ValueChangeWait.
	valueChangeWait time.Duration
	// after inspects the Agent once the runner is done.
	after func(ctx context.Context, a *agent.Agent)
	// wrap, when set, wraps the Agent's transport to the runner.
	wrap func(mtp.Transport) mtp.Transport
}

// agentRun runs the cases pattern selects against an in-process Agent
// (with a second Controller endpoint), the runner's requests going
// through primary and second.
func agentRun(t *testing.T, pattern string, h harness, primary, second *tap) []conformance.Result {
	t.Helper()
	ctrls := []agent.ControllerConfig{{EndpointID: runnerID, Alias: "runner", MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}}
	if h.secondEntry {
		ctrls = append(ctrls, agent.ControllerConfig{EndpointID: secondID, Alias: "second", MTPs: []agent.ControllerMTPConf{{Protocol: "WebSocket"}}})
	}
	m := schema.New()
	agent.Define(m)
	mux := datamodel.NewMux(m)
	agentEnd, runnerEnd := mtptest.NewPipe(fakeID, runnerID, nil)
	agentEnd2, secondEnd := mtptest.NewPipe(fakeID, secondID, nil)
	primary.Transport, second.Transport = runnerEnd, secondEnd
	var agentPrimary mtp.Transport = agentEnd
	if h.notifyDelay > 0 {
		agentPrimary = &late{Transport: agentEnd, d: h.notifyDelay}
	}
	if h.wrap != nil {
		agentPrimary = h.wrap(agentPrimary)
	}
	var agentSecond mtp.Transport = agentEnd2
	if h.secondSilent {
		agentSecond = silent{agentEnd2}
	}
	a, err := agent.New(context.Background(), agent.Options{EndpointID: fakeID, Mux: mux, Store: store.NewMemory(),
		MTPs:         []agent.MTP{{Protocol: "UDS", Transport: agentPrimary}, {Protocol: "WebSocket", Transport: agentSecond}},
		Factory:      &agent.Config{Controllers: ctrls},
		PollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	res, err := conformance.Run(ctx, conformance.Options{AgentID: fakeID, ControllerID: runnerID, Transport: primary, AgentAddr: fakeID,
		Second: &conformance.Peer{ID: secondID, Transport: second, AgentAddr: fakeID},
		Reboot: h.reboot, ValueChangeWait: h.valueChangeWait, ReplyTimeout: 3 * time.Second, CaseTimeout: 30 * time.Second}, conformance.Match(pattern))
	if err != nil {
		t.Fatal(err)
	}
	if h.after != nil {
		h.after(ctx, a)
	}
	return res
}

// permissionCases restrict the runner's Controller with a role of its own.
const permissionCases = "2.12,2.13,2.14,2.15,2.16,2.17,2.18,2.21,2.22,2.25,2.26"

// TestRestrictionTakesEffectJudge: an Agent may combine an inherited role
// with the assigned one, so a restricted AssignedRole can have no effect
// (TR-369 "Roles (Access Control)": a Controller's permissions are those
// of all its roles together). The runner checks that its restriction took
// effect before it judges: against an Agent that keeps the Controller's
// full access whatever AssignedRole says, every permission case stops as
// a setup failure naming the restriction (not a fail), and Device.Reboot()
// is never operated; against the same Agent honouring AssignedRole the
// cases pass.
func TestRestrictionTakesEffectJudge(t *testing.T) {
	t.Run("restriction ignored", func(t *testing.T) {
		ignore := func(m *wire.Msg) {
			for _, u := range m.GetBody().GetRequest().GetSet().GetUpdateObjs() {
				for _, s := range u.GetParamSettings() {
					if s.GetParam() == "AssignedRole" {
						s.Value = "Device.LocalAgent.ControllerTrust.Role.1" // Full Access
					}
				}
			}
		}
		primary, second := &tap{rewrite: ignore}, &tap{}
		res := agentRun(t, permissionCases, harness{reboot: true}, primary, second)
		for _, r := range res {
			t.Logf("%s %s %s", r.ID, r.Status, r.Reason)
		}
		if len(res) != len(strings.Split(permissionCases, ",")) {
			t.Fatalf("%d results: %+v", len(res), res)
		}
		for _, r := range res {
			if r.Status != conformance.Skip || !strings.HasPrefix(r.Reason, "setup: ") || !strings.Contains(r.Reason, "did not take effect") {
				t.Errorf("%s: %s %q, want a setup skip naming the restriction", r.ID, r.Status, r.Reason)
			}
		}
		for _, c := range primary.operated() {
			if strings.HasSuffix(c, "Reboot()") || strings.HasSuffix(c, "FactoryReset()") {
				t.Errorf("the runner operated %s under a restriction that did not take effect", c)
			}
		}
	})
	t.Run("restriction honoured", func(t *testing.T) {
		res := agentRun(t, permissionCases, harness{}, &tap{}, &tap{})
		for _, r := range res {
			if r.Status == conformance.Fail || r.Status == conformance.Skip && r.ID != "2.17" {
				t.Errorf("%s: %s %q", r.ID, r.Status, r.Reason)
			}
		}
	})
}

// secondEntryWritable reads the writable values of the second
// Controller's entry (TR-181 Device.LocalAgent.Controller.{i}. and its
// MTP rows), named relative to the entry: what a restored entry keeps.
func secondEntryWritable(ctx context.Context, t *testing.T, a *agent.Agent) map[string]string {
	t.Helper()
	all := map[string]string{}
	for _, g := range a.Engine().Get(ctx, datamodel.Caller{}, []string{"Device.LocalAgent.Controller."}, 0) {
		for _, o := range g.Objects {
			for k, v := range o.Params {
				all[o.Path+k] = v
			}
		}
	}
	entry := ""
	for k, v := range all {
		if strings.HasSuffix(k, ".EndpointID") && v == secondID && strings.Count(k, ".") == 4 {
			entry = strings.TrimSuffix(k, "EndpointID")
		}
	}
	out := map[string]string{}
	if entry == "" {
		return out
	}
	writable := map[string]bool{"Alias": true, "EndpointID": true, "Enable": true, "AssignedRole": true, "PeriodicNotifInterval": true,
		"USPNotifRetryMinimumWaitInterval": true, "USPNotifRetryIntervalMultiplier": true, "Protocol": true}
	for k, v := range all {
		rel, ok := strings.CutPrefix(k, entry)
		if !ok || strings.HasPrefix(rel, "BootParameter.") {
			continue
		}
		if writable[rel[strings.LastIndex(rel, ".")+1:]] {
			out[rel] = v
		}
	}
	return out
}

// TestCasesRestoreSecondControllerJudge: every case leaves the Agent as it
// found it. 1.78 and 2.9 delete the second Controller's entry and 9.9
// replaces it; each puts it back with the same values when it ends, so
// 1.95, which needs two Controller entries, runs after 1.78.
func TestCasesRestoreSecondControllerJudge(t *testing.T) {
	var before, after map[string]string
	agentRun(t, "1.36", harness{secondEntry: true, after: func(ctx context.Context, a *agent.Agent) {
		before = secondEntryWritable(ctx, t, a)
	}}, &tap{}, &tap{})
	if before["EndpointID"] != secondID || before["Alias"] != "second" {
		t.Fatalf("no second Controller entry to start with: %v", before)
	}
	res := agentRun(t, "1.78,1.95,2.9,9.9", harness{secondEntry: true, after: func(ctx context.Context, a *agent.Agent) {
		after = secondEntryWritable(ctx, t, a)
	}}, &tap{}, &tap{})
	for _, r := range res {
		t.Logf("%s %s %s", r.ID, r.Status, r.Reason)
		if r.Status != conformance.Pass {
			t.Errorf("%s: %s %q", r.ID, r.Status, r.Reason)
		}
	}
	if !maps.Equal(before, after) {
		t.Errorf("second Controller entry not restored:\nbefore %v\nafter  %v", before, after)
	}
}

// TestOnBoardRequestUnansweredJudge9_9: in 9.9 the runner deletes the
// second Controller's entry and adds a new one; the Agent need not answer
// that Controller while it has no entry for it (nor at all: the case is
// about the OnBoardRequest it sends), so an Agent that never answers it
// passes when it sends the new entry its OnBoardRequest.
func TestOnBoardRequestUnansweredJudge9_9(t *testing.T) {
	for _, entry := range []bool{false, true} {
		res := agentRun(t, "9.9", harness{secondEntry: entry, secondSilent: true}, &tap{}, &tap{})
		if len(res) != 1 || res[0].Status != conformance.Pass {
			t.Errorf("second entry from the start %v: %+v", entry, res)
		}
	}
}

// TestValueChangeWaitJudge: TP-469 sets no limit on the wait for a
// ValueChange Notify ("Allow the EUT to send a Notify message") and an
// Agent may detect changes by polling, so the runner waits up to
// Options.ValueChangeWait (a minute by default, several polling periods)
// and notes how long the Notify took. Scaled down: a Notify 1.2 s late
// passes with a 3 s wait, where a fixed 1 s wait would fail it.
func TestValueChangeWaitJudge(t *testing.T) {
	if conformance.DefaultValueChangeWait < 45*time.Second {
		t.Fatalf("DefaultValueChangeWait %v: shorter than three 15 s polling periods", conformance.DefaultValueChangeWait)
	}
	cases := []struct {
		name string
		wait time.Duration
		want conformance.Status
		note string
	}{
		{"wait covers the delay", 3 * time.Second, conformance.Pass, "ValueChange Notify after 1.2"},
		{"wait shorter than the delay", time.Second, conformance.Fail, "no ValueChange Notify within 1s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := agentRun(t, "1.52,1.84,2.19", harness{notifyDelay: 1200 * time.Millisecond, valueChangeWait: c.wait}, &tap{}, &tap{})
			if len(res) != 3 {
				t.Fatalf("%d results: %+v", len(res), res)
			}
			for _, r := range res {
				t.Logf("%s %s %q note %q", r.ID, r.Status, r.Reason, r.Note)
				if r.Status != c.want || !strings.Contains(r.Note, c.note) {
					t.Errorf("%s: %s %q note %q, want %s with a note %q", r.ID, r.Status, r.Reason, r.Note, c.want, c.note)
				}
			}
		})
	}
}
