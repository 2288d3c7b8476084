package conformance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// noObjNotify is an Agent's transport that drops its ObjectCreation and
// ObjectDeletion Notifications.
type noObjNotify struct{ mtp.Transport }

func (d noObjNotify) Send(ctx context.Context, addr string, b []byte) error {
	var rec record.Record
	var m wire.Msg
	if record.Decode(b, &rec, nil) == nil && proto.Unmarshal(rec.Payload, &m) == nil {
		n := m.GetBody().GetRequest().GetNotify()
		if n.GetObjCreation() != nil || n.GetObjDeletion() != nil {
			return nil
		}
	}
	return d.Transport.Send(ctx, addr, b)
}

// TestObjectNotifyJudge1_57_1_58: TP-469 1.57 (ObjectCreation) and 1.58
// (ObjectDeletion) pass as soon as the Notify comes, and fail against an
// Agent that sends none once Options.ReplyTimeout (3 s here) has passed,
// not after a fixed wait.
func TestObjectNotifyJudge1_57_1_58(t *testing.T) {
	for _, c := range []struct {
		name   string
		wrap   func(mtp.Transport) mtp.Transport
		want   conformance.Status
		reason string
		within time.Duration
	}{
		{"notified", nil, conformance.Pass, "", time.Second},
		{"not notified", func(tr mtp.Transport) mtp.Transport { return noObjNotify{tr} }, conformance.Fail, "no Object", 3*time.Second + 2*time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := agentRun(t, "1.57,1.58", harness{wrap: c.wrap}, &tap{}, &tap{})
			if len(res) != 2 {
				t.Fatalf("%d results: %+v", len(res), res)
			}
			for _, r := range res {
				t.Logf("%s %s in %v %q", r.ID, r.Status, r.Duration, r.Reason)
				if r.Status != c.want || !strings.Contains(r.Reason, c.reason) {
					t.Errorf("%s: %s %q, want %s", r.ID, r.Status, r.Reason, c.want)
				}
				if r.Duration > c.within {
					t.Errorf("%s took %v, want at most %v", r.ID, r.Duration, c.within)
				}
			}
		})
	}
}
