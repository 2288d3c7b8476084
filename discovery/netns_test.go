package discovery_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// nsServices are what the helper in namespace A advertises: a Controller
// reached through the MQTT broker at A's address, and one whose WebSocket
// server is at whatever address A's interface has.
func nsServices(addrA string) []discovery.Service {
	return []discovery.Service{
		{Instance: "proto::ns-controller", Type: discovery.ControllerMQTT, Host: "broker-a.local", Addrs: []netip.Addr{netip.MustParseAddr(addrA)},
			Port: 1883, Path: "usp/controller"},
		{Instance: "proto::ns-controller", Type: discovery.ControllerWebSocket, Port: 8081, Path: "/usp", Encrypt: true},
	}
}

// TestMDNSAcrossNamespaces: a Controller advertised in one network
// namespace is found by a browser in another, over a veth link, on IPv4
// and on IPv6, with its
// TXT attributes and the addresses of the advertising host's interface
// [R-DIS.3] [R-DIS.8] [R-DIS.11] [R-DIS.11a] [R-MQTT.38].
func TestMDNSAcrossNamespaces(t *testing.T) {
	for _, network := range []string{"udp4", "udp6"} {
		t.Run(network, func(t *testing.T) { mdnsAcrossNamespaces(t, network) })
	}
}

func mdnsAcrossNamespaces(t *testing.T, network string) {
	p := testenv.NewNetnsPair(t)
	adv := p.Command(p.A, os.Args[0], "-test.run=^TestNetnsHelper$")
	adv.Env = append(os.Environ(), "USP_MDNS_HELPER=advertise", "USP_MDNS_IF="+p.IfA, "USP_MDNS_ADDR="+p.AddrA, "USP_MDNS_NET="+network)
	adv.Stderr = os.Stderr
	stdin, err := adv.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	advOut, _ := adv.StdoutPipe()
	if err := adv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); adv.Wait() }()
	if line, err := bufio.NewReader(advOut).ReadString('\n'); err != nil || line != "advertising\n" {
		t.Fatalf("advertiser: %q %v", line, err)
	}
	go io.Copy(io.Discard, advOut)

	br := p.Command(p.B, os.Args[0], "-test.run=^TestNetnsHelper$")
	br.Env = append(os.Environ(), "USP_MDNS_HELPER=browse", "USP_MDNS_IF="+p.IfB, "USP_MDNS_NET="+network)
	br.Stderr = os.Stderr
	out, err := br.Output()
	if err != nil {
		t.Fatalf("browser: %v\n%s", err, out)
	}
	found := map[string]discovery.Service{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var s discovery.Service
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.Instance != "" {
			found[s.Type] = s
		}
	}
	want := nsServices(p.AddrA)
	mq, ws := found[discovery.ControllerMQTT], found[discovery.ControllerWebSocket]
	if mq.Path != want[0].Path || mq.Port != 1883 || mq.Host != "broker-a.local" || !slices.Equal(mq.Addrs, want[0].Addrs) {
		t.Errorf("MQTT controller from namespace A: %+v", mq)
	}
	if ws.Path != "/usp" || !ws.Encrypt || !slices.Contains(ws.Addrs, netip.MustParseAddr(p.AddrA)) {
		t.Errorf("WebSocket controller from namespace A: %+v (want address %s)", ws, p.AddrA)
	}
	// The interface's IPv6 link-local address comes with the interface it
	// was heard on, so that it can be dialled.
	if network == "udp6" && !slices.ContainsFunc(ws.Addrs, func(a netip.Addr) bool { return a.IsLinkLocalUnicast() && a.Zone() == p.IfB }) {
		t.Errorf("no link-local address with zone %s in %v", p.IfB, ws.Addrs)
	}
}

// TestNetnsHelper is the process TestMDNSAcrossNamespaces runs inside a
// namespace; it does nothing in a normal run.
func TestNetnsHelper(t *testing.T) {
	role := os.Getenv("USP_MDNS_HELPER")
	if role == "" {
		return
	}
	o := &discovery.Options{Interface: os.Getenv("USP_MDNS_IF"), Network: os.Getenv("USP_MDNS_NET")}
	switch role {
	case "advertise":
		r, err := discovery.Advertise(context.Background(), o, nsServices(os.Getenv("USP_MDNS_ADDR"))...)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("advertising")
		io.Copy(io.Discard, os.Stdin) // until the test closes it
		r.Close()
	case "browse":
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		seen := map[string]bool{}
		enc := json.NewEncoder(os.Stdout)
		discovery.Browse(ctx, o, []string{discovery.ControllerMQTT, discovery.ControllerWebSocket}, func(s discovery.Service) {
			enc.Encode(s)
			if seen[s.Type] = true; len(seen) == 2 {
				cancel()
			}
		})
	}
}
