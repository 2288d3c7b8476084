package stomp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/stomp"
)

func TestServeRejectsOptions(t *testing.T) {
	cases := []struct {
		name string
		o    *stomp.Options
	}{
		{"nil", nil},
		{"no Addr", &stomp.Options{EndpointID: "proto::a"}},
		{"no EndpointID", &stomp.Options{Addr: "127.0.0.1:1"}},
		{"negative heart-beat", &stomp.Options{Addr: "127.0.0.1:1", EndpointID: "proto::a", IncomingHeartbeat: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := stomp.NewClient(tc.o)
			defer c.Close()
			if err := c.Serve(context.Background(), newInbox()); err == nil {
				t.Fatal("Serve accepted bad Options")
			}
		})
	}
}

// TestSendErrors checks Send's errors while no server is reachable: a
// full queue, an empty destination, a Record over MaxRecord, and Close.
func TestSendErrors(t *testing.T) {
	s := newFake(t)
	o := fakeOptions(s, newStates())
	o.Addr, o.QueueLen, o.MaxRecord = "127.0.0.1:1", 2, 10
	c := stomp.NewClient(o)
	serve(t, c, newInbox())
	ctx := context.Background()
	steps := []struct {
		addr string
		size int
		want error
	}{
		{"/queue/x", 10, nil},
		{"/queue/x", 1, nil},
		{"/queue/x", 1, mtp.ErrQueueFull},
		{"", 1, mtp.ErrNoPeer},
		{"/queue/x", 11, mtp.ErrTooLarge},
	}
	for i, st := range steps {
		if err := c.Send(ctx, st.addr, make([]byte, st.size)); !errors.Is(err, st.want) {
			t.Errorf("step %d: Send = %v, want %v", i, err, st.want)
		}
	}
	c.Close()
	if err := c.Send(ctx, "/queue/x", nil); !errors.Is(err, mtp.ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
}

// TestServeCancel checks that cancelling Serve's context says goodbye and
// closes the Client.
func TestServeCancel(t *testing.T) {
	s, st := newFake(t), newStates()
	c := stomp.NewClient(fakeOptions(s, st))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, newInbox()) }()
	fc := s.accept(t)
	fc.handshake(t, connected12)
	st.wait(t, mtp.StateUp, 5*time.Second)
	cancel()
	f := fc.read(t)
	if f.Command != "DISCONNECT" {
		t.Errorf("got %s, want DISCONNECT", f.Command)
	}
	id, _ := f.Get("receipt")
	fc.write(t, "RECEIPT\nreceipt-id:"+id+"\n\n\x00")
	if err := <-done; err != nil {
		t.Errorf("Serve = %v", err)
	}
	if down := st.wait(t, mtp.StateDown, 5*time.Second); down.Err != nil {
		t.Errorf("StateDown with %v, want nil after Close", down.Err)
	}
	if err := c.Send(context.Background(), "/queue/x", nil); !errors.Is(err, mtp.ErrClosed) {
		t.Errorf("Send after cancel = %v, want ErrClosed", err)
	}
}

// TestUpSendsFirst checks that a Record sent from within the StateUp call
// goes out before those queued while disconnected [R-MTP.6].
func TestUpSendsFirst(t *testing.T) {
	s := newFake(t)
	var c *stomp.Client
	o := fakeOptions(s, newStates())
	o.OnState = func(ctx context.Context, _ mtp.Peer, st mtp.State, _ error) {
		if st == mtp.StateUp {
			if err := c.Send(ctx, "/queue/ctrl", []byte("connect")); err != nil {
				t.Error(err)
			}
		}
	}
	c = stomp.NewClient(o)
	for _, r := range []string{"queued 1", "queued 2"} {
		if err := c.Send(context.Background(), "/queue/ctrl", []byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	serve(t, c, newInbox())
	fc := s.accept(t)
	fc.handshake(t, connected12)
	for _, want := range []string{"connect", "queued 1", "queued 2"} {
		if f := fc.read(t); string(f.Body) != want {
			t.Errorf("got %s %q, want %q", f.Command, f.Body, want)
		}
	}
	if err := c.Serve(context.Background(), newInbox()); err == nil {
		t.Error("second Serve did not fail")
	}
}
