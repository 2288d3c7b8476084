package broker_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/uspkit/uspkit/internal/testenv"
)

// dialWS opens an MQTT-over-WebSocket connection as a net.Conn.
func dialWS(t testing.TB, url string, tc *tls.Config, subprotocols ...string) (net.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	o := &websocket.DialOptions{Subprotocols: subprotocols}
	if tc != nil {
		tr := &http.Transport{TLSClientConfig: tc}
		defer tr.CloseIdleConnections()
		o.HTTPClient = &http.Client{Transport: tr}
	}
	c, _, err := websocket.Dial(ctx, url, o)
	if err != nil {
		return nil, err
	}
	return websocket.NetConn(context.Background(), c, websocket.MessageBinary), nil
}

func TestWebSocket(t *testing.T) {
	o := uspOptions()
	o.WebSocketAddr = "127.0.0.1:0"
	b, _ := start(t, o)
	nc, err := dialWS(t, "ws://"+b.Addrs().WebSocket+"/mqtt", nil, "mqtt")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := connect5(t, dial5{conn: nc, id: "a1", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.subscribe(t, "usp/agent/agent1/#"); err != nil {
		t.Fatal(err)
	}
	ctl, _, err := connect3(t, b.Addrs().TCP, "c", "ctrl", "pwc", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait3(ctl.Publish("usp/agent/agent1", 1, false, "via tcp to ws")); err != nil {
		t.Fatal(err)
	}
	agent.expect(t, "usp/agent/agent1", []byte("via tcp to ws"))

	// Without the "mqtt" subprotocol the connection is closed [MQTT-6.0.0-3].
	bad, err := dialWS(t, "ws://"+b.Addrs().WebSocket+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connect5(t, dial5{conn: bad, id: "b", user: "agent1", pass: "pw1"}); err == nil {
		t.Fatal("connected without the mqtt subprotocol")
	}
}

// TestWebSocketMutualTLS: wss with a client certificate that authenticates.
func TestWebSocketMutualTLS(t *testing.T) {
	pki := testenv.NewPKI(t, "os::agentW")
	o := uspOptions()
	o.WebSocketAddr = "127.0.0.1:0"
	o.WebSocketTLS = pki.ServerConfig()
	b, lb := start(t, o)
	nc, err := dialWS(t, "wss://"+b.Addrs().WebSocket+"/", pki.ClientConfig(), "mqtt")
	if err != nil {
		t.Fatal(err)
	}
	c, err := connect5(t, dial5{conn: nc, id: "w"})
	if err != nil {
		t.Fatalf("%v\n%s", err, lb)
	}
	if got := c.Connack.Properties.User.Get("subscribe-topic"); got != "usp/agent/os::agentW/#" {
		t.Fatalf("subscribe-topic %q", got)
	}
	if _, err := dialWS(t, "wss://"+b.Addrs().WebSocket+"/", &tls.Config{RootCAs: pki.CAPool}, "mqtt"); err == nil {
		t.Fatal("wss without a client certificate upgraded")
	}
}
