package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/uspkit/uspkit/controller"
)

// Under the pending policy an unknown agent is served only once an admin
// approves it through the API.
func TestApprovePending(t *testing.T) {
	srv := rigWith(t, controller.AdmitPending)
	code, body := call(t, srv, viewer, "GET", "/api/v1/pending", "")
	var pending []controller.Agent
	if code != http.StatusOK || json.Unmarshal(body, &pending) != nil || len(pending) != 1 || pending[0].ID != agentID {
		t.Fatalf("pending: %d %s", code, body)
	}
	if code, body := call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/get", `{"paths":["Device.LocalAgent.EndpointID"]}`); code != http.StatusConflict {
		t.Fatalf("get from a pending agent: %d %s", code, body)
	}
	if code, _ := call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/approve", ""); code != http.StatusForbidden {
		t.Fatalf("operator approved: %d", code)
	}
	if code, body := call(t, srv, admin, "POST", "/api/v1/agents/"+agentID+"/approve", ""); code != http.StatusOK {
		t.Fatalf("approve: %d %s", code, body)
	}
	if code, body := call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/get", `{"paths":["Device.LocalAgent.EndpointID"]}`); code != http.StatusOK {
		t.Fatalf("get after approval: %d %s", code, body)
	}
	if code, body := call(t, srv, viewer, "GET", "/api/v1/pending", ""); code != http.StatusOK || string(body) != "[]\n" && string(body) != "[]" {
		t.Fatalf("pending after approval: %d %s", code, body)
	}
}
