//go:build !usp_device

package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/pki"
)

// accountAuth checks Agents at a Controller's WebSocket server against the
// embedded broker's accounts, so that one credential per Agent serves
// every MTP:
//   - a client certificate issued by the Controller's CA holds only while
//     its account has it (usp agents revoke ends it); one from another CA
//     the server trusts, naming the Agent, holds as it is [R-SEC.0a];
//   - HTTP Basic credentials in the handshake, with the Endpoint ID as
//     user name (see basicAuth), hold when they are the account's
//     password;
//   - anything else is not authenticated: accepted as only claimed (and
//     then subject to the MTP's identity policy), or refused with 401 when
//     credentials were offered and are wrong.
func accountAuth(accts *broker.Accounts, ca *pki.CA) ws.AuthFunc {
	return func(ctx context.Context, r *http.Request, eid string, certs []*x509.Certificate) error {
		if len(certs) > 0 {
			leaf := certs[0]
			if ca != nil && bytes.Equal(leaf.RawIssuer, ca.Certificate().RawSubject) {
				if accts.VerifyCertificate(eid, leaf) {
					return nil
				}
				return fmt.Errorf("%w: certificate of %s revoked or unknown", ws.ErrForbidden, eid)
			}
			if endpoint.InCertificate(leaf, eid) {
				return nil
			}
		}
		user, pass, ok := basicAuth(r)
		if !ok {
			return ws.ErrAnonymous
		}
		if user != eid || !accts.VerifyPassword(eid, []byte(pass)) {
			return errors.New("bad user name or password")
		}
		return nil
	}
}

// basicAuth returns the HTTP Basic credentials of r. An Endpoint ID holds
// colons, so the user name ends at the last colon rather than the first
// (the passwords usp agents add makes hold none).
func basicAuth(r *http.Request) (user, pass string, ok bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 6 || !strings.EqualFold(h[:6], "Basic ") {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(h[6:])
	if err != nil {
		return "", "", false
	}
	i := bytes.LastIndexByte(b, ':')
	if i < 0 {
		return "", "", false
	}
	return string(b[:i]), string(b[i+1:]), true
}
