package cli_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/internal/testenv"
)

// TestAgentFindsControllerAcrossNamespaces: `usp agent` in one network
// namespace browses with mDNS on its veth link, finds a Controller that a
// process in the other namespace advertises as _usp-ctr-ws._tcp with no
// address of its own (the responder answers with its interface's), and
// connects to it over the link [R-DIS.3] [R-DIS.5] [R-DIS.8].
func TestAgentFindsControllerAcrossNamespaces(t *testing.T) {
	bin := buildUSP(t)
	p := testenv.NewNetnsPair(t)
	const agentID = "os::012345-NETNS1"
	ctl := p.Command(p.A, os.Args[0], "-test.run=^TestNetnsControllerHelper$")
	ctl.Env = append(os.Environ(), "USP_NETNS_CONTROLLER="+p.IfA, "USP_NETNS_ADDR="+p.AddrA, "USP_NETNS_AGENT="+agentID)
	ctl.Stderr = os.Stderr
	stdin, _ := ctl.StdinPipe()
	stdout, _ := ctl.StdoutPipe()
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); ctl.Wait() }()
	lines := bufio.NewReader(stdout)
	if l, err := lines.ReadString('\n'); err != nil || l != "advertising\n" {
		t.Fatalf("controller helper: %q %v", l, err)
	}

	dir := t.TempDir()
	conf := fmt.Sprintf("endpoint_id: %s\ndata: %s\nlog_level: error\ndiscovery:\n  interface: %s\n  browse: true\n  role: Full Access\n", agentID, dir, p.IfB)
	if err := os.WriteFile(dir+"/agent.yaml", []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ag := p.Command(p.B, bin, "agent", "--config", dir+"/agent.yaml")
	ag.Stderr = os.Stderr
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ag.Process.Kill(); ag.Wait() }()

	got := make(chan string, 1)
	go func() {
		l, _ := lines.ReadString('\n')
		got <- l
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-got:
		if l != "online "+agentID+"\n" {
			t.Fatalf("controller helper: %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the agent in namespace B did not connect to the controller in namespace A")
	}
}

// TestNetnsControllerHelper is the Controller process of
// TestAgentFindsControllerAcrossNamespaces; it does nothing in a normal run.
func TestNetnsControllerHelper(t *testing.T) {
	iface := os.Getenv("USP_NETNS_CONTROLLER")
	if iface == "" {
		return
	}
	c, srv := discWSController(t, os.Getenv("USP_NETNS_ADDR")+":0")
	var port uint16
	_, ps, _ := strings.Cut(srv.Addr().String(), ":")
	fmt.Sscan(ps, &port)
	r, err := discovery.Advertise(t.Context(), &discovery.Options{Interface: iface}, discovery.Service{
		Instance: mtpCtrlID, Type: discovery.ControllerWebSocket, Port: port, Path: "/usp"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fmt.Println("advertising")
	id := os.Getenv("USP_NETNS_AGENT")
	waitAgent(t, c, id, true)
	fmt.Println("online " + id)
	io.Copy(io.Discard, os.Stdin)
}
