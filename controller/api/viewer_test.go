package api_test

import (
	"strings"
	"testing"
)

// TestViewerReads: a viewer token may send the USP reads (Get,
// GetInstances, GetSupportedDM, GetSupportedProtocol), by their routes or
// the raw Msg route, except reads that could return what the path policy's
// Read role keeps for operators (credentials); never a Set, Add, Delete or
// Operate. An operator reads everything.
func TestViewerReads(t *testing.T) {
	srv := rig(t)
	base := "/api/v1/agents/" + agentID
	for _, c := range []struct {
		name, token, route, body string
		want                     int
		needs                    string // in a 403 answer
	}{
		{"get", viewer, "/get", `{"paths":["Device.DeviceInfo."]}`, 200, ""},
		{"get one level of LocalAgent", viewer, "/get", `{"paths":["Device.LocalAgent."],"max_depth":1}`, 200, ""},
		{"supported data model", viewer, "/supported", `{"paths":["Device."],"first_level_only":true,"params":true}`, 200, ""},
		{"supported data model of a sensitive object", viewer, "/supported", `{"paths":["Device.LocalAgent.Controller."],"params":true}`, 200, ""},
		{"instances", viewer, "/instances", `{"paths":["Device.LocalAgent.Subscription."],"first_level_only":true}`, 200, ""},
		{"protocol", viewer, "/protocol", ``, 200, ""},
		{"raw get", viewer, "/msg", `{"header":{"msgId":"v1","msgType":"GET"},"body":{"request":{"get":{"paramPaths":["Device.DeviceInfo.SerialNumber"]}}}}`, 200, ""},

		{"get the controllers", viewer, "/get", `{"paths":["Device.LocalAgent.Controller."]}`, 403, "needs operator"},
		{"get everything", viewer, "/get", `{"paths":["Device."]}`, 403, "needs operator"},
		{"get by wildcard", viewer, "/get", `{"paths":["Device.LocalAgent.*.EndpointID"]}`, 403, "needs operator"},
		{"instances of the controllers", viewer, "/instances", `{"paths":["Device.LocalAgent.Controller."],"first_level_only":true}`, 403, "needs operator"},
		{"raw get of the trust", viewer, "/msg", `{"header":{"msgId":"v2","msgType":"GET"},"body":{"request":{"get":{"paramPaths":["Device.LocalAgent.ControllerTrust."]}}}}`, 403, "needs operator"},
		{"set", viewer, "/set", `{"objects":[{"path":"Device.DeviceInfo.","params":{"FriendlyName":"x"}}]}`, 403, "needs operator"},
		{"add", viewer, "/add", `{"objects":[{"path":"Device.LocalAgent.Subscription.","params":{"NotifType":"Event","ReferenceList":"Device.Boot!"}}]}`, 403, "needs operator"},
		{"delete", viewer, "/delete", `{"paths":["Device.LocalAgent.Subscription.1."]}`, 403, "needs operator"},
		{"operate", viewer, "/operate", `{"command":"Device.IP.Diagnostics.IPPing()"}`, 403, "needs operator"},
		{"raw set", viewer, "/msg", `{"header":{"msgId":"v3","msgType":"SET"},"body":{"request":{"set":{"updateObjs":[{"objPath":"Device.DeviceInfo.","paramSettings":[{"param":"FriendlyName","value":"x"}]}]}}}}`, 403, "needs operator"},
		{"raw subscription", viewer, "/msg", `{"header":{"msgId":"v4","msgType":"ADD"},"body":{"request":{"add":{"createObjs":[{"objPath":"Device.LocalAgent.Subscription."}]}}}}`, 403, "needs operator"},

		{"operator gets the controllers", oper, "/get", `{"paths":["Device.LocalAgent.Controller."]}`, 200, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, body := call(t, srv, c.token, "POST", base+c.route, c.body)
			if got != c.want {
				t.Fatalf("%d, want %d (%s)", got, c.want, body)
			}
			if c.needs != "" && !strings.Contains(string(body), c.needs) {
				t.Errorf("403 without %q: %s", c.needs, body)
			}
		})
	}
}
