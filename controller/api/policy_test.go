package api_test

import (
	"strings"
	"testing"
)

// TestPathPolicy: an operator token cannot make the Agent trust another
// Controller, change its trust settings or MTPs, or reboot it, whatever
// route or path form it uses; an admin token can.
func TestPathPolicy(t *testing.T) {
	srv := rig(t)
	base := "/api/v1/agents/" + agentID
	for _, c := range []struct {
		name, token, route, body string
		want                     int
	}{
		{"operator adds a controller", oper, "/add",
			`{"objects":[{"path":"Device.LocalAgent.Controller.","params":{"EndpointID":"proto::rogue","Enable":"true"}}]}`, 403},
		{"operator sets trust by search path", oper, "/set",
			`{"objects":[{"path":"Device.LocalAgent.Controller.[Alias==\"local\"].","params":{"AssignedRole":"x"}}]}`, 403},
		{"operator sets through a wildcard", oper, "/set",
			`{"objects":[{"path":"Device.LocalAgent.*.","params":{"Enable":"false"}}]}`, 403},
		{"operator changes ControllerTrust", oper, "/set",
			`{"objects":[{"path":"Device.LocalAgent.ControllerTrust.","params":{"UntrustedRole":"x"}}]}`, 403},
		{"operator deletes the MTPs", oper, "/delete", `{"paths":["Device.LocalAgent.MTP.*."]}`, 403},
		{"operator reboots", oper, "/operate", `{"command":"Device.Reboot()"}`, 403},
		{"operator through the raw Msg route", oper, "/msg",
			`{"header":{"msgId":"x","msgType":"ADD"},"body":{"request":{"add":{"createObjs":[{"objPath":"Device.LocalAgent.Controller."}]}}}}`, 403},
		{"operator adds a subscription", oper, "/add",
			`{"objects":[{"path":"Device.LocalAgent.Subscription.","params":{"NotifType":"Event","ReferenceList":"Device.Boot!"}}]}`, 200},
		{"admin adds a controller", admin, "/add",
			`{"objects":[{"path":"Device.LocalAgent.Controller.","params":{"EndpointID":"proto::second","Enable":"false"}}]}`, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, body := call(t, srv, c.token, "POST", base+c.route, c.body)
			if got != c.want {
				t.Fatalf("%d, want %d (%s)", got, c.want, body)
			}
			if got == 403 && !strings.Contains(string(body), "needs admin") {
				t.Errorf("403 without naming the role needed: %s", body)
			}
		})
	}
}
