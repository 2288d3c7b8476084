package agent_test

import (
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/store"
)

// TestBootFirmwareUpdated: Boot! carries Options.BootFirmwareUpdated, the
// cause and the command key a firmware activation gave this start, and
// FirmwareUpdated false otherwise.
func TestBootFirmwareUpdated(t *testing.T) {
	st := store.NewMemory()
	e := start(t, st)
	e.ctl.subscribe(t, "boot", "Event", "Device.Boot!", "Persistent", "true")
	e.stop()
	for _, tc := range []struct {
		updated    bool
		cause, key string
		want       string
	}{
		{true, "RemoteReboot", "act-1", "true"},
		{false, "LocalReboot", "", "false"},
	} {
		e = start(t, st, func(o *agent.Options) {
			o.BootFirmwareUpdated, o.BootCause, o.BootCommandKey = tc.updated, tc.cause, tc.key
		})
		ev := e.ctl.notification(2 * time.Second).GetBody().GetRequest().GetNotify().GetEvent()
		if p := ev.GetParams(); p["FirmwareUpdated"] != tc.want || p["Cause"] != tc.cause || p["CommandKey"] != tc.key {
			t.Errorf("Boot! %v, want FirmwareUpdated %s", p, tc.want)
		}
		e.stop()
	}
}
