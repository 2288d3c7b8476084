package agent_test

import (
	"testing"
	"time"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// doVersion sends a request in a Record of the given USP version and
// returns the reply.
func (c *ctl) doVersion(version string, req *wire.Request) *wire.Msg {
	c.t.Helper()
	m, ch := c.prepare(req)
	payload, err := wire.MarshalMsg(m)
	if err != nil {
		c.t.Fatal(err)
	}
	rec := record.NewNoSession(agentID, c.id, payload)
	rec.Version = version
	b, err := rec.MarshalBinary()
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		c.t.Fatalf("no reply to %v", req)
		return nil
	}
}

// TestOperateMissingArgument: an Operate without a mandatory input
// argument is answered as [R-OPR.5] of the Record's USP version says: up
// to 1.3 an Error 7004 Invalid arguments, from 1.4 an OperateResp whose
// cmd_failure carries 7027 Invalid command arguments. Either way the
// command does not run.
func TestOperateMissingArgument(t *testing.T) {
	e := start(t, nil)
	for _, tc := range []struct {
		version  string
		sendResp bool
		want     func(t *testing.T, m *wire.Msg)
	}{
		{"1.3", true, wantError(usperr.CodeInvalidArguments)},
		{"1.3", false, wantError(usperr.CodeInvalidArguments)}, // [R-OPR.4]: errors are still sent
		{"1.2", true, wantError(usperr.CodeInvalidArguments)},
		{"1.4", true, wantCmdFailure(usperr.CodeInvalidCommandArgs)},
		{"1.5", true, wantCmdFailure(usperr.CodeInvalidCommandArgs)},
	} {
		t.Run(tc.version, func(t *testing.T) {
			tc.want(t, e.ctl.doVersion(tc.version, operateReq("Device.ScheduleTimer()", "k", tc.sendResp, nil)))
		})
	}
	r := e.ctl.do(get("Device.LocalAgent.RequestNumberOfEntries"))
	if n := value(t, r, "Device.LocalAgent.RequestNumberOfEntries"); n != "0" {
		t.Errorf("%s requests started", n)
	}
}

func wantError(code uint32) func(*testing.T, *wire.Msg) {
	return func(t *testing.T, m *wire.Msg) {
		t.Helper()
		if er := m.GetBody().GetError(); er == nil || er.GetErrCode() != code {
			t.Errorf("reply %v, want an Error %d", m, code)
		}
	}
}

func wantCmdFailure(code uint32) func(*testing.T, *wire.Msg) {
	return func(t *testing.T, m *wire.Msg) {
		t.Helper()
		res := m.GetBody().GetResponse().GetOperateResp().GetOperationResults()
		if len(res) != 1 || res[0].GetCmdFailure().GetErrCode() != code {
			t.Errorf("reply %v, want a cmd_failure %d", m, code)
		}
	}
}
