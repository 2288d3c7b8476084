package cli_test

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/uspkit/uspkit/discovery"
)

// TestAgentResolvesLocalControllerLater: a Controller whose ".local." host
// does not answer when `usp agent` starts (its address is not configured
// yet, the Controller is not up) is not given up: the agent starts, keeps
// asking with mDNS, and connects once the name answers [R-DIS.5].
func TestAgentResolvesLocalControllerLater(t *testing.T) {
	bin := buildUSP(t)
	iface, port := mdnsLoopback(t)
	c, srv := discWSController(t)
	_, p, _ := net.SplitHostPort(srv.Addr().String())
	const id = "os::012345-LOCAL2"
	ctrls := fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n          host: ctl-later.local\n          port: %s\n          path: /usp\n"+
		"discovery:\n  interface: %s\n  port: %d\n  advertise: true\n", mtpCtrlID, p, iface, port)
	startAgentProcessWith(t, bin, id, "", ctrls)
	time.Sleep(3 * time.Second)
	h, err := discovery.AnswerHost(t.Context(), &discovery.Options{Interface: iface, Port: port, Network: "udp4"}, "ctl-later.local",
		netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	waitAgent(t, c, id, true)
	if len(h.Queries()) == 0 {
		t.Error("the agent connected without asking for ctl-later.local")
	}
}
