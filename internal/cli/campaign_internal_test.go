package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/controller"
)

// The terminal display redraws in place: the second drawing moves the
// cursor back over the lines of the first; the bar fills with the share
// finished; running and failed agents are listed, a bounded number.
func TestDrawCampaign(t *testing.T) {
	x := &controller.Campaign{ID: "c1", Spec: controller.CampaignSpec{Kind: "firmware"}, State: "running", StageEnd: 40,
		Counts: controller.CampaignCounts{Total: 40, Succeeded: 10, Failed: 10, Running: 20}}
	for i := range 20 {
		x.Targets = append(x.Targets, controller.Target{Agent: "a" + string(rune('A'+i)), State: controller.TargetRunning})
	}
	x.Targets = append(x.Targets, controller.Target{Agent: "bad", State: controller.TargetFailed, Reason: "checksum mismatch"})
	var w bytes.Buffer
	n := drawCampaign(&w, x, 0)
	first := w.String()
	if n != 2+maxShown+1 || strings.Contains(first, "\x1b[A") || !strings.Contains(first, "["+strings.Repeat("#", 20)+strings.Repeat(".", 20)+"] 20/40") ||
		!strings.Contains(first, "… 9 more") {
		t.Fatalf("%d lines:\n%s", n, first)
	}
	w.Reset()
	x.State, x.Targets = "completed", x.Targets[20:]
	if m := drawCampaign(&w, x, n); m != n || !strings.HasPrefix(w.String(), "\x1b[15A") || !strings.Contains(w.String(), "bad") {
		t.Fatalf("%d lines:\n%q", m, w.String())
	}
}

func TestCampaignOutcome(t *testing.T) {
	for _, tc := range []struct {
		state  string
		failed int
		want   string
	}{
		{controller.CampaignCompleted, 0, ""},
		{controller.CampaignCompleted, 2, "2 of 5 agents failed"},
		{controller.CampaignPaused, 1, "paused"},
		{controller.CampaignAborted, 0, "aborted"},
	} {
		err := campaignOutcome(&controller.Campaign{ID: "c", State: tc.state, Counts: controller.CampaignCounts{Total: 5, Failed: tc.failed}})
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s/%d: %v", tc.state, tc.failed, err)
		}
	}
}
