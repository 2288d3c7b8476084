package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestDeleteAgentDeletesE2E: DELETE /api/v1/agents/{id} also deletes the
// Agent's E2E settings (GET /api/v1/agents/{id}/e2e is back to the
// default), and needs admin.
func TestDeleteAgentDeletesE2E(t *testing.T) {
	srv := rig(t)
	path := "/api/v1/agents/" + agentID
	if status, b := call(t, srv, oper, "PUT", path+"/e2e", `{"policy":"prefer"}`); status != http.StatusOK {
		t.Fatalf("PUT e2e: %d %s", status, b)
	}
	if status, _ := call(t, srv, oper, "DELETE", path, ""); status != http.StatusForbidden {
		t.Fatalf("operator DELETE: %d, want 403", status)
	}
	if status, b := call(t, srv, admin, "DELETE", path, ""); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, b)
	}
	_, b := call(t, srv, viewer, "GET", path+"/e2e", "")
	var st struct {
		Policy string `json:"policy"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Policy != "off" {
		t.Errorf("E2E settings after DELETE: %s, want the default (off)", b)
	}
}
