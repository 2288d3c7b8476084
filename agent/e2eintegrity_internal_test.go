package agent

import (
	"crypto/x509"
	"testing"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
)

// TestMTPProtects: a Record is protected by the MTP when it came over TLS
// with a verified certificate that is the sender's or a broker's
// [R-E2E.28].
func TestMTPProtects(t *testing.T) {
	cert := []*x509.Certificate{{}}
	rec := &record.Record{FromID: "proto::ctl"}
	for _, tc := range []struct {
		name string
		from mtp.Peer
		want bool
	}{
		{"plain", mtp.Peer{}, false},
		{"claimed endpoint, no TLS", mtp.Peer{EndpointID: "proto::ctl"}, false},
		{"sender's certificate", mtp.Peer{EndpointID: "proto::ctl", Authenticated: true, Certs: cert}, true},
		{"another endpoint's certificate", mtp.Peer{EndpointID: "proto::other", Authenticated: true, Certs: cert}, false},
		{"unauthenticated endpoint over TLS", mtp.Peer{EndpointID: "proto::ctl", Certs: cert}, false},
		{"broker's certificate", mtp.Peer{Address: "usp/ctl", Certs: cert}, true},
	} {
		if got := mtpProtects(mtp.Inbound{From: tc.from}, rec); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
