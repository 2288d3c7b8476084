package broker_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/uspkit/uspkit/broker"
)

// TestMaxPacketSize: a packet over the limit closes the connection and is
// not delivered; one under it is.
func TestMaxPacketSize(t *testing.T) {
	b, _ := start(t, broker.Options{Users: users, MaxPacketSize: 4096})
	addr := b.Addrs().TCP
	sub, err := connect5(t, dial5{addr: addr, id: "s", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := *sub.Connack.Properties.MaximumPacketSize; got != 4096 {
		t.Fatalf("announced Maximum Packet Size %d", got)
	}
	if err := sub.subscribe(t, "big/#"); err != nil {
		t.Fatal(err)
	}
	// A 3.1.1 client is not told the limit, so it sends the big packet.
	pub, _, err := connect3(t, addr, "p", "agent2", "pw2", nil)
	if err != nil {
		t.Fatal(err)
	}
	small := bytes.Repeat([]byte{'s'}, 3000)
	if err := wait3(pub.Publish("big/ok", 1, false, small)); err != nil {
		t.Fatal(err)
	}
	sub.expect(t, "big/ok", small)
	pub.Publish("big/no", 0, false, bytes.Repeat([]byte{'b'}, 5000)).WaitTimeout(time.Second)
	deadline := time.Now().Add(wait)
	for pub.IsConnectionOpen() {
		if time.Now().After(deadline) {
			t.Fatal("still connected after an oversize packet")
		}
		time.Sleep(10 * time.Millisecond)
	}
	sub.expectNone(t)
}

// TestMaxClients: CONNECTs beyond the limit are refused with "server
// busy" (MQTT 5) or "server unavailable" (3.1.1).
func TestMaxClients(t *testing.T) {
	b, _ := start(t, broker.Options{Users: users, MaxClients: 2})
	addr := b.Addrs().TCP
	for _, id := range []string{"c1", "c2"} {
		if _, err := connect5(t, dial5{addr: addr, id: id, user: "agent1", pass: "pw1"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.Connected(); n != 2 {
		t.Fatalf("Connected() = %d", n)
	}
	c, err := connect5(t, dial5{addr: addr, id: "c3", user: "agent1", pass: "pw1"})
	if err == nil || c.Connack == nil || c.Connack.ReasonCode != 0x89 {
		t.Fatalf("third client: %v", err)
	}
	if _, _, err := connect3(t, addr, "c4", "agent1", "pw1", nil); err == nil {
		t.Fatal("third 3.1.1 client connected")
	}
}

// TestTruncatedSubscribe is the crash FuzzSession found
// (testdata/fuzz/FuzzSession/mochi-501-truncated-subscribe, upstream
// mochi-mqtt/server#501): an MQTT 5 SUBSCRIBE whose last filter lacks its
// options byte makes mochi v2.7.9 index past its buffer. The broker must
// drop that connection only, forget its session and keep serving.
func TestTruncatedSubscribe(t *testing.T) {
	b, lb := start(t, broker.Options{Users: users})
	addr := b.Addrs().TCP
	other, err := connect5(t, dial5{addr: addr, id: "other", user: "agent2", pass: "pw2"})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(wait))
	connect := []byte("\x10\x1b\x00\x04MQTT\x05\xc2\x00\x1e\x00\x00\x01e\x00\x06agent1\x00\x03pw1")
	truncated := []byte("\x82\x06\x00\x01\x00\x00\x01a") // filter "a", no options byte
	if _, err := nc.Write(connect); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 64)
	if n, err := nc.Read(ack); err != nil || n < 4 || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK % x, %v", ack[:n], err)
	}
	if _, err := nc.Write(truncated); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(nc); err != nil {
		t.Fatalf("connection not closed: %v", err)
	}
	waitLog(t, lb, "panic in MQTT session")
	for b.Connected() != 1 {
		time.Sleep(10 * time.Millisecond)
	}
	// The broker still serves, and the dropped ClientId is free again.
	if err := other.subscribe(t, "t/#"); err != nil {
		t.Fatal(err)
	}
	again, err := connect5(t, dial5{addr: addr, id: "e", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Connack.SessionPresent {
		t.Error("session of the dropped connection still present")
	}
	if err := again.publish(t, "t/x", []byte("alive"), 1); err != nil {
		t.Fatal(err)
	}
	other.expect(t, "t/x", []byte("alive"))
}
