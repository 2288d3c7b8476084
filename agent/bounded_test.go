package agent_test

import (
	"strings"
	"testing"

	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// TestErrorsBounded: an answer never repeats unbounded input. A Set whose
// value has 50,000 characters is refused with the right codes in an Error
// of a few hundred bytes (err_msg at most usperr.MaxMsg, values quoted to
// usperr.MaxEcho, param_path to usperr.MaxEchoPath); so are other
// requests with huge values or paths.
func TestErrorsBounded(t *testing.T) {
	e := start(t, nil)
	big := strings.Repeat("x", 50000)
	const limit = 4096 // the whole reply, in bytes
	cases := []struct {
		name  string
		req   *wire.Request
		check func(t *testing.T, m *wire.Msg)
	}{
		{"set value", setReq(false, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", big), errWith(usperr.CodeInvalidType)},
		{"set out-of-range value", setReq(false, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", "9"+strings.Repeat("9", 50000)), errWith(usperr.CodeInvalidType, usperr.CodeInvalidValue)},
		{"set string value", setReq(false, "Device.LocalAgent.Controller.1.", "Alias", big), errWith(usperr.CodeInvalidValue)},
		{"set partial", setReq(true, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", big), func(t *testing.T, m *wire.Msg) {
			if f := m.GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()[0].GetOperStatus().GetOperFailure(); f == nil {
				t.Errorf("no failure: %.300v", m)
			}
		}},
		{"set unknown param", setReq(false, "Device.LocalAgent.Controller.1.", big, "1"), errWith(usperr.CodeUnsupportedParam)},
		{"add value", addReq("Device.LocalAgent.Subscription.", "ID", "b", "NotifType", "ValueChange", "ReferenceList", big), errWith(usperr.CodeInvalidValue)},
		{"operate argument", operateReq("Device.ScheduleTimer()", "k", true, map[string]string{"DelaySeconds": big}), func(t *testing.T, m *wire.Msg) {
			res := m.GetBody().GetResponse().GetOperateResp().GetOperationResults()
			if len(res) != 1 || res[0].GetCmdFailure().GetErrCode() != usperr.CodeInvalidCommandArgs {
				t.Errorf("reply %.300v", m)
			}
		}},
		{"delete path", &wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{ObjPaths: []string{"Device.LocalAgent.Controller." + big + "."}}}}, errWith(usperr.CodeInvalidPathSyntax)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := e.ctl.do(tc.req)
			if n := m.SizeVT(); n > limit {
				t.Errorf("reply of %d bytes (limit %d): %.600v", n, limit, m)
			}
			tc.check(t, m)
		})
	}
}

// errWith checks an Error whose code, and the code of its first
// param_err, are among codes.
func errWith(codes ...uint32) func(*testing.T, *wire.Msg) {
	return func(t *testing.T, m *wire.Msg) {
		t.Helper()
		er := m.GetBody().GetError()
		in := func(c uint32) bool {
			for _, x := range codes {
				if x == c {
					return true
				}
			}
			return false
		}
		if er == nil || len(er.GetParamErrs()) == 0 || !in(er.GetParamErrs()[0].GetErrCode()) {
			t.Errorf("reply %.600v, want an Error with a param_err in %v", m, codes)
		}
		if len(er.GetErrMsg()) > usperr.MaxMsg {
			t.Errorf("err_msg of %d bytes", len(er.GetErrMsg()))
		}
		for _, pe := range er.GetParamErrs() {
			if len(pe.GetParamPath()) > usperr.MaxEchoPath || len(pe.GetErrMsg()) > usperr.MaxMsg {
				t.Errorf("param_err of %d+%d bytes", len(pe.GetParamPath()), len(pe.GetErrMsg()))
			}
		}
	}
}
