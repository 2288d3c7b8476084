package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/uspkit/uspkit/controller/api"
)

// TestWithEmbeddedBroker: a Controller configured with an
// embedded_broker section runs the broker, subscribes there, and serves
// its Agent accounts on the REST API; an account made there logs in as
// its Endpoint ID.
func TestWithEmbeddedBroker(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := &controllerConfig{EndpointID: "proto::ctl-embedded", Data: t.TempDir(), HTTP: "127.0.0.1:0", WebSocket: "127.0.0.1:0"}
	up := make(chan struct{})
	eb, extra, err := withEmbeddedBroker(ctx, cfg, &embeddedBrokerConfig{Listen: "127.0.0.1:0"}, log, up)
	if err != nil {
		t.Fatal(err)
	}
	defer eb.close()
	rc, err := startController(ctx, cfg, log, extra...)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.closer()
	done := make(chan error, 1)
	go func() { done <- rc.run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-up:
	case <-time.After(15 * time.Second):
		t.Fatal("the controller did not subscribe at its embedded broker")
	}
	tok, err := os.ReadFile(rc.token)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(api.AccountBody{EndpointID: "os::012345-EMB1"})
	req, _ := http.NewRequest("POST", rc.api+"/api/v1/accounts", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cr api.Credentials
	if err := json.NewDecoder(resp.Body).Decode(&cr); err != nil || resp.StatusCode != 201 {
		t.Fatalf("POST /api/v1/accounts: %d %v", resp.StatusCode, err)
	}
	nc, err := net.Dial("tcp", eb.brk.Addrs().TCP)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(nc)})
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	ca, err := c.Connect(cctx, &paho.Connect{ClientID: "e1", CleanStart: true, KeepAlive: 30,
		Username: cr.Username, UsernameFlag: true, Password: []byte(cr.Password), PasswordFlag: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho.Disconnect{})
	if got := ca.Properties.User.Get("subscribe-topic"); got != "usp/agent/os::012345-EMB1/#" {
		t.Fatalf("subscribe-topic %q", got)
	}
}
