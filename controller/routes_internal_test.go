package controller

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// fakeTransport records what is sent and fails while down.
type fakeTransport struct {
	mu   sync.Mutex
	down bool
	sent []string // addresses
}

func (f *fakeTransport) Serve(ctx context.Context, h mtp.Handler) error { <-ctx.Done(); return nil }
func (f *fakeTransport) Close() error                                   { return nil }
func (f *fakeTransport) Send(ctx context.Context, addr string, rec []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return mtp.ErrNoPeer
	}
	f.sent = append(f.sent, addr)
	return nil
}

func (f *fakeTransport) addrs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

func TestNameMTPs(t *testing.T) {
	tr := &fakeTransport{}
	tests := []struct {
		name  string
		mtps  []MTP
		names []string
		fail  bool
	}{
		{"defaults to the protocol", []MTP{{Protocol: "MQTT", Transport: tr}, {Protocol: "WebSocket", Transport: tr}}, []string{"MQTT", "WebSocket"}, false},
		{"two of one protocol", []MTP{{Name: "a", Protocol: "MQTT", Transport: tr}, {Name: "b", Protocol: "MQTT", Transport: tr}}, []string{"a", "b"}, false},
		{"two unnamed of one protocol", []MTP{{Protocol: "MQTT", Transport: tr}, {Protocol: "MQTT", Transport: tr}}, nil, true},
		{"a name twice", []MTP{{Name: "x", Protocol: "MQTT", Transport: tr}, {Name: "x", Protocol: "STOMP", Transport: tr}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(context.Background(), Options{EndpointID: "proto::ctl", MTPs: tt.mtps})
			if tt.fail {
				if err == nil {
					t.Fatal("New accepted MTPs with the same name")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range c.opt.MTPs {
				names = append(names, m.Name)
			}
			if !slices.Equal(names, tt.names) || tt.mtps[0].Name != "" && tt.mtps[0].Name != names[0] {
				t.Errorf("names %v, want %v", names, tt.names)
			}
		})
	}
}

// TestSendFallsBack: a Record goes over the MTP and address the Agent was
// last heard on; when that Send fails, over the other MTPs it was heard
// on, newest first, and the one that took it becomes the current route.
// A connection going down drops its route; the Agent is offline only
// when no route is left.
func TestSendFallsBack(t *testing.T) {
	a, b, w := &fakeTransport{}, &fakeTransport{}, &fakeTransport{}
	c, err := New(context.Background(), Options{EndpointID: "proto::ctl", MTPs: []MTP{
		{Name: "broker-a", Protocol: "MQTT", Transport: a}, {Name: "broker-b", Protocol: "MQTT", Transport: b},
		{Protocol: "WebSocket", Transport: w}}})
	if err != nil {
		t.Fatal(err)
	}
	const id = "os::012345-ROUTES"
	now := time.Now()
	ag := &Agent{ID: id, Online: true}
	c.agents[id] = ag
	c.heardLocked(ag, c.mtpNamed("broker-a"), "usp/agent/on-a", now.Add(-2*time.Second))
	c.heardLocked(ag, c.mtpNamed("broker-b"), "usp/agent/on-b", now.Add(-time.Second))
	c.heardLocked(ag, c.mtpNamed("WebSocket"), id, now)
	if ag.MTP != "WebSocket" || ag.Protocol != "WebSocket" || len(ag.Routes) != 3 {
		t.Fatalf("after three contacts: %+v", ag)
	}
	steps := []struct {
		name       string
		down       []*fakeTransport
		want       *fakeTransport
		wantAddr   string
		currentMTP string
	}{
		{"last heard", nil, w, id, "WebSocket"},
		{"WebSocket gone: the newest other", []*fakeTransport{w}, b, "usp/agent/on-b", "broker-b"},
		{"both gone: the oldest", []*fakeTransport{w, b}, a, "usp/agent/on-a", "broker-a"},
	}
	for _, st := range steps {
		for _, f := range []*fakeTransport{a, b, w} {
			f.mu.Lock()
			f.down, f.sent = slices.Contains(st.down, f), nil
			f.mu.Unlock()
		}
		if err := c.send(context.Background(), id, []byte("payload")); err != nil {
			t.Fatalf("%s: not sent: %v", st.name, err)
		}
		if got := st.want.addrs(); len(got) != 1 || got[0] != st.wantAddr {
			t.Errorf("%s: sent to %v, want %s", st.name, got, st.wantAddr)
		}
		if ag.MTP != st.currentMTP {
			t.Errorf("%s: current MTP %q, want %q", st.name, ag.MTP, st.currentMTP)
		}
	}
	for _, f := range []*fakeTransport{a, b, w} {
		f.down = true
	}
	if err := c.send(context.Background(), id, []byte("payload")); err == nil {
		t.Error("sent with every MTP failing")
	}

	// Connections going down: the current route's goes, the next newest
	// becomes current; the last one makes the Agent offline.
	c.mu.Lock()
	ag.MTP, ag.Protocol, ag.Address = "WebSocket", "WebSocket", id
	offline := c.routeDownLocked(ag, "WebSocket", id)
	c.mu.Unlock()
	if offline || ag.MTP != "broker-b" || ag.Address != "usp/agent/on-b" {
		t.Errorf("after the WebSocket went down: offline %v, %+v", offline, ag)
	}
	c.mu.Lock()
	off1 := c.routeDownLocked(ag, "broker-b", "usp/agent/on-b")
	off2 := c.routeDownLocked(ag, "broker-a", "usp/agent/on-a")
	c.mu.Unlock()
	if off1 || !off2 || len(ag.Routes) != 0 {
		t.Errorf("offline after the last route went down: %v %v, routes %v", off1, off2, ag.Routes)
	}
}
