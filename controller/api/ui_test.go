package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestWhoAmI checks that each token's role is told, and that no token is
// refused.
func TestWhoAmI(t *testing.T) {
	srv := rig(t)
	tests := []struct {
		token    string
		status   int
		wantRole string
	}{
		{admin, http.StatusOK, "admin"},
		{oper, http.StatusOK, "operator"},
		{viewer, http.StatusOK, "viewer"},
		{"", http.StatusUnauthorized, ""},
		{"not-a-token-0123456789", http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		st, b := call(t, srv, tt.token, "GET", "/api/v1/whoami", "")
		if st != tt.status {
			t.Errorf("token %q: status %d, want %d", tt.token, st, tt.status)
			continue
		}
		if tt.wantRole == "" {
			continue
		}
		var w struct{ Role string }
		if err := json.Unmarshal(b, &w); err != nil || w.Role != tt.wantRole {
			t.Errorf("token %q: %s, want role %s", tt.token, b, tt.wantRole)
		}
	}
}

// TestExchangeRoute checks GET /api/v1/agents/{id}/exchange: the Records
// of a Get, newest first, decoded as JSON, readable by a viewer.
func TestExchangeRoute(t *testing.T) {
	srv := rig(t)
	if st, b := call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/get", `{"paths":["Device.LocalAgent.EndpointID"]}`); st != http.StatusOK {
		t.Fatalf("get: %d %s", st, b)
	}
	tests := []struct {
		name, query string
		status      int
		wantN       int // -1: any number of at least 2
	}{
		{"all", "", http.StatusOK, -1},
		{"newest", "?n=1", http.StatusOK, 1},
		{"bad n", "?n=x", http.StatusBadRequest, 0},
		{"zero n", "?n=0", http.StatusBadRequest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, b := call(t, srv, viewer, "GET", "/api/v1/agents/"+agentID+"/exchange"+tt.query, "")
			if st != tt.status {
				t.Fatalf("status %d, want %d: %s", st, tt.status, b)
			}
			if st != http.StatusOK {
				return
			}
			var out struct {
				Records []struct {
					Direction string          `json:"direction"`
					Record    json.RawMessage `json:"record"`
				} `json:"records"`
			}
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			if tt.wantN >= 0 && len(out.Records) != tt.wantN || tt.wantN < 0 && len(out.Records) < 2 {
				t.Fatalf("%d records: %s", len(out.Records), b)
			}
			// The GetResp is there, newer than its Get (when both are).
			sent, recv := -1, -1
			for i, r := range out.Records {
				var c bytes.Buffer
				if err := json.Compact(&c, r.Record); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if strings.Contains(c.String(), `"requested_path":"Device.LocalAgent.EndpointID"`) && r.Direction == "received" {
					recv = i
				}
				if strings.Contains(c.String(), `"param_paths":["Device.LocalAgent.EndpointID"]`) && r.Direction == "sent" {
					sent = i
				}
			}
			if recv < 0 && tt.wantN != 1 || sent >= 0 && recv > sent {
				t.Errorf("GetResp at %d, Get at %d in %s", recv, sent, b)
			}
		})
	}
	if st, _ := call(t, srv, viewer, "GET", "/api/v1/agents/os::012345-NOBODY/exchange", ""); st != http.StatusNotFound {
		t.Errorf("unknown agent: %d", st)
	}
	if st, _ := call(t, srv, "", "GET", "/api/v1/agents/"+agentID+"/exchange", ""); st != http.StatusUnauthorized {
		t.Errorf("no token: %d", st)
	}
}

// TestSummary checks that GET /api/v1/summary counts the agents and the
// requests answered.
func TestSummary(t *testing.T) {
	srv := rig(t)
	read := func() (s struct {
		Agents   int    `json:"agents"`
		Online   int    `json:"online"`
		Requests uint64 `json:"requests_total"`
		Errors   uint64 `json:"request_errors_total"`
	}) {
		st, b := call(t, srv, viewer, "GET", "/api/v1/summary", "")
		if st != http.StatusOK {
			t.Fatalf("summary: %d %s", st, b)
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := read()
	call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/get", `{"paths":["Device.LocalAgent.EndpointID"]}`)
	after := read()
	if after.Agents != 1 || after.Online != 1 || after.Requests != before.Requests+1 || after.Errors != before.Errors {
		t.Errorf("before %+v, after %+v", before, after)
	}
}
