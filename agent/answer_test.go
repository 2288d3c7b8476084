package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// limited is the Agent's end of a pipe that refuses, as a real MTP does,
// to send a Record over max bytes.
type limited struct {
	mtp.Transport
	max int
}

func (l limited) Send(ctx context.Context, addr string, rec []byte) error {
	if len(rec) > l.max {
		return fmt.Errorf("test: record of %d bytes over %d: %w", len(rec), l.max, mtp.ErrTooLarge)
	}
	return l.Transport.Send(ctx, addr, rec)
}

func withLimit(max int) envOption {
	return func(o *agent.Options) {
		o.MTPs[0].Transport = limited{Transport: o.MTPs[0].Transport, max: max}
	}
}

// TestAnswerTooLarge checks that a request whose answer the MTP cannot
// carry is still answered [R-MSG.0]: a response by an Error 7005
// Resources exceeded, an Error by the same Error cut down to fit.
func TestAnswerTooLarge(t *testing.T) {
	const limit = 2048
	e := start(t, nil, withLimit(limit))
	// Enough rows that a Get of the table is well over the limit.
	for i := range 20 {
		e.ctl.subscribe(t, fmt.Sprintf("sub-%d", i), "ValueChange", "Device.LocalAgent.SoftwareVersion")
	}
	long := strings.Repeat("x", 50000)
	tests := []struct {
		name     string
		req      *wire.Request
		wantCode uint32 // 0: any Error code but 7005
	}{
		{"GetOverLimit", get("Device.LocalAgent.Subscription."), usperr.CodeResourcesExceeded},
		{"SetLongValue", setReq(false, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", long), 0},
		{"GetLongPath", get("Device.LocalAgent." + long + "."), usperr.CodeResourcesExceeded},
		{"Get1500Paths", get(paths(1500)...), usperr.CodeResourcesExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.ctl.do(tc.req)
			er := r.GetBody().GetError()
			if er == nil {
				t.Fatalf("answer %v, want an Error", r)
			}
			if n := r.SizeVT(); n > limit {
				t.Fatalf("Error of %d bytes over the MTP's %d", n, limit)
			}
			switch {
			case tc.wantCode != 0 && er.GetErrCode() != tc.wantCode:
				t.Fatalf("Error %d %q, want %d", er.GetErrCode(), er.GetErrMsg(), tc.wantCode)
			case tc.wantCode == 0 && (er.GetErrCode() < 7000 || er.GetErrCode() == usperr.CodeResourcesExceeded):
				t.Fatalf("Error %d %q, want the request's own error", er.GetErrCode(), er.GetErrMsg())
			}
			t.Logf("answer: %d %q", er.GetErrCode(), er.GetErrMsg())
		})
	}
	// The Agent still answers what fits.
	if v := value(t, e.ctl.do(get("Device.LocalAgent.EndpointID")), "Device.LocalAgent.EndpointID"); v == "" {
		t.Fatal("empty EndpointID")
	}
}

// paths returns n Path Names of the Agent's data model.
func paths(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Device.LocalAgent.Subscription.%d.ReferenceList", i%20+1)
	}
	return out
}
