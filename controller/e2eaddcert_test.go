package controller_test

import (
	"context"
	"crypto/tls"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// TestSessionsTLS12AddedCA: an Agent's TLS12 sessions trust the CAs
// added with Device.LocalAgent.AddCertificate(), as its MTPs' TLS does
// [R-E2E.43], [R-SEC.2]. A Controller whose certificate comes from
// another CA cannot establish a session: the TLS handshake fails, the
// Record is failed [R-E2E.41] and nothing is answered. Once the
// Controller has added its CA (outside a session), a new session is
// established and answers, without a restart of the Agent; once the CA's
// row is deleted, new sessions fail again.
func TestSessionsTLS12AddedCA(t *testing.T) {
	agentPKI := testenv.NewPKI(t, ctrlID)
	ctrlPKI := testenv.NewPKI(t, ctrlID) // the CA the Agent does not know yet
	u, _ := url.Parse("urn:bbf:usp:id:" + agentID)
	agentCert := agentPKI.Issue(t, agentID, []*url.URL{u}, nil, nil)
	r := startControllerWith(t, nil, controller.Options{E2ETLS: &tls.Config{Certificates: []tls.Certificate{ctrlPKI.Client}, RootCAs: agentPKI.CAPool}})
	startAgentTLS(t, r.url, &tls.Config{Certificates: []tls.Certificate{agentCert}, RootCAs: agentPKI.CAPool})
	waitOnline(t, r.c, true)
	tls12 := controller.SessionSettings{Policy: controller.SessionsRequire, Config: e2e.Config{Security: record.PayloadSecurityTLS12}}
	ctx := context.Background()

	r.c.SetSessions(agentID, tls12)
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	resp, err := r.c.Do(short, agentID, get("Device.DeviceInfo.ModelName"))
	cancel()
	if err == nil {
		t.Fatalf("answered in a TLS12 session with a Controller of an unknown CA: %v", resp)
	}
	if _, up := r.c.SessionState(agentID); up {
		t.Fatal("a TLS12 session established with a Controller of an unknown CA")
	}

	r.c.SetSessions(agentID, controller.SessionSettings{Policy: controller.SessionsOff})
	add := &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: "Device.LocalAgent.AddCertificate()", CommandKey: "ca",
		SendResp: true, InputArgs: map[string]string{"Alias": "controller-ca", "Certificate": string(ctrlPKI.CAPEM)}}}}
	if resp, err := r.c.Do(ctx, agentID, add); err != nil || resp.GetBody().GetResponse().GetOperateResp() == nil {
		t.Fatalf("AddCertificate(): %v, %v", resp, err)
	}

	r.c.SetSessions(agentID, tls12)
	resp, err = r.c.Do(ctx, agentID, get("Device.DeviceInfo.ModelName", "Device.LocalAgent.Controller.1.E2ESession.Status"))
	if err != nil {
		t.Fatalf("after AddCertificate(): %v", err)
	}
	p := paramsOf(resp)
	if p["Device.DeviceInfo.ModelName"] != "m" || p["Device.LocalAgent.Controller.1.E2ESession.Status"] != "Up" {
		t.Fatalf("GetResp %v", p)
	}
	if sec, up := r.c.SessionState(agentID); sec != record.PayloadSecurityTLS12 || !up {
		t.Fatalf("session security %d, established %v", sec, up)
	}

	// Deleted, the CA is no longer trusted by new sessions.
	resp, err = r.c.Do(ctx, agentID, get("Device.LocalAgent.Certificate.*.Alias"))
	if err != nil {
		t.Fatal(err)
	}
	row := ""
	for path, v := range paramsOf(resp) {
		if v == "controller-ca" {
			row = strings.TrimSuffix(path, "Alias")
		}
	}
	del := &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: row + "Delete()", CommandKey: "del", SendResp: true}}}
	if resp, err := r.c.Do(ctx, agentID, del); row == "" || err != nil || resp.GetBody().GetResponse().GetOperateResp() == nil {
		t.Fatalf("%sDelete(): %v, %v", row, resp, err)
	}
	r.c.SetSessions(agentID, tls12) // a new session
	short, cancel = context.WithTimeout(ctx, 3*time.Second)
	resp, err = r.c.Do(short, agentID, get("Device.DeviceInfo.ModelName"))
	cancel()
	if err == nil {
		t.Fatalf("answered in a new TLS12 session after the CA was deleted: %v", resp)
	}
}
