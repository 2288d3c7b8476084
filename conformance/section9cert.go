package conformance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// AltCertSetup is the alternate certificate of case 9.2 (TP-469 "Have an
// alternate certificate that the EUT hasn't seen"): the runner adds Trust
// to the Agent with Device.LocalAgent.AddCertificate(), then connects
// again presenting Cert.
type AltCertSetup struct {
	// Cert is the runner's alternate TLS client certificate, with its
	// key, naming the runner's Endpoint ID (Options.ControllerID) and
	// issued by a CA the Agent does not trust yet.
	Cert tls.Certificate
	// Trust is the certificate, PEM (RFC 7468), that the runner adds: the
	// CA that issued Cert, or Cert itself. "" means Cert's last
	// certificate.
	Trust string
}

// Case 9.2's names.
const (
	addCertCmd   = "Device.LocalAgent.AddCertificate()"
	certTable    = "Device.LocalAgent.Certificate."
	addCertAlias = "addedCert" // the plan's Alias
)

// section9Cert implements 9.2.
func section9Cert() map[string]caseFunc {
	return map[string]caseFunc{
		"9.2": {wait: 2 * gateIdle, run: addCertificate},
	}
}

// trustPEM returns the PEM certificate to add and its parsed form.
func (s *AltCertSetup) trustPEM() (string, *x509.Certificate, error) {
	text := s.Trust
	if text == "" {
		if len(s.Cert.Certificate) == 0 {
			return "", nil, errors.New("the alternate certificate is empty")
		}
		last := s.Cert.Certificate[len(s.Cert.Certificate)-1]
		text = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: last}))
	}
	b, _ := pem.Decode([]byte(text))
	if b == nil || b.Type != "CERTIFICATE" {
		return "", nil, errors.New("the certificate to add is not a PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return "", nil, fmt.Errorf("the certificate to add: %w", err)
	}
	return text, c, nil
}

// addCertificate is 9.2: the Agent takes a certificate with
// Device.LocalAgent.AddCertificate() (OperateResponse, metric 1), accepts
// a connection of the Controller presenting its alternate certificate,
// issued by the added CA (metric 2), lists the entry under the plan's
// Alias in Device.LocalAgent.Certificate (metric 3), and deletes it with
// Certificate.{i}.Delete() (metric 4). The runner first checks that the
// Agent does not already accept the alternate certificate, as the setup
// requires, and leaves the Agent without the added entry.
//
// The case needs the Agent's WebSocket server with mutual TLS: it is the
// MTP over which the Agent authenticates the Controller's own
// certificate (over MQTT and STOMP the runner's certificate goes to the
// broker, and with the Agent as WebSocket client the runner presents a
// server certificate, which this runner does not swap).
func addCertificate(t *T) {
	alt := t.r.o.AltCert
	if alt == nil {
		t.Skipf("needs an alternate certificate for the runner, from a CA the agent does not trust (usp conformance --alt-cert, --alt-key, --alt-ca)")
	}
	w := t.r.o.WebSocket
	if w == nil || w.Gate == nil || !w.agentServes() {
		t.Skipf("needs the agent's WebSocket server with mutual TLS (usp conformance --mtp ws --url wss://…): the MTP over which the agent authenticates the controller's certificate")
	}
	if w.TLS == nil || !strings.HasPrefix(w.URL, "wss:") {
		t.Skipf("needs TLS between the runner and the agent's WebSocket server (a wss:// URL and a certificate for the runner)")
	}
	certPEM, cert, err := alt.trustPEM()
	if err != nil {
		t.Fatalf("alternate certificate: %v", err)
	}
	t.need(addCertCmd, certTable+"{i}.Delete()")
	altTLS := w.TLS.Clone()
	// Sent whatever CAs the server names as acceptable: with the
	// certificate itself added, its issuer is not one of them.
	altTLS.Certificates = nil
	altTLS.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &alt.Cert, nil }

	t.dropAddedCert(cert) // left by an interrupted run
	// Setup: the agent has not seen the alternate certificate.
	if c, err := t.dialAlt(w.URL, altTLS); err == nil {
		c.close()
		t.Skipf("the agent already accepts the runner's alternate certificate: the setup needs one it has not seen")
	}

	// Step 1, metric 1.
	res := t.operateResp(t.Do(operateReq(addCertCmd, "tp469-"+t.id, true, map[string]string{"Alias": addCertAlias, "Certificate": certPEM})))
	t.Check(len(res.GetOperationResults()) == 1, "AddCertificate(): %d operation results, want 1", len(res.GetOperationResults()))
	if f := res.GetOperationResults()[0].GetCmdFailure(); f != nil {
		t.Fatalf("AddCertificate() failed: %d %s", f.GetErrCode(), f.GetErrMsg())
	}
	t.Cleanup(func() { t.dropAddedCert(cert) })

	// Steps 2 and 3, metric 2: a new connection with the new certificate.
	alts := *w
	alts.TLS = altTLS
	x := t.takeOver(&alts)
	x.w.Gate.cut()
	var c *wsConn
	deadline := time.Now().Add(t.r.o.ReplyTimeout)
	for {
		c, err = x.dialOnce()
		if err == nil {
			break
		}
		t.Check(time.Now().Before(deadline), "the agent refused the controller's connection with the alternate certificate after AddCertificate() added %q (issuer %q): %v",
			cert.Subject.String(), cert.Issuer.String(), err)
		t.sleep(250 * time.Millisecond)
	}

	// Step 4, metric 3, over the new connection.
	get := x.request(c, getReq(certTable))
	t.Check(get.GetBody().GetResponse().GetGetResp() != nil, "Get %s: expected a GetResp, got %v", certTable, brief(get))
	inst := ""
	for path, v := range flat(get.GetBody().GetResponse().GetGetResp()) {
		if strings.HasSuffix(path, ".Alias") && v == addCertAlias {
			inst = strings.TrimSuffix(path, "Alias")
		}
	}
	t.Check(inst != "", "the GetResponse of %s has no instance with Alias %q", certTable, addCertAlias)

	// Step 5, metric 4.
	del := x.request(c, operateReq(inst+"Delete()", "tp469-"+t.id+"-del", true, nil))
	dr := del.GetBody().GetResponse().GetOperateResp()
	t.Check(dr != nil, "%sDelete(): expected an OperateResp, got %v", inst, brief(del))
	t.Check(len(dr.GetOperationResults()) == 1 && dr.GetOperationResults()[0].GetCmdFailure() == nil, "%sDelete() failed: %v", inst, dr)
	x.end(true)
	t.Check(!t.exists(inst), "%s is still listed after its Delete() succeeded", inst)
}

// dialAlt opens one WebSocket connection to the Agent's server with cfg.
func (t *T) dialAlt(url string, cfg *tls.Config) (*wsConn, error) {
	ctx, cancel := context.WithTimeout(t.ctx, t.r.o.ReplyTimeout)
	defer cancel()
	c, _, err := dialWS(ctx, url, cfg, t.c.id)
	return c, err
}

// dropAddedCert deletes the entries of Device.LocalAgent.Certificate with
// the plan's Alias or with cert's SerialNumber and Issuer, over the
// Controller's usual session; failures are logged.
func (t *T) dropAddedCert(cert *x509.Certificate) {
	m, err := t.c.do(t.ctx, getReq(certTable), t.r.o.ReplyTimeout)
	if err != nil || m.GetBody().GetResponse().GetGetResp() == nil {
		return
	}
	vals := flat(m.GetBody().GetResponse().GetGetResp())
	for path, v := range vals {
		inst, ok := strings.CutSuffix(path, "Alias")
		if !ok || !(v == addCertAlias || sameCert(cert, vals[inst+"SerialNumber"], vals[inst+"Issuer"])) {
			continue
		}
		r, err := t.c.do(t.ctx, operateReq(inst+"Delete()", "tp469-"+t.id+"-cleanup", true, nil), t.r.o.ReplyTimeout)
		if err != nil || r.GetBody().GetResponse().GetOperateResp() == nil {
			t.c.log.Warn("could not delete the added certificate", "case", t.id, "path", inst, "err", err)
		}
	}
}

// request sends req over c and returns the Agent's answer to it.
func (x *wsCase) request(c *wsConn, req *wire.Request) *wire.Msg {
	id := x.send(c, req, 1)
	deadline := time.Now().Add(x.t.r.o.ReplyTimeout)
	for {
		ev, err := x.awaitUntil(c, deadline, opBinary)
		x.t.Check(err == nil, "no answer to the %s over the new connection: %v", wire.RequestMsgType(req), err)
		var rec record.Record
		if record.Decode(ev.payload, &rec, nil) != nil || rec.Type != record.TypeNoSessionContext || rec.ToID != x.t.c.id || rec.FromID != x.t.c.agentID {
			continue
		}
		var m wire.Msg
		if protoUnmarshal(rec.Payload, &m) != nil || m.GetHeader().GetMsgId() != id {
			continue
		}
		return &m
	}
}

// sameCert reports whether a row's SerialNumber and Issuer are cert's.
// TR-181 leaves their format open: the serial number is taken as
// hexadecimal bytes with or without colons, or as a decimal number, and
// the Issuer must name the issuer's common name.
func sameCert(cert *x509.Certificate, serial, issuer string) bool {
	s := strings.ToLower(strings.ReplaceAll(serial, ":", ""))
	h := hex.EncodeToString(cert.SerialNumber.Bytes())
	serialOK := strings.TrimLeft(s, "0") == strings.TrimLeft(h, "0") || serial == cert.SerialNumber.String()
	return serial != "" && serialOK && strings.Contains(issuer, cert.Issuer.CommonName)
}
