package agent

import (
	"context"
	"testing"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/wire"
)

// nopTransport stands for an MQTT client; only its identity matters here.
type nopTransport struct{ name string }

func (*nopTransport) Serve(context.Context, mtp.Handler) error   { return nil }
func (*nopTransport) Send(context.Context, string, []byte) error { return nil }
func (*nopTransport) Close() error                               { return nil }

// TestRetainResponseRow: a Response goes retained per the
// PublishRetainResponse of the Controller's MQTT MTP row whose
// MQTT.Reference names the client the request came through, else of its
// first MQTT row; an Error Message, another MTP, an unknown Controller
// and a Controller without an MQTT row get no RETAIN (TR-181
// Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.PublishRetainResponse).
func TestRetainResponseRow(t *testing.T) {
	c1, c2, fixed := &nopTransport{"c1"}, &nopTransport{"c2"}, &nopTransport{"fixed"}
	a := &Agent{
		ctrls: map[string]*controller{
			"ctrl-a": {endpointID: "ctrl-a", mtps: []controllerMTP{
				{protocol: "WebSocket", retainResponse: true},
				{protocol: "MQTT", client: "Device.MQTT.Client.1.", retainResponse: false},
				{protocol: "MQTT", client: "Device.MQTT.Client.2.", retainResponse: true},
			}},
			"ctrl-b": {endpointID: "ctrl-b", mtps: []controllerMTP{
				{protocol: "MQTT", client: "Device.MQTT.Client.9.", retainResponse: true},
			}},
			"ctrl-ws": {endpointID: "ctrl-ws", mtps: []controllerMTP{{protocol: "WebSocket", retainResponse: true}}},
		},
		linkList: []*link{
			{MTP: MTP{Protocol: "MQTT", Transport: c1}, mqtt: "Device.MQTT.Client.1."},
			{MTP: MTP{Protocol: "MQTT", Transport: c2}, mqtt: "Device.MQTT.Client.2."},
			{MTP: MTP{Protocol: "MQTT", Transport: fixed}},
		},
	}
	a.retainAny.Store(true) // as reload sets it when a row has PublishRetainResponse true
	resp := &wire.Msg{Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{}}}}
	errAnswer := errorMsg("1", &wire.Error{ErrCode: 7000})
	for _, tc := range []struct {
		name     string
		protocol string
		t        mtp.Transport
		to       string
		reply    *wire.Msg
		want     bool
	}{
		{"row of the client, false", "MQTT", c1, "ctrl-a", resp, false},
		{"row of the client, true", "MQTT", c2, "ctrl-a", resp, true},
		{"no row of the client: first MQTT row", "MQTT", fixed, "ctrl-a", resp, false},
		{"no row of the client: first MQTT row, true", "MQTT", c1, "ctrl-b", resp, true},
		{"error message", "MQTT", c2, "ctrl-a", errAnswer, false},
		{"other MTP", "WebSocket", c2, "ctrl-a", resp, false},
		{"no MQTT row", "MQTT", c2, "ctrl-ws", resp, false},
		{"unknown controller", "MQTT", c2, "nobody", resp, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := a.retainResponse(context.Background(), tc.protocol, tc.t, tc.to, tc.reply)
			if got := mtp.Retain(ctx); got != tc.want {
				t.Errorf("retain %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRetainResponseNoneSet: with no row asking for it, an answer is not
// retained without a look at the rows (the flag reload keeps).
func TestRetainResponseNoneSet(t *testing.T) {
	a := &Agent{ctrls: map[string]*controller{"ctrl": {mtps: []controllerMTP{{protocol: "MQTT", retainResponse: true}}}}}
	resp := &wire.Msg{Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{}}}}
	if mtp.Retain(a.retainResponse(context.Background(), "MQTT", nil, "ctrl", resp)) {
		t.Error("retained with retainAny false")
	}
	a.retainAny.Store(true)
	if !mtp.Retain(a.retainResponse(context.Background(), "MQTT", nil, "ctrl", resp)) {
		t.Error("not retained with retainAny true")
	}
}
