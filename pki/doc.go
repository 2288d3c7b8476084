// Package pki is the Controller's own certificate authority: a CA key and
// self-signed certificate kept in the data directory (files of mode
// 0600), which issues
//
//   - client certificates for Agents: ECDSA P-256, the Agent's Endpoint
//     ID in a urn:bbf:usp:id: URI subjectAltName [R-SEC.0a], [R-SEC.10],
//     so that a broker or Controller that verifies the certificate knows
//     the Endpoint ID it authenticates [R-SEC.9], [R-SEC.10a];
//   - a server certificate for the Controller's listeners (embedded MQTT
//     broker, WebSocket) when none is configured.
//
// It imports no uspkit package but endpoint.
//
//	ca, err := pki.Open(dataDir)
//	issued, err := ca.IssueAgent("os::012345-SERIAL1", 0) // DefaultAgentValidity
//	os.WriteFile("agent.crt", issued.CertPEM, 0o644)
//	os.WriteFile("agent.key", issued.KeyPEM, 0o600)
//	srv, err := ca.ServerCertificate([]string{"localhost", "127.0.0.1"})
//	tlsConf := &tls.Config{Certificates: []tls.Certificate{srv}, ClientCAs: ca.Pool(),
//		ClientAuth: tls.VerifyClientCertIfGiven}
package pki
