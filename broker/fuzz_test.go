package broker

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// instance turns filter r into a topic it matches, filling wildcards from
// fill: "+" takes one level, "#" zero or more.
func instance(r, fill string) string {
	levels := strings.Split(r, "/")
	fills := strings.Split(fill, "/")
	next := func(i int) string {
		s := fills[i%len(fills)]
		return strings.NewReplacer("+", "p", "#", "h", "\x00", "z").Replace(s)
	}
	var out []string
	for i, l := range levels {
		switch l {
		case "+":
			out = append(out, next(i))
		case "#":
			if fill != "" {
				out = append(out, strings.Split(strings.NewReplacer("+", "p", "#", "h", "\x00", "z").Replace(fill), "/")...)
			}
		default:
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return "x"
	}
	return strings.Join(out, "/")
}

// FuzzFilterCovers checks the subscribe ACL against mochi's own routing:
// mochi delivers to a subscription on r only topics that match r by the
// MQTT rules, and when filterCovers(a, r) holds every such topic matches
// a, so that no SUBSCRIBE can reach beyond what the account allows.
func FuzzFilterCovers(f *testing.F) {
	seeds := [][3]string{
		{"usp/agent/x/#", "usp/agent/x/#", "a/b"},
		{"usp/agent/x/#", "usp/agent/+/#", "y"},
		{"a/+", "a/b", ""},
		{"#", "$SYS/#", "x"},
		{"+/#", "+/x", "$SYS"},
		{"a/#", "a", ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, a, r, fill string) {
		if !validFilter(a) || !validFilter(stripShare(r)) || !mqtt.IsValidFilter(r, false) {
			filterCovers(a, r) // must not panic on anything
			return
		}
		topic := instance(stripShare(r), fill)
		if topic == "" || !mqtt.IsValidFilter(topic, true) {
			return // empty topic names are invalid [MQTT-4.7.3-1]; mayPublish refuses them
		}
		idx := mqtt.NewTopicsIndex()
		idx.Subscribe("c", packets.Subscription{Filter: r})
		delivered := len(idx.Subscribers(topic).Subscriptions)+len(idx.Subscribers(topic).Shared) > 0
		// mochi may deliver less than the MQTT rules (it does not match
		// "//" to "+/+/+/#": corpus file mochi-empty-levels), never more.
		if delivered && !topicMatch(stripShare(r), topic) {
			t.Fatalf("mochi delivers %q to %q; MQTT matching does not", topic, r)
		}
		if filterCovers(a, r) && delivered && !topicMatch(a, topic) {
			t.Fatalf("filterCovers(%q, %q) but %q reaches r and not a", a, r, topic)
		}
	})
}

// FuzzExpand checks that no ClientId or user name widens a pattern: a
// successful expansion has the pattern's wildcards only and stays within
// the pattern's prefix.
func FuzzExpand(f *testing.F) {
	f.Add("usp/agent/{user}/#", "client", "os::0044FF-1")
	f.Add("usp/agent/{client}/#", "+", "u")
	f.Add("x/{client}/{user}", "a/b", "#")
	f.Fuzz(func(t *testing.T, p, client, user string) {
		prefix, err := patternPrefix(p)
		got, xerr := expand(p, client, user)
		if err != nil || xerr != nil {
			return
		}
		if !validFilter(got) {
			t.Fatalf("expand(%q, %q, %q) = %q, not a valid filter", p, client, user, got)
		}
		if !filterCovers(prefix, got) {
			t.Fatalf("expand(%q, %q, %q) = %q escapes %q", p, client, user, got, prefix)
		}
		wild := func(s string) int { return strings.Count(s, "+") + strings.Count(s, "#") }
		if wild(got) != wild(p) {
			t.Fatalf("expand(%q, %q, %q) = %q adds wildcards", p, client, user, got)
		}
	})
}

// FuzzSession feeds arbitrary bytes to a broker connection, through
// mochi's packet parser into the authentication and ACL hooks: nothing
// may hang, nothing may be delivered to a topic the (password-
// authenticated, USP-policy) client may not publish to, and no panic may
// occur other than the known mochi-mqtt/server#501 one, which the broker
// recovers from (TestTruncatedSubscribe).
func FuzzSession(f *testing.F) {
	for _, seed := range sessionSeeds() {
		f.Add(seed)
	}
	b, w := sessionBroker(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		runSession(t, b, in)
		select {
		case topic := <-w.leaked:
			t.Fatalf("delivered to %q", topic)
		default:
		}
		if p := w.log.take(); strings.Contains(p, "panic") && !strings.Contains(p, "SubscribeDecode") {
			t.Fatalf("panic in the session:\n%s", p)
		}
	})
}

// TestSessionSeeds checks that the seeds do what FuzzSession needs: the
// allowed PUBLISH goes through, the forbidden one does not.
func TestSessionSeeds(t *testing.T) {
	b, w := sessionBroker(t)
	for i, seed := range sessionSeeds() {
		runSession(t, b, seed)
		select {
		case topic := <-w.leaked:
			t.Fatalf("seed %d: delivered to %q", i, topic)
		case <-w.ok:
		case <-time.After(5 * time.Second):
			t.Fatalf("seed %d: allowed PUBLISH not delivered", i)
		}
	}
}

func sessionBroker(t testing.TB) (*Broker, *watchHook) {
	lw := &panicLog{}
	b, err := New(&Options{Addr: "127.0.0.1:0", USPPolicy: true, Users: map[string]string{"u": "p"},
		ConnectTimeout: time.Second, Logger: slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	w := &watchHook{leaked: make(chan string, 1), ok: make(chan string, 1), log: lw}
	if err := b.srv.AddHook(w, nil); err != nil {
		t.Fatal(err)
	}
	return b, w
}

// runSession plays in to b as one connection and waits for the broker
// to finish with it. What the broker writes back is discarded.
func runSession(t testing.TB, b *Broker, in []byte) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fc := &feedConn{r: bytes.NewReader(in)}
		b.establish(listenerTCP, &conn{Conn: fc, kill: func() {}})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("connection did not end")
	}
}

// feedConn is a net.Conn that reads its input, then io.EOF, and
// swallows writes.
type feedConn struct {
	r *bytes.Reader
}

func (c *feedConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *feedConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *feedConn) Close() error                     { return nil }
func (c *feedConn) LocalAddr() net.Addr              { return feedAddr{} }
func (c *feedConn) RemoteAddr() net.Addr             { return feedAddr{} }
func (c *feedConn) SetDeadline(time.Time) error      { return nil }
func (c *feedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *feedConn) SetWriteDeadline(time.Time) error { return nil }

type feedAddr struct{}

func (feedAddr) Network() string { return "feed" }
func (feedAddr) String() string  { return "feed" }

// sessionSeeds are byte streams of valid sessions: CONNECT, SUBSCRIBE,
// PUBLISH, in MQTT 5 and 3.1.1.
func sessionSeeds() [][]byte {
	var out [][]byte
	for _, v := range []byte{4, 5} {
		var buf bytes.Buffer
		enc := func(pk packets.Packet) {
			pk.ProtocolVersion = v
			var err error
			switch pk.FixedHeader.Type {
			case packets.Connect:
				err = pk.ConnectEncode(&buf)
			case packets.Subscribe:
				err = pk.SubscribeEncode(&buf)
			case packets.Publish:
				err = pk.PublishEncode(&buf)
			case packets.Disconnect:
				err = pk.DisconnectEncode(&buf)
			}
			if err != nil {
				panic(err)
			}
		}
		enc(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect},
			Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: "c",
				UsernameFlag: true, Username: []byte("u"), PasswordFlag: true, Password: []byte("p")}})
		enc(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
			Filters: packets.Subscriptions{{Filter: "usp/agent/u/#", Qos: 1}, {Filter: "#"}}})
		enc(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 2,
			TopicName: "usp/controller/c/reply-to=usp%2Fagent%2Fu", Payload: []byte("rec")})
		enc(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "usp/agent/other",
			Payload: []byte("evil")})
		enc(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
		out = append(out, buf.Bytes())
	}
	return out
}

// watchHook reports accepted publications outside the Controller topics.
type watchHook struct {
	mqtt.HookBase
	leaked, ok chan string
	log        *panicLog
}

// panicLog keeps the broker's error log between checks.
type panicLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *panicLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// take returns and clears what was logged.
func (l *panicLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

func (h *watchHook) ID() string { return "watch" }

func (h *watchHook) Provides(b byte) bool { return b == mqtt.OnPublished || b == mqtt.OnWillSent }

func (h *watchHook) OnPublished(_ *mqtt.Client, pk packets.Packet) { h.check(pk.TopicName) }

func (h *watchHook) OnWillSent(_ *mqtt.Client, pk packets.Packet) { h.check(pk.TopicName) }

func (h *watchHook) check(topic string) {
	ch := h.ok
	if !strings.HasPrefix(topic, "usp/controller/") {
		ch = h.leaked
	}
	select {
	case ch <- topic:
	default:
	}
}
