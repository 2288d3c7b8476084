package conformance_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	fakeID   = "os::012345-FAKE"
	runnerID = "proto::runner"
)

// fakeAgent answers Gets with what answer returns for the request.
func fakeAgent(t *testing.T, answer func(req *wire.Request) *wire.Response) *mtptest.Pipe {
	agentEnd, runnerEnd := mtptest.NewPipe(fakeID, runnerID, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		agentEnd.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
			var rec record.Record
			if record.Decode(in.Record, &rec, nil) != nil {
				return
			}
			var m wire.Msg
			if proto.Unmarshal(rec.Payload, &m) != nil {
				return
			}
			resp := answer(m.GetBody().GetRequest())
			if resp == nil {
				return
			}
			out := &wire.Msg{Header: &wire.Header{MsgId: m.GetHeader().GetMsgId(), MsgType: wire.Header_GET_RESP}, Body: &wire.Body{MsgBody: &wire.Body_Response{Response: resp}}}
			b, _ := proto.Marshal(out)
			rb, _ := record.NewNoSession(rec.FromID, fakeID, b).MarshalBinary()
			agentEnd.Send(ctx, in.From.Address, rb)
		}))
	}()
	t.Cleanup(func() { cancel(); agentEnd.Close(); <-done })
	return runnerEnd
}

func getResp(path, resolved string, params map[string]string) *wire.Response {
	return &wire.Response{RespType: &wire.Response_GetResp{GetResp: &wire.GetResp{ReqPathResults: []*wire.GetResp_RequestedPathResult{{
		RequestedPath: path, ResolvedPathResults: []*wire.GetResp_ResolvedPathResult{{ResolvedPath: resolved, ResultParams: params}}}}}}}
}

func run(t *testing.T, answer func(*wire.Request) *wire.Response, pattern string) []conformance.Result {
	t.Helper()
	tr := fakeAgent(t, answer)
	res, err := conformance.Run(context.Background(), conformance.Options{AgentID: fakeID, ControllerID: runnerID, Transport: tr, AgentAddr: fakeID,
		ReplyTimeout: 500 * time.Millisecond, CaseTimeout: 5 * time.Second}, conformance.Match(pattern))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestWrongAnswersFail: deliberately wrong responses make 1.36 fail.
func TestWrongAnswersFail(t *testing.T) {
	cases := map[string]func(*wire.Request) *wire.Response{
		"right": func(r *wire.Request) *wire.Response {
			return getResp(r.GetGet().GetParamPaths()[0], "Device.LocalAgent.", map[string]string{"EndpointID": fakeID})
		},
		"wrong resolved path": func(r *wire.Request) *wire.Response {
			return getResp(r.GetGet().GetParamPaths()[0], "Device.", map[string]string{"LocalAgent.EndpointID": fakeID})
		},
		"wrong value": func(r *wire.Request) *wire.Response {
			return getResp(r.GetGet().GetParamPaths()[0], "Device.LocalAgent.", map[string]string{"EndpointID": "os::other"})
		},
		"extra parameter": func(r *wire.Request) *wire.Response {
			return getResp(r.GetGet().GetParamPaths()[0], "Device.LocalAgent.", map[string]string{"EndpointID": fakeID, "UpTime": "1"})
		},
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			res := run(t, answer, "1.36")
			if len(res) != 1 {
				t.Fatalf("%d results", len(res))
			}
			want := conformance.Fail
			if name == "right" {
				want = conformance.Pass
			}
			if res[0].Status != want {
				t.Errorf("status %s (%s), want %s", res[0].Status, res[0].Reason, want)
			}
		})
	}
}

// TestNoAnswerFails: a case whose request gets no reply fails, it does
// not hang.
func TestNoAnswerFails(t *testing.T) {
	res := run(t, func(r *wire.Request) *wire.Response {
		if r.GetGet() != nil && r.GetGet().GetParamPaths()[0] == "Device.LocalAgent.EndpointID" && len(r.GetGet().GetParamPaths()) == 1 {
			return getResp("Device.LocalAgent.EndpointID", "Device.LocalAgent.", map[string]string{"EndpointID": fakeID})
		}
		return nil
	}, "1.80,1.41")
	for _, r := range res {
		if r.Status != conformance.Fail || !strings.Contains(r.Reason, "no reply") {
			t.Errorf("%s: %s %q", r.ID, r.Status, r.Reason)
		}
	}
}

func TestListAndReports(t *testing.T) {
	cases := conformance.Cases()
	if len(cases) != 230 || cases[0].ID != "1.1" || cases[len(cases)-1].ID != "11.17" {
		t.Fatalf("%d cases, first %s", len(cases), cases[0].ID)
	}
	var buf bytes.Buffer
	if err := conformance.WriteList(&buf); err != nil || strings.Count(buf.String(), "\n") != 231 {
		t.Errorf("list: %v, %d lines", err, strings.Count(buf.String(), "\n"))
	}
	res := []conformance.Result{{ID: "1.1", Title: "a", Status: conformance.Pass}, {ID: "1.2", Title: "b", Status: conformance.Fail, Reason: "x"},
		{ID: "1.3", Title: "c", Status: conformance.Skip, Reason: "y"}}
	buf.Reset()
	conformance.WriteTable(&buf, res)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if lines[len(lines)-1] != "1 passed, 1 failed, 1 skipped" {
		t.Errorf("last line %q", lines[len(lines)-1])
	}
	buf.Reset()
	if err := conformance.WriteJUnit(&buf, "tp469", res); err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &suite); err != nil || suite.Tests != 3 || suite.Failures != 1 || suite.Skipped != 1 {
		t.Errorf("junit %+v %v", suite, err)
	}
	buf.Reset()
	conformance.WriteJSON(&buf, res)
	if !strings.Contains(buf.String(), `"failed": 1`) {
		t.Errorf("json %s", buf.String())
	}
}
