package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/uspkit/uspkit/controller/api"
)

// memAccounts keeps accounts in memory: the HTTP contract only; the
// embedded broker's real store is tested with usp agents add/revoke.
type memAccounts struct {
	mu sync.Mutex
	m  map[string]api.Account
}

func (a *memAccounts) List(context.Context) ([]api.Account, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []api.Account
	for _, x := range a.m {
		out = append(out, x)
	}
	return out, nil
}

func (a *memAccounts) add(id string, f func(*api.Account)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.m[id]
	x.EndpointID = id
	f(&x)
	a.m[id] = x
}

func (a *memAccounts) AddPassword(_ context.Context, id string) (*api.Credentials, error) {
	a.add(id, func(x *api.Account) { x.Password = true })
	return &api.Credentials{EndpointID: id, Username: id, Password: "secret", Topic: "usp/agent/" + id}, nil
}

func (a *memAccounts) AddCertificate(_ context.Context, id string) (*api.Credentials, error) {
	a.add(id, func(x *api.Account) { x.Certificates++ })
	return &api.Credentials{EndpointID: id, Certificate: "PEM", Key: "KEY", Topic: "usp/agent/" + id}, nil
}

func (a *memAccounts) Revoke(_ context.Context, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.m[id]; !ok {
		return fmt.Errorf("%w: %s", api.ErrNoAccount, id)
	}
	delete(a.m, id)
	return nil
}

// TestAccountsRoutes: the broker account routes need the admin role,
// check the Endpoint ID and credential kind, and answer 501 without an
// embedded broker.
func TestAccountsRoutes(t *testing.T) {
	toks := api.NewTokens(map[string]api.Role{admin: api.Admin, oper: api.Operator, viewer: api.Viewer})
	srv := httptest.NewServer(api.New(api.Options{Tokens: toks, Accounts: &memAccounts{m: map[string]api.Account{}}}))
	defer srv.Close()
	none := httptest.NewServer(api.New(api.Options{Tokens: toks}))
	defer none.Close()
	const id = "os::012345-ACCT1"
	tests := []struct {
		srv                 *httptest.Server
		token, method, path string
		body                string
		want                int
	}{
		{srv, oper, "POST", "/api/v1/accounts", `{"endpoint_id":"` + id + `"}`, 403},
		{srv, viewer, "GET", "/api/v1/accounts", "", 403},
		{srv, admin, "POST", "/api/v1/accounts", `{"endpoint_id":"not an id"}`, 400},
		{srv, admin, "POST", "/api/v1/accounts", `{"endpoint_id":"` + id + `","credential":"magic"}`, 400},
		{srv, admin, "POST", "/api/v1/accounts", `{"endpoint_id":"` + id + `","extra":1}`, 400},
		{srv, admin, "POST", "/api/v1/accounts", `{"endpoint_id":"` + id + `"}`, 201},
		{srv, admin, "POST", "/api/v1/accounts", `{"endpoint_id":"` + id + `","credential":"certificate"}`, 201},
		{srv, admin, "GET", "/api/v1/accounts", "", 200},
		{srv, oper, "DELETE", "/api/v1/accounts/" + id, "", 403},
		{srv, admin, "DELETE", "/api/v1/accounts/" + id, "", 204},
		{srv, admin, "DELETE", "/api/v1/accounts/" + id, "", 404},
		{none, admin, "GET", "/api/v1/accounts", "", 501},
		{none, admin, "POST", "/api/v1/accounts", `{"endpoint_id":"` + id + `"}`, 501},
	}
	for i, tt := range tests {
		got, body := call(t, tt.srv, tt.token, tt.method, tt.path, tt.body)
		if got != tt.want {
			t.Errorf("%d: %s %s: %d, want %d (%s)", i, tt.method, tt.path, got, tt.want, body)
		}
		if got == 201 {
			var cr api.Credentials
			if err := json.Unmarshal(body, &cr); err != nil || cr.EndpointID != id || cr.Topic != "usp/agent/"+id {
				t.Errorf("%d: credentials %s", i, body)
			}
		}
	}
}
