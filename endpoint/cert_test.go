package endpoint_test

import (
	"crypto/x509"
	"net/url"
	"testing"

	"github.com/uspkit/uspkit/endpoint"
)

func TestInCertificate(t *testing.T) {
	uri := func(s string) *url.URL { u, _ := url.Parse(s); return u }
	tests := []struct {
		name string
		cert *x509.Certificate
		id   string
		want bool
	}{
		{"urn match", &x509.Certificate{URIs: []*url.URL{uri("urn:bbf:usp:id:proto::agent-a")}}, "proto::agent-a", true},
		{"urn upper-case prefix", &x509.Certificate{URIs: []*url.URL{uri("URN:BBF:USP:ID:proto::agent-a")}}, "proto::agent-a", true},
		{"urn other agent", &x509.Certificate{URIs: []*url.URL{uri("urn:bbf:usp:id:proto::agent-b")}}, "proto::agent-a", false},
		{"second urn", &x509.Certificate{URIs: []*url.URL{uri("urn:bbf:usp:id:proto::x"), uri("urn:bbf:usp:id:proto::agent-a")}}, "proto::agent-a", true},
		{"fqdn by dNSName", &x509.Certificate{DNSNames: []string{"Ctl.Example.com"}}, "fqdn::ctl.example.com", true},
		{"dNSName for non-fqdn", &x509.Certificate{DNSNames: []string{"agent-a"}}, "proto::agent-a", false},
		{"common name ignored", &x509.Certificate{}, "proto::agent-a", false},
		{"nil", nil, "proto::agent-a", false},
		{"os wildcard serial [R-SEC.11]", &x509.Certificate{URIs: []*url.URL{uri("urn:bbf:usp:id:os::00D09E-*")}}, "os::00D09E-SN123", true},
		{"os wildcard, other OUI", &x509.Certificate{URIs: []*url.URL{uri("urn:bbf:usp:id:os::00D09E-*")}}, "os::00D09F-SN123", false},
		{"os wildcard OUI refused [R-SEC.12]", &x509.Certificate{URIs: []*url.URL{uri("urn:bbf:usp:id:os::*")}}, "os::00D09E-SN123", false},
		{"ops wildcard serial", &x509.Certificate{URIs: []*url.URL{uri("urn:bbf:usp:id:ops::00D09E-Router-*")}}, "ops::00D09E-Router-77", true},
		{"ops wildcard product class refused", &x509.Certificate{URIs: []*url.URL{uri("urn:bbf:usp:id:ops::00D09E-*")}}, "ops::00D09E-Router-77", false},
		{"oui wildcard", &x509.Certificate{URIs: []*url.URL{uri("urn:bbf:usp:id:oui:00D09E:GW*")}}, "oui:00D09E:GW42", true},
		{"proto wildcard refused [R-SEC.12]", &x509.Certificate{URIs: []*url.URL{uri("urn:bbf:usp:id:proto::*")}}, "proto::agent-a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := endpoint.InCertificate(tt.cert, tt.id); got != tt.want {
				t.Errorf("InCertificate = %v, want %v", got, tt.want)
			}
		})
	}
}
