package agent_test

import (
	"testing"
	"time"
)

const ctrl1 = "Device.LocalAgent.Controller.1."

// onBoardRequests counts the OnBoardRequest notifications that arrive
// within d, and returns their msg_ids.
func (c *ctl) onBoardRequests(d time.Duration) []string {
	var ids []string
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return ids
		}
		m := c.notification(left)
		if m == nil {
			return ids
		}
		if m.GetBody().GetRequest().GetNotify().GetOnBoardReq() != nil {
			ids = append(ids, m.GetHeader().GetMsgId())
		}
	}
}

// TestSendOnBoardRequestClearsOnBoardingComplete: SendOnBoardRequest()
// sets the Controller's OnBoardingComplete to false [R-NOT.5] (TP-469
// 1.101).
func TestSendOnBoardRequestClearsOnBoardingComplete(t *testing.T) {
	e := start(t, nil)
	if got := value(t, e.ctl.do(get(ctrl1+"OnBoardingComplete")), ctrl1+"OnBoardingComplete"); got != "false" {
		t.Errorf("default OnBoardingComplete %q", got)
	}
	e.ctl.do(setReq(false, ctrl1, "OnBoardingComplete", "true"))
	e.ctl.do(operateReq(ctrl1+"SendOnBoardRequest()", "k", true, nil))
	if ids := e.ctl.onBoardRequests(2 * time.Second); len(ids) != 1 {
		t.Errorf("%d OnBoardRequests, want 1", len(ids))
	}
	if got := value(t, e.ctl.do(get(ctrl1+"OnBoardingComplete")), ctrl1+"OnBoardingComplete"); got != "false" {
		t.Errorf("OnBoardingComplete %q after SendOnBoardRequest(), want false", got)
	}
}

// TestOnBoardingRestartTime: while OnBoardingComplete stays false, another
// OnBoardRequest follows OnBoardingRestartTime seconds after the NotifyResp
// of the last; none when it is 0, none once OnBoardingComplete is true,
// and the timer waits for the NotifyResp [R-NOT.5] (TP-469 1.102, 1.103).
func TestOnBoardingRestartTime(t *testing.T) {
	tests := []struct {
		name     string
		restart  string
		ack      bool
		complete bool // set OnBoardingComplete true after the second request
		want     int  // OnBoardRequests within the window
		window   time.Duration
	}{
		{"every second until complete", "1", true, true, 2, 4 * time.Second},
		{"every second", "1", true, false, 3, 2800 * time.Millisecond},
		{"disabled", "0", true, false, 1, 3 * time.Second},
		{"waits for the NotifyResp", "1", false, false, 1, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, nil)
			e.ctl.mu.Lock()
			e.ctl.autoAck = tt.ack
			e.ctl.mu.Unlock()
			e.ctl.do(setReq(false, ctrl1, "OnBoardingRestartTime", tt.restart))
			start := time.Now()
			e.ctl.do(operateReq(ctrl1+"SendOnBoardRequest()", "k", true, nil))
			var ids []string
			if tt.complete {
				ids = e.ctl.onBoardRequests(1800 * time.Millisecond)
				e.ctl.do(setReq(false, ctrl1, "OnBoardingComplete", "true"))
			}
			ids = append(ids, e.ctl.onBoardRequests(tt.window-time.Since(start))...)
			if len(ids) != tt.want {
				t.Errorf("%d OnBoardRequests in %v, want %d", len(ids), tt.window, tt.want)
			}
			for i := 1; i < len(ids); i++ {
				if ids[i] == ids[0] {
					t.Errorf("request %d is a retransmission of the first (%s), want a new OnBoardRequest", i, ids[i])
				}
			}
		})
	}
}
