package mqtt_test

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestKeepAlive checks the Keep Alive [R-MQTT.14]: an idle client sends
// PINGREQ within its Keep Alive, and drops a connection whose server does
// not answer with PINGRESP; a CONNACK's Server Keep Alive replaces the
// client's own.
func TestKeepAlive(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", KeepAlive: 30 * time.Second, MinWait: time.Hour}
	st := newStates()
	o.OnState = st.onState
	serve(t, mqtt.NewClient(o), newInbox())
	one := uint16(1)
	cp, _ := s.handshake(&packets.Connack{Properties: &packets.Properties{ServerKeepAlive: &one}}, nil)
	if cp.KeepAlive != 30 {
		t.Errorf("CONNECT Keep Alive %d, want 30", cp.KeepAlive)
	}
	st.wait(t, mtp.StateUp, 10*time.Second)
	start := time.Now()
	_ = s.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := packets.ReadPacket(s.nc)
	if err != nil || p.Type != packets.PINGREQ {
		t.Fatalf("read %v, %v; want PINGREQ", p, err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("PINGREQ after %v, want within the Server Keep Alive of 1s", d)
	}
	// No PINGRESP: the client gives up on the connection.
	e := st.wait(t, mtp.StateDown, 5*time.Second)
	if e.Err == nil {
		t.Errorf("connection down without an error")
	}
	t.Logf("down after %v: %v", time.Since(start), e.Err)
}
