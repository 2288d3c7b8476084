package mqtt_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/mtp/mtptest"
)

// TestWebSocket runs the behaviour suite over MQTT over WebSocket, ws://
// and wss:// with mutual TLS. The broker is mochi-mqtt, run in this
// process: mosquitto 2.0's WebSocket listener cannot be bound to the
// loopback interface, and these tests use no other. mochi 2.7 hands the
// messages it queued for an offline session over out of order (mosquitto
// keeps their order), so A here starts serving only once B is up, and
// only the restart case leaves a Record queued for B.
func TestWebSocket(t *testing.T) {
	pki := testenv.NewPKI(t, "proto::uspkit-ws-test")
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(allowAll), nil); err != nil {
		t.Fatal(err)
	}
	ws := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	wss := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	for _, l := range []listeners.Config{{ID: "ws", Address: ws}, {ID: "wss", Address: wss, TLSConfig: pki.ServerConfig()}} {
		if err := srv.AddListener(listeners.NewWebsocket(l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	testenv.WaitListening(t, ws, 10*time.Second)
	// A TLS handshake, not only a TCP connection, so that the server logs
	// no handshake error.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := tls.Dial("tcp", wss, pki.ClientConfig())
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("wss listener: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct {
		name string
		v    mqtt.Version
		url  string
		tls  bool
	}{
		{"v5/ws", mqtt.V5, "ws://" + ws + "/mqtt", false},
		{"v311/ws", mqtt.V311, "ws://" + ws + "/mqtt", false},
		{"v5/wss", mqtt.V5, "wss://" + wss + "/mqtt", true},
		{"v311/wss", mqtt.V311, "wss://" + wss + "/mqtt", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			mtptest.Run(t, func(t *testing.T) *mtptest.Pair {
				options := func(topic string) *mqtt.Options {
					o := &mqtt.Options{URL: c.url, Version: c.v, EndpointID: "proto::uspkit-" + randID(), Topic: topic,
						MinWait: 50 * time.Millisecond, ConnectTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
					if c.tls {
						o.TLS = pki.ClientConfig()
					}
					if os.Getenv("USP_TEST_LOG") != "" {
						o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
					}
					return o
				}
				return wsPair(t, options)
			})
		})
	}
}

// wsPair is an mtptest.Pair of two clients made by options; B keeps its
// session, made before the suite starts; A serves once B is up.
func wsPair(t *testing.T, options func(topic string) *mqtt.Options) *mtptest.Pair {
	id := randID()
	ta, tb := "usp/ws/"+id+"/a", "usp/ws/"+id+"/b"
	ob := options(tb)
	ob.ClientID, ob.KeepSession, ob.SessionExpiry = "uspkit-b-"+id, true, time.Minute
	connectOnce(t, ob)
	ready, once := make(chan struct{}), sync.Once{}
	ob.OnState = func(_ context.Context, _ mtp.Peer, s mtp.State, _ error) {
		if s == mtp.StateUp {
			once.Do(func() { close(ready) })
		}
	}
	b := mqtt.NewClient(ob)
	a := afterReady{mqtt.NewClient(options(ta)), ready}
	p := &mtptest.Pair{A: a, B: b, AddrOfB: tb, Limit: mqtt.DefaultMaxRecord, Timeout: 20 * time.Second}
	p.RestartB = func(t *testing.T) mtp.Transport {
		b.Close()
		b = mqtt.NewClient(ob)
		return b
	}
	return p
}

// afterReady is a Transport that starts serving once ready is closed.
type afterReady struct {
	*mqtt.Client
	ready <-chan struct{}
}

func (a afterReady) Serve(ctx context.Context, h mtp.Handler) error {
	select {
	case <-a.ready:
	case <-ctx.Done():
		return nil
	}
	return a.Client.Serve(ctx, h)
}

// allowAll is a mochi hook that lets every client connect and use every
// topic.
type allowAll struct{ mochi.HookBase }

func (h *allowAll) ID() string { return "allow-all" }

func (h *allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (h *allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (h *allowAll) OnACLCheck(*mochi.Client, string, bool) bool { return true }
