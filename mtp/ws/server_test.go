package ws_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// startServer serves a Server on a loopback port and returns its ws:// base.
func startServer(t *testing.T, o *ws.Options, h mtp.Handler) (*ws.Server, string) {
	t.Helper()
	s := listen(t, "127.0.0.1:0", o)
	serve(t, s, h)
	return s, "ws://" + s.Addr().String()
}

// TestServerSubprotocol: a handshake that does not offer v1.usp is refused
// [R-WS.12a]; one that offers it among others gets it [R-WS.11].
func TestServerSubprotocol(t *testing.T) {
	_, base := startServer(t, &ws.Options{EndpointID: ctrlID}, nil)
	for _, tc := range []struct {
		name   string
		protos []string
		ok     bool
	}{
		{"none", nil, false},
		{"other", []string{"v2.usp"}, false},
		{"case differs", []string{"V1.USP"}, false},
		{"v1.usp", []string{"v1.usp"}, true},
		{"among others", []string{"chat", "v1.usp"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := rawDial(t, base+"/?eid=doc::x", nil, nil, tc.protos...)
			if !tc.ok {
				if err == nil || statusOf(resp) != http.StatusBadRequest {
					t.Fatalf("handshake offering %q: err %v, status %d; want 400", tc.protos, err, statusOf(resp))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Subprotocol() != ws.Subprotocol {
				t.Errorf("subprotocol %q", c.Subprotocol())
			}
		})
	}
}

// TestServerEndpointID covers how the server names a client: the eid
// query [R-WS.10b], else the deprecated extension [R-WS.10a] whose absence
// is no error [R-WS.11c], else refusal; and when it answers with its own
// extension [R-WS.11a].
func TestServerEndpointID(t *testing.T) {
	onState, st := states()
	_, base := startServer(t, &ws.Options{EndpointID: ctrlID, OnState: onState}, nil)
	const ext = `bbf-usp-protocol; eid="doc::from-ext"`
	for _, tc := range []struct {
		name, query, ext string
		want             string // Endpoint ID, "" for a refused handshake
		wantExt          bool   // the response carries the server's extension
	}{
		{"query only", "eid=doc::q", "", "doc::q", false},
		{"query escaped, among others", "a=1&eid=doc%3A%3Aq&b=2", "", "doc::q", false},
		{"extension only", "", ext, "doc::from-ext", true},
		{"extension among others", "", `permessage-foo, ` + ext, "doc::from-ext", true},
		{"query wins over extension", "eid=doc::q", ext, "doc::q", true},
		{"extension without eid, query", "eid=doc::q", "bbf-usp-protocol", "doc::q", true},
		{"neither", "", "", "", false},
		{"extension without eid", "", "bbf-usp-protocol", "", false},
		{"empty eid", "eid=", "", "", false},
		{"control character", "eid=doc::%0a", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.ext != "" {
				hdr.Set("Sec-WebSocket-Extensions", tc.ext)
			}
			c, resp, err := rawDial(t, base+"/usp?"+tc.query, hdr, nil, ws.Subprotocol)
			if tc.want == "" {
				if err == nil || statusOf(resp) != http.StatusBadRequest {
					t.Fatalf("err %v, status %d; want 400", err, statusOf(resp))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := resp.Header.Get("X-Test-Extensions")
			if want := `bbf-usp-protocol; eid="` + ctrlID + `"`; tc.wantExt && got != want {
				t.Errorf("response extension %q, want %q", got, want)
			}
			if !tc.wantExt && got != "" {
				t.Errorf("response carries extension %q to a client that did not offer it", got)
			}
			ev := next(t, st, "StateUp")
			if ev.peer.EndpointID != tc.want || ev.peer.Address != tc.want {
				t.Errorf("peer %+v, want Endpoint ID and Address %q", ev.peer, tc.want)
			}
			c.Close(websocket.StatusNormalClosure, "")
			next(t, st, "StateDown")
		})
	}
}

// TestServerTextFrame: a text message is not a Record; the server closes
// with 1003 [R-WS.14], [R-WS.16].
func TestServerTextFrame(t *testing.T) {
	onState, st := states()
	_, base := startServer(t, &ws.Options{OnState: onState}, nil)
	c, _, err := rawDial(t, base+"/?eid=doc::x", nil, nil, ws.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	next(t, st, "StateUp")
	if err := c.Write(context.Background(), websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, c); code != websocket.StatusUnsupportedData {
		t.Errorf("close status %v, want 1003", code)
	}
	if ev := next(t, st, "StateDown"); !errors.Is(ev.err, ws.ErrTextFrame) {
		t.Errorf("StateDown error %v, want ErrTextFrame", ev.err)
	}
}

// TestServerRejectedRecord: a binary message the handler cannot extract a
// Record from (it calls Inbound.Reject) closes the connection with 1003
// [R-WS.16]; good Records before it are handled.
func TestServerRejectedRecord(t *testing.T) {
	onState, st := states()
	got := make(chan string, 4)
	h := mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		got <- string(in.Record)
		if string(in.Record) == "garbage" {
			in.Reject("USP Record cannot be extracted")
		}
	})
	_, base := startServer(t, &ws.Options{OnState: onState}, h)
	c, _, err := rawDial(t, base+"/?eid=doc::x", nil, nil, ws.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	next(t, st, "StateUp")
	for _, m := range []string{"good", "garbage"} {
		if err := c.Write(context.Background(), websocket.MessageBinary, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := next(t, got, "first record"), next(t, got, "second record"); a != "good" || b != "garbage" {
		t.Errorf("handled %q, %q", a, b)
	}
	if code := readClose(t, c); code != websocket.StatusUnsupportedData {
		t.Errorf("close status %v, want 1003", code)
	}
	if ev := next(t, st, "StateDown"); !errors.Is(ev.err, ws.ErrRejected) {
		t.Errorf("StateDown error %v, want ErrRejected", ev.err)
	}
}

// TestServerOversize: a message of MaxRecord bytes is a Record; one byte
// more closes the connection with 1009.
func TestServerOversize(t *testing.T) {
	const max = 1024
	onState, st := states()
	h, recs := collect()
	srv, base := startServer(t, &ws.Options{MaxRecord: max, OnState: onState}, h)
	c, _, err := rawDial(t, base+"/?eid=doc::x", nil, nil, ws.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	next(t, st, "StateUp")
	ctx := context.Background()
	if err := c.Write(ctx, websocket.MessageBinary, make([]byte, max)); err != nil {
		t.Fatal(err)
	}
	if in := next(t, recs, "record"); len(in.Record) != max {
		t.Fatalf("record of %d bytes, want %d", len(in.Record), max)
	}
	if err := srv.Send(ctx, "doc::x", make([]byte, max+1)); !errors.Is(err, mtp.ErrTooLarge) {
		t.Errorf("Send of %d bytes: %v, want ErrTooLarge", max+1, err)
	}
	if err := c.Write(ctx, websocket.MessageBinary, make([]byte, max+1)); err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, c); code != websocket.StatusMessageTooBig {
		t.Errorf("close status %v, want 1009", code)
	}
	if ev := next(t, st, "StateDown"); !errors.Is(ev.err, mtp.ErrTooLarge) {
		t.Errorf("StateDown error %v, want ErrTooLarge", ev.err)
	}
}

// TestServerReplacesSession: a second connection of the same Endpoint ID
// replaces the first, which is closed with 1000 [R-WS.4].
func TestServerReplacesSession(t *testing.T) {
	onState, st := states()
	srv, base := startServer(t, &ws.Options{OnState: onState}, nil)
	old, _, err := rawDial(t, base+"/?eid=doc::x", nil, nil, ws.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	next(t, st, "first StateUp")
	cur, _, err := rawDial(t, base+"/?eid=doc::x", nil, nil, ws.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, old); code != websocket.StatusNormalClosure {
		t.Errorf("old session closed with %v, want 1000", code)
	}
	var up, down int
	for up+down < 2 {
		ev := next(t, st, "state change")
		switch {
		case ev.state == mtp.StateUp:
			up++
		case errors.Is(ev.err, ws.ErrReplaced):
			down++
		default:
			t.Fatalf("unexpected %v (%v)", ev.state, ev.err)
		}
	}
	ctx := context.Background()
	if err := srv.Send(ctx, "doc::x", []byte("to the new one")); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if _, b, err := cur.Read(rctx); err != nil || !bytes.Equal(b, []byte("to the new one")) {
		t.Fatalf("new session read %q, %v", b, err)
	}
}

// TestServerSend checks Send's errors.
func TestServerSend(t *testing.T) {
	srv, _ := startServer(t, nil, nil)
	ctx := context.Background()
	if err := srv.Send(ctx, "doc::nobody", []byte{1}); !errors.Is(err, mtp.ErrNoPeer) {
		t.Errorf("Send to an unknown peer: %v, want ErrNoPeer", err)
	}
	srv.Close()
	if err := srv.Send(ctx, "doc::nobody", []byte{1}); !errors.Is(err, mtp.ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
}

// TestServerKeepAlive: the server pings [R-WS.17] at PingInterval
// [R-WS.18] and drops a peer that does not answer.
func TestServerKeepAlive(t *testing.T) {
	const interval = 20 * time.Millisecond
	onState, st := states()
	_, base := startServer(t, &ws.Options{PingInterval: interval, OnState: onState}, nil)

	var pings counter
	ctx := context.Background()
	dctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	alive, _, err := websocket.Dial(dctx, base+"/?eid=doc::alive", &websocket.DialOptions{
		Subprotocols:   []string{ws.Subprotocol},
		OnPingReceived: func(context.Context, []byte) bool { pings.add(); return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer alive.CloseNow()
	alive.CloseRead(ctx) // reads, so pings are answered
	next(t, st, "StateUp")
	deadline := time.Now().Add(wait)
	for pings.get() < 5 && time.Now().Before(deadline) {
		time.Sleep(interval)
	}
	if n := pings.get(); n < 5 {
		t.Fatalf("%d pings, want 5 or more", n)
	}
	select {
	case ev := <-st:
		t.Fatalf("a peer that answers pings went %v: %v", ev.state, ev.err)
	default:
	}

	// A peer that never reads never answers.
	deaf, _, err := rawDial(t, base+"/?eid=doc::deaf", nil, nil, ws.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	_ = deaf
	next(t, st, "StateUp of the deaf peer")
	ev := next(t, st, "StateDown of the deaf peer")
	if ev.peer.EndpointID != "doc::deaf" || !errors.Is(ev.err, ws.ErrPingTimeout) {
		t.Errorf("%s went down with %v, want doc::deaf with ErrPingTimeout", ev.peer.EndpointID, ev.err)
	}
}

// TestServerMounted uses NewServer as a handler on the caller's mux: it
// refuses upgrades until Serve runs, then serves them.
func TestServerMounted(t *testing.T) {
	srv := ws.NewServer(&ws.Options{EndpointID: ctrlID})
	mux := http.NewServeMux()
	mux.Handle("/usp", srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	url := "ws" + hs.URL[len("http"):] + "/usp?eid=doc::x"
	if _, resp, err := rawDial(t, url, nil, nil, ws.Subprotocol); err == nil || statusOf(resp) != http.StatusServiceUnavailable {
		t.Fatalf("before Serve: err %v, status %d; want 503", err, statusOf(resp))
	}
	h, recs := collect()
	serve(t, srv, h)
	c, _, err := rawDial(t, url, nil, nil, ws.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(context.Background(), websocket.MessageBinary, []byte("rec")); err != nil {
		t.Fatal(err)
	}
	if in := next(t, recs, "record"); string(in.Record) != "rec" || in.From.EndpointID != "doc::x" {
		t.Errorf("got %q from %q", in.Record, in.From.EndpointID)
	}
}

// TestServerPath: a Server from Listen with Options.Path answers only there.
func TestServerPath(t *testing.T) {
	_, base := startServer(t, &ws.Options{Path: "/usp"}, nil)
	if _, resp, err := rawDial(t, base+"/other?eid=doc::x", nil, nil, ws.Subprotocol); err == nil || statusOf(resp) != http.StatusNotFound {
		t.Fatalf("other path: err %v, status %d; want 404", err, statusOf(resp))
	}
	if _, _, err := rawDial(t, base+"/usp?eid=doc::x", nil, nil, ws.Subprotocol); err != nil {
		t.Fatal(err)
	}
}
