package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/pki"
)

// The WebSocket servers accept an Agent's broker account credentials: its
// password as HTTP Basic credentials, or a certificate issued to it, until
// revoked.
func TestAccountAuth(t *testing.T) {
	dir := t.TempDir()
	accts, err := broker.OpenAccounts(filepath.Join(dir, "accounts.json"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.Open(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	const pwID, certID, otherID = "proto::pw-agent", "proto::cert-agent", "proto::other-ca"
	pass, err := accts.SetPassword(pwID)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.IssueAgent(certID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := accts.AddCertificate(certID, issued.Cert); err != nil {
		t.Fatal(err)
	}
	other := testenv.NewPKI(t, otherID)
	u, _ := url.Parse("urn:bbf:usp:id:" + otherID)
	otherCert := other.Issue(t, otherID, []*url.URL{u}, nil, nil).Leaf
	noID := other.Issue(t, "no-id", nil, nil, nil).Leaf
	auth := accountAuth(accts, ca)
	req := func(user, pw string) *httptestReq {
		r := httptest.NewRequest("GET", "/usp", nil)
		if user != "" {
			r.SetBasicAuth(user, pw)
		}
		return &httptestReq{r}
	}
	tests := []struct {
		name  string
		r     *httptestReq
		eid   string
		certs []*x509.Certificate
		want  error // nil, ws.ErrAnonymous, ws.ErrForbidden, or errBad for any other
	}{
		{"password", req(pwID, pass), pwID, nil, nil},
		{"wrong password", req(pwID, "nope"), pwID, nil, errBad},
		{"another agent's name", req(pwID, pass), certID, nil, errBad},
		{"no credential", req("", ""), pwID, nil, ws.ErrAnonymous},
		{"certificate issued to it", req("", ""), certID, []*x509.Certificate{issued.Cert}, nil},
		{"certificate of another CA naming it", req("", ""), otherID, []*x509.Certificate{otherCert}, nil},
		{"certificate naming no endpoint", req("", ""), otherID, []*x509.Certificate{noID}, ws.ErrAnonymous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkAuth(t, auth(context.Background(), tt.r.r, tt.eid, tt.certs), tt.want) })
	}
	if err := accts.Revoke(certID); err != nil {
		t.Fatal(err)
	}
	checkAuth(t, auth(context.Background(), req("", "").r, certID, []*x509.Certificate{issued.Cert}), ws.ErrForbidden)
}

type httptestReq struct{ r *http.Request }

var errBad = errors.New("refused")

func checkAuth(t *testing.T, got, want error) {
	t.Helper()
	switch {
	case want == nil && got != nil, want != nil && got == nil:
		t.Fatalf("got %v, want %v", got, want)
	case want == errBad && (errors.Is(got, ws.ErrAnonymous) || errors.Is(got, ws.ErrForbidden)):
		t.Fatalf("got %v, want a refusal (401)", got)
	case want != nil && want != errBad && !errors.Is(got, want):
		t.Fatalf("got %v, want %v", got, want)
	}
}
