package conformance_test

import (
	"context"
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

// agentRun runs the cases pattern selects against an in-process Agent
// (with a second Controller endpoint), the runner's requests going
// through primary and second.
func agentRun(t *testing.T, pattern string, reboot bool, primary, second *tap) []conformance.Result {
	t.Helper()
	const secondID = "proto::second-controller"
	m := schema.New()
	agent.Define(m)
	mux := datamodel.NewMux(m)
	agentEnd, runnerEnd := mtptest.NewPipe(fakeID, runnerID, nil)
	agentEnd2, secondEnd := mtptest.NewPipe(fakeID, secondID, nil)
	primary.Transport, second.Transport = runnerEnd, secondEnd
	a, err := agent.New(context.Background(), agent.Options{EndpointID: fakeID, Mux: mux, Store: store.NewMemory(),
		MTPs: []agent.MTP{{Protocol: "UDS", Transport: agentEnd}, {Protocol: "WebSocket", Transport: agentEnd2}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: runnerID, Alias: "runner",
			MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}}},
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
		Reboot: reboot, ReplyTimeout: 3 * time.Second, CaseTimeout: 30 * time.Second}, conformance.Match(pattern))
	if err != nil {
		t.Fatal(err)
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
		res := agentRun(t, permissionCases, true, primary, second)
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
		res := agentRun(t, permissionCases, false, &tap{}, &tap{})
		for _, r := range res {
			if r.Status == conformance.Fail || r.Status == conformance.Skip && r.ID != "2.17" {
				t.Errorf("%s: %s %q", r.ID, r.Status, r.Reason)
			}
		}
	})
}
