package conformance

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"
)

// TestHoldProbePortsWaits: case 1.92 waits for TraceRoute ports another
// run holds, and gives up after its bound.
func TestHoldProbePortsWaits(t *testing.T) {
	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := probe.LocalAddr().(*net.UDPAddr).Port
	// the other run holds the second port for a while
	other := probe
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	other, err = net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+1)))
	if err != nil {
		t.Skipf("port %d taken meanwhile: %v", base+1, err)
	}
	if _, err := holdProbePorts(context.Background(), "127.0.0.1", base, 2, 300*time.Millisecond); err == nil {
		t.Fatal("held a port in use")
	}
	time.AfterFunc(400*time.Millisecond, func() { other.Close() })
	start := time.Now()
	conns, err := holdProbePorts(context.Background(), "127.0.0.1", base, 2, 5*time.Second)
	if err != nil {
		t.Fatalf("ports not held after the other run let go: %v", err)
	}
	for _, c := range conns {
		c.Close()
	}
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Errorf("held after %v, before the other run let go", d)
	}
}
