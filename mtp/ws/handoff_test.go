package ws_test

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// handOffer is what the Agent looks for in a transport to answer small
// reads where it gets them.
type handOffer interface{ HandOff() }

var (
	_ handOffer = (*ws.Client)(nil)
	_ handOffer = (*ws.Server)(nil)
)

// handOffPair connects a Client and a Server on loopback. role says which
// side runs h, the Handler under test; the other side's Send sends to it.
// send sends one Record from the other side.
func handOffPair(t *testing.T, role string, h func(tr handOffer) mtp.Handler) (send func(string)) {
	t.Helper()
	onState, st := states()
	var srv *ws.Server
	var cli *ws.Client
	srv = listen(t, "127.0.0.1:0", &ws.Options{EndpointID: ctrlID, PingInterval: -1, OnState: onState})
	cli = ws.NewClient(&ws.Options{URL: "ws://" + srv.Addr().String() + "/usp", EndpointID: agentID, PingInterval: -1})
	if role == "server" {
		serve(t, srv, h(srv))
		serve(t, cli, nil)
		next(t, st, "StateUp")
		return func(m string) {
			if err := cli.Send(context.Background(), "", []byte(m)); err != nil {
				t.Error(err)
			}
		}
	}
	serve(t, srv, nil)
	serve(t, cli, h(cli))
	next(t, st, "StateUp")
	return func(m string) {
		if err := srv.Send(context.Background(), agentID, []byte(m)); err != nil {
			t.Error(err)
		}
	}
}

// TestHandOff: a Handler that calls HandOff and goes on running lets the
// Records behind its own in (the reading goes on in another goroutine); a
// Handler that does not call it holds them back until it returns, so that
// Records reach a Handler that keeps their order in the order they came.
// Both roles.
func TestHandOff(t *testing.T) {
	for _, tc := range []struct {
		role    string
		handOff bool
	}{
		{"client", true}, {"client", false}, {"server", true}, {"server", false},
	} {
		name := tc.role + "/without"
		if tc.handOff {
			name = tc.role + "/with"
		}
		t.Run(name, func(t *testing.T) {
			got := make(chan string, 4)
			overlapped := make(chan bool, 1)
			send := handOffPair(t, tc.role, func(tr handOffer) mtp.Handler {
				return mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) {
					m := string(in.Record)
					if m != "first" {
						got <- m
						return
					}
					if tc.handOff {
						tr.HandOff()
					}
					// Wait for the second Record while handling the first.
					select {
					case m2 := <-got:
						got <- m2
						overlapped <- true
					case <-time.After(200 * time.Millisecond):
						overlapped <- false
					}
				})
			})
			send("first")
			send("second")
			if o := next(t, overlapped, "the first Handler"); o != tc.handOff {
				t.Errorf("second Record handled while the first Handler ran: %v, want %v", o, tc.handOff)
			}
			if m := next(t, got, "the second Record"); m != "second" {
				t.Errorf("got %q", m)
			}
			// The reading goes on after the hand-over, in order.
			for _, m := range []string{"third", "fourth"} {
				send(m)
				if g := next(t, got, m); g != m {
					t.Errorf("got %q, want %q", g, m)
				}
			}
		})
	}
}

// TestHandOffReject: a Handler that handed the reading over and then
// rejects its Record still closes the connection with 1003 [R-WS.16].
func TestHandOffReject(t *testing.T) {
	onState, st := states()
	var srv *ws.Server
	h := mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) {
		if string(in.Record) == "garbage" {
			srv.HandOff()
			time.Sleep(20 * handOffWait)
			in.Reject("USP Record cannot be extracted")
		}
	})
	srv = listen(t, "127.0.0.1:0", &ws.Options{OnState: onState})
	serve(t, srv, h)
	c, _, err := rawDial(t, "ws://"+srv.Addr().String()+"/?eid=doc::x", nil, nil, ws.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	next(t, st, "StateUp")
	if err := c.Write(context.Background(), websocket.MessageBinary, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, c); code != websocket.StatusUnsupportedData {
		t.Errorf("close status %v, want 1003", code)
	}
	next(t, st, "StateDown")
}

// handOffWait is at least the delay after which a Handler that called
// HandOff hands the reading over.
const handOffWait = time.Millisecond

// TestServerHandOffAmbiguous: while the Handlers of two connections run at
// once, the Server cannot tell which one calls HandOff and hands nothing
// over: neither connection's next Record comes in before its Handler
// returns.
func TestServerHandOffAmbiguous(t *testing.T) {
	var srv *ws.Server
	entered := make(chan string, 2)
	release := make(chan struct{})
	got := make(chan string, 8)
	h := mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) {
		m := string(in.Record)
		if m != "first" {
			got <- in.From.EndpointID + " " + m
			return
		}
		entered <- in.From.EndpointID
		<-release // both Handlers run now
		srv.HandOff()
		select {
		case m2 := <-got:
			t.Errorf("%s handled while a first Handler ran", m2)
		case <-time.After(50 * handOffWait):
		}
	})
	onState, st := states()
	srv = listen(t, "127.0.0.1:0", &ws.Options{EndpointID: ctrlID, PingInterval: -1, OnState: onState})
	serve(t, srv, h)
	var clients []*ws.Client
	for _, id := range []string{"doc::a", "doc::b"} {
		c := ws.NewClient(&ws.Options{URL: "ws://" + srv.Addr().String() + "/usp", EndpointID: id, PingInterval: -1})
		serve(t, c, nil)
		next(t, st, "StateUp")
		clients = append(clients, c)
	}
	for _, c := range clients {
		if err := c.Send(context.Background(), "", []byte("first")); err != nil {
			t.Fatal(err)
		}
	}
	next(t, entered, "a first Handler")
	next(t, entered, "the other first Handler")
	for _, c := range clients {
		if err := c.Send(context.Background(), "", []byte("second")); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * handOffWait) // the second Records are on their way
	close(release)
	for range clients {
		next(t, got, "a second Record")
	}
}
