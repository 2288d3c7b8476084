package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/uspkit/uspkit/endpoint"
)

// Accounts manages the embedded MQTT broker's Agent accounts, named by
// the Agents' Endpoint IDs. Implementations must be safe for concurrent
// use.
type Accounts interface {
	// List returns the accounts.
	List(ctx context.Context) ([]Account, error)
	// AddPassword creates the account if needed and gives it a new
	// generated password, returned in Credentials.Password; an older
	// password stops working.
	AddPassword(ctx context.Context, endpointID string) (*Credentials, error)
	// AddCertificate creates the account if needed and issues it a client
	// certificate and key from the Controller's CA.
	AddCertificate(ctx context.Context, endpointID string) (*Credentials, error)
	// Revoke deletes the account; its password and certificates no longer
	// log in and its connections are cut. ErrNoAccount if there is none.
	Revoke(ctx context.Context, endpointID string) error
}

// ErrNoAccount is what Accounts.Revoke returns for an unknown account.
var ErrNoAccount = errors.New("no such account")

// Account describes a broker account, without secrets.
type Account struct {
	EndpointID   string    `json:"endpoint_id"`
	Created      time.Time `json:"created"`
	Password     bool      `json:"password"`
	Certificates int       `json:"certificates"`
}

// Credentials are what an Agent needs to log in to the embedded broker.
// They are shown once: the broker keeps only a hash of the password, and
// never the certificate's key.
type Credentials struct {
	EndpointID string `json:"endpoint_id"`
	// Username is the MQTT user name (the Endpoint ID), with Password.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// Certificate and Key (PEM) are the client certificate, whose URI SAN
	// is urn:bbf:usp:id:<EndpointID>, and its private key; CA is the
	// certificate of the CA that signed it and the broker's.
	Certificate string `json:"certificate,omitempty"`
	Key         string `json:"key,omitempty"`
	CA          string `json:"ca,omitempty"`
	// Topic is the Agent's own topic on the broker.
	Topic string `json:"topic"`
}

// AccountBody is the body of POST /api/v1/accounts.
type AccountBody struct {
	EndpointID string `json:"endpoint_id"`
	// Credential is "password" (the default) or "certificate".
	Credential string `json:"credential"`
}

func (s *Server) accountRoutes() []route {
	return []route{
		{"GET", "/api/v1/accounts", "Agent accounts on the embedded MQTT broker", Admin, "", s.listAccounts},
		{"POST", "/api/v1/accounts", "Create an Agent account (or a new credential for it); the credentials are shown once", Admin, "AccountBody", s.addAccount},
		{"DELETE", "/api/v1/accounts/{id}", "Revoke an Agent account: its credentials stop working and its connections are cut", Admin, "", s.revokeAccount},
	}
}

// accounts answers 501 when the Controller has no embedded broker.
func (s *Server) accounts(w http.ResponseWriter) Accounts {
	if s.opt.Accounts == nil {
		writeError(w, http.StatusNotImplemented, "this controller runs no embedded MQTT broker")
	}
	return s.opt.Accounts
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request) {
	a := s.accounts(w)
	if a == nil {
		return
	}
	list, err := a.List(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if list == nil {
		list = []Account{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": list})
}

func (s *Server) addAccount(w http.ResponseWriter, r *http.Request) {
	a := s.accounts(w)
	if a == nil {
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<12))
	var ab AccountBody
	if err == nil {
		err = decode(b, &ab)
	}
	if err == nil {
		err = endpoint.Validate(ab.EndpointID)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var cr *Credentials
	switch ab.Credential {
	case "", "password":
		cr, err = a.AddPassword(r.Context(), ab.EndpointID)
	case "certificate":
		cr, err = a.AddCertificate(r.Context(), ab.EndpointID)
	default:
		writeError(w, http.StatusBadRequest, `credential: "password" or "certificate"`)
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.opt.Logger.Info("broker account credential issued", "agent", ab.EndpointID, "credential", ab.Credential)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, cr)
}

func (s *Server) revokeAccount(w http.ResponseWriter, r *http.Request) {
	a := s.accounts(w)
	if a == nil {
		return
	}
	id := r.PathValue("id")
	switch err := a.Revoke(r.Context(), id); {
	case errors.Is(err, ErrNoAccount):
		writeError(w, http.StatusNotFound, "unknown account")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.opt.Logger.Info("broker account revoked", "agent", id)
	w.WriteHeader(http.StatusNoContent)
}
