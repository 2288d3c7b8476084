package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestE2ESettings: GET and PUT /api/v1/agents/{id}/e2e read and set how
// the Controller uses E2E sessions with one Agent; a request then goes in
// a session.
func TestE2ESettings(t *testing.T) {
	srv := rig(t)
	path := "/api/v1/agents/" + agentID + "/e2e"
	for _, tc := range []struct {
		name, token, method, body string
		status                    int
	}{
		{"viewer reads", viewer, "GET", "", http.StatusOK},
		{"viewer may not write", viewer, "PUT", `{"policy":"require"}`, http.StatusForbidden},
		{"unknown policy", oper, "PUT", `{"policy":"sometimes"}`, http.StatusBadRequest},
		{"unknown payload security", oper, "PUT", `{"policy":"require","payload_security":"TLS13"}`, http.StatusBadRequest},
		{"TLS12 without certificate", oper, "PUT", `{"policy":"require","payload_security":"TLS12"}`, http.StatusBadRequest},
		{"small records", oper, "PUT", `{"policy":"require","max_record_size":100}`, http.StatusBadRequest},
		{"bad expiration", oper, "PUT", `{"policy":"require","expiration":"soon"}`, http.StatusBadRequest},
		{"bad endpoint", oper, "GET", "", http.StatusBadRequest},
		{"operator writes", oper, "PUT", `{"policy":"require","payload_security":"PLAINTEXT","expiration":"10m"}`, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := path
			if tc.name == "bad endpoint" {
				p = "/api/v1/agents/nobody/e2e"
			}
			if status, b := call(t, srv, tc.token, tc.method, p, tc.body); status != tc.status {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, p, status, b, tc.status)
			}
		})
	}
	if status, b := call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/get", `{"paths":["Device.LocalAgent.EndpointID"]}`); status != http.StatusOK {
		t.Fatalf("get: %d %s", status, b)
	}
	_, b := call(t, srv, viewer, "GET", path, "")
	var st struct {
		P           string `json:"policy"`
		S           string `json:"payload_security"`
		E           string `json:"expiration"`
		Established bool   `json:"established"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.P != "require" || st.S != "PLAINTEXT" || st.E != "10m0s" || !st.Established {
		t.Fatalf("state %s", b)
	}
}
