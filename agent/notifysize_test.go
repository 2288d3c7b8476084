package agent_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/mtp"
)

// varLimited is the Agent's end of a pipe whose record limit the test
// changes.
type varLimited struct {
	mtp.Transport
	max *atomic.Int64
}

func (l varLimited) Send(ctx context.Context, addr string, rec []byte) error {
	if int64(len(rec)) > l.max.Load() {
		return fmt.Errorf("test: record of %d bytes over %d: %w", len(rec), l.max.Load(), mtp.ErrTooLarge)
	}
	return l.Transport.Send(ctx, addr, rec)
}

// TestNotifyTooLargeRetried checks the one path on which the Agent starts
// a Record that may not fit: a Notify the MTP refuses as too large is not
// lost but kept, as for a Controller out of reach, and sent again once
// the MTP takes it (here its limit is raised, as when the client
// reconnects to a broker with a larger Maximum Packet Size).
func TestNotifyTooLargeRetried(t *testing.T) {
	max := &atomic.Int64{}
	max.Store(1 << 20)
	e := start(t, nil, func(o *agent.Options) {
		o.MTPs[0].Transport = varLimited{Transport: o.MTPs[0].Transport, max: max}
	})
	setOK(t, e, "Device.LocalAgent.Controller.1.", "USPNotifRetryMinimumWaitInterval", "1")
	e.ctl.subscribe(t, "retried", "ValueChange", "Device.LocalAgent.Controller.1.PeriodicNotifInterval", "NotifRetry", "true")
	max.Store(64) // no Notify fits
	if err := e.agent.Engine().Update(context.Background(), "Device.LocalAgent.Controller.1.", map[string]string{"PeriodicNotifInterval": "4242"}); err != nil {
		t.Fatal(err)
	}
	if m := e.ctl.notification(time.Second); m != nil {
		t.Fatalf("a Notify over the MTP's limit went out: %v", m)
	}
	max.Store(1 << 20)
	m := e.ctl.notification(15 * time.Second)
	if m == nil {
		t.Fatal("the Notify refused as too large was not sent again")
	}
	if vc := m.GetBody().GetRequest().GetNotify().GetValueChange(); vc.GetParamValue() != "4242" {
		t.Fatalf("notification %v", m)
	}
}
