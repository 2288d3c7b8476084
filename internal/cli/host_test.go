package cli_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/wire"
)

// TestAgentHostJoin: `usp agent` with a host: section reading a network
// namespace tells a subscribed Controller of a host joining that network
// (ObjectCreation of Device.Hosts.Host.{i}. with its PhysAddress), and
// answers a Get of the host's address.
func TestAgentHostJoin(t *testing.T) {
	p := testenv.NewNetnsPair(t)
	bin := buildUSP(t)
	c, srv := discWSController(t)
	_, port, _ := net.SplitHostPort(srv.Addr().String())
	const id = "os::012345-HOSTJOIN"
	ctrls := fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n          host: 127.0.0.1\n          port: %s\n          path: /usp\n", mtpCtrlID, port)
	hostYAML := fmt.Sprintf("host:\n  areas: [ip, hosts]\n  interval: 100ms\n  netns: /var/run/netns/%s\n", p.A)
	startAgentProcessWith(t, bin, id, hostYAML, ctrls)
	waitAgent(t, c, id, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{
		ObjPath: "Device.LocalAgent.Subscription.", ParamSettings: []*wire.Add_CreateParamSetting{
			{Param: "ID", Value: "join", Required: true}, {Param: "NotifType", Value: "ObjectCreation", Required: true},
			{Param: "ReferenceList", Value: "Device.Hosts.Host.", Required: true}, {Param: "Enable", Value: "true", Required: true}}}}}}})
	if err != nil || m.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("subscribing: %v %v", m, err)
	}
	time.Sleep(300 * time.Millisecond) // the first reading after the subscription is the baseline
	after := uint64(0)
	if ev := c.Events(id, 0); len(ev) > 0 {
		after = ev[len(ev)-1].Seq
	}
	addr := strings.TrimSuffix(p.AddrB, ".2") + ".77"
	if out, err := p.Command(p.A, "ip", "neigh", "add", addr, "lladdr", "02:00:00:00:00:77", "dev", p.IfA, "nud", "permanent").CombinedOutput(); err != nil {
		t.Fatalf("ip neigh add: %v\n%s", err, out)
	}
	for ctx.Err() == nil {
		for _, e := range c.Events(id, after) {
			after = e.Seq
			if e.Kind == "notify" && strings.Contains(string(e.Msg), "02:00:00:00:00:77") && strings.Contains(string(e.Msg), "Device.Hosts.Host.") {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no ObjectCreation for the host: %v", c.Events(id, 0))
}
