package cli

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestTLSNoAbsoluteTime: tls no_absolute_time turns an MTP's certificate
// checks into ones without dates [R-SEC.19] (the handshakes themselves are
// tested in package agent and by TP-469 2.6), and e2e_tls refuses it.
func TestTLSNoAbsoluteTime(t *testing.T) {
	dir := t.TempDir()
	testenv.NewPKI(t, "proto::c").WriteFiles(t, dir)
	tests := []struct {
		name       string
		tc         tlsConfig
		server     bool
		clientAuth tls.ClientAuthType
		skip       bool // InsecureSkipVerify, the checks being the configuration's own
		verify     bool // VerifyConnection set
	}{
		{"server, with time", tlsConfig{Cert: dir + "/server.pem", Key: dir + "/server.key", CA: dir + "/ca.pem", ClientAuth: true}, true, tls.RequireAndVerifyClientCert, false, false},
		{"server, without time", tlsConfig{Cert: dir + "/server.pem", Key: dir + "/server.key", CA: dir + "/ca.pem", ClientAuth: true, NoAbsoluteTime: true}, true, tls.RequireAnyClientCert, false, true},
		{"client, with time", tlsConfig{CA: dir + "/ca.pem"}, false, tls.NoClientCert, false, false},
		{"client, without time", tlsConfig{CA: dir + "/ca.pem", NoAbsoluteTime: true}, false, tls.NoClientCert, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.tc.build(tt.server)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ClientAuth != tt.clientAuth || cfg.InsecureSkipVerify != tt.skip || (cfg.VerifyConnection != nil) != tt.verify {
				t.Errorf("ClientAuth %v InsecureSkipVerify %v VerifyConnection %v", cfg.ClientAuth, cfg.InsecureSkipVerify, cfg.VerifyConnection != nil)
			}
		})
	}
	e2e := &tlsConfig{Cert: dir + "/client.pem", Key: dir + "/client.key", CA: dir + "/ca.pem", NoAbsoluteTime: true}
	if _, err := e2e.e2e(); err == nil || !strings.Contains(err.Error(), "no_absolute_time") {
		t.Errorf("e2e_tls with no_absolute_time: %v", err)
	}
}

// TestCheckExpired: --expired-cert (TP-469 2.6) needs a --cert that has
// really expired.
func TestCheckExpired(t *testing.T) {
	dir := t.TempDir()
	pki := testenv.NewPKI(t, "proto::c")
	pki.WriteFiles(t, dir)
	testenv.WriteCert(t, dir, "expired", pki.IssueExpired(t, "proto::c"))
	tests := []struct {
		cert, key string
		ok        bool
	}{
		{dir + "/expired.pem", dir + "/expired.key", true},
		{dir + "/client.pem", dir + "/client.key", false},
		{"", "", false},
		{dir + "/missing.pem", dir + "/missing.key", false},
	}
	for _, tt := range tests {
		if err := checkExpired(tt.cert, tt.key, time.Now()); (err == nil) != tt.ok {
			t.Errorf("checkExpired(%q): %v, want ok %v", tt.cert, err, tt.ok)
		}
	}
}
