package cli_test

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/wire"
)

// TestAgentHostJoin: `usp agent` with a host: section reading a network
// namespace tells a subscribed Controller of a host joining that network
// (ObjectCreation of Device.Hosts.Host.{i}. with its PhysAddress), of its
// Active changing (ValueChange, polled every value_change_interval: three
// changes notified within 4 s, which the default 5 s could not do), and of
// its leaving (ObjectDeletion).
func TestAgentHostJoin(t *testing.T) {
	p := testenv.NewNetnsPair(t)
	bin := buildUSP(t)
	c, srv := discWSController(t)
	_, port, _ := net.SplitHostPort(srv.Addr().String())
	const id = "os::012345-HOSTJOIN"
	ctrls := fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n          host: 127.0.0.1\n          port: %s\n          path: /usp\n", mtpCtrlID, port)
	hostYAML := fmt.Sprintf("host:\n  areas: [ip, hosts]\n  interval: 100ms\n  max_age: 50ms\n  value_change_interval: 200ms\n  netns: /var/run/netns/%s\n", p.A)
	startAgentProcessWith(t, bin, id, hostYAML, ctrls)
	waitAgent(t, c, id, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	subscribe := func(sub, typ, ref string) {
		t.Helper()
		m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{
			ObjPath: "Device.LocalAgent.Subscription.", ParamSettings: []*wire.Add_CreateParamSetting{
				{Param: "ID", Value: sub, Required: true}, {Param: "NotifType", Value: typ, Required: true},
				{Param: "ReferenceList", Value: ref, Required: true}, {Param: "Enable", Value: "true", Required: true}}}}}}})
		if err != nil || m.GetBody().GetResponse().GetAddResp() == nil {
			t.Fatalf("subscribing %s: %v %v", sub, m, err)
		}
	}
	subscribe("join", "ObjectCreation", "Device.Hosts.Host.")
	subscribe("leave", "ObjectDeletion", "Device.Hosts.Host.")
	time.Sleep(300 * time.Millisecond) // the first reading after the subscription is the baseline
	after := uint64(0)
	if ev := c.Events(id, 0); len(ev) > 0 {
		after = ev[len(ev)-1].Seq
	}
	// wait returns the first notification after the last one seen that
	// has every one of parts, or fails the test at deadline.
	wait := func(deadline time.Time, what string, parts ...string) string {
		t.Helper()
		for time.Now().Before(deadline) {
		next:
			for _, e := range c.Events(id, after) {
				after = e.Seq
				if e.Kind != "notify" {
					continue
				}
				for _, part := range parts {
					if !strings.Contains(string(e.Msg), part) {
						continue next
					}
				}
				return string(e.Msg)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no %s notification (%q) by %v: %v", what, parts, deadline.Format(time.StampMilli), c.Events(id, 0))
		return ""
	}
	neigh := func(args ...string) {
		t.Helper()
		if out, err := p.Command(p.A, "ip", append([]string{"neigh"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip neigh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	addr := strings.TrimSuffix(p.AddrB, ".2") + ".77"
	const mac = "02:00:00:00:00:77"
	neigh("add", addr, "lladdr", mac, "dev", p.IfA, "nud", "permanent")
	msg := wait(time.Now().Add(20*time.Second), "ObjectCreation", mac, "Device.Hosts.Host.", `"join"`)
	row := regexp.MustCompile(`Device\.Hosts\.Host\.[0-9]+\.`).FindString(msg)
	if row == "" {
		t.Fatalf("ObjectCreation without the row: %s", msg)
	}

	subscribe("vc", "ValueChange", row+"Active")
	time.Sleep(500 * time.Millisecond) // the first poll after the subscription is the baseline
	deadline := time.Now().Add(4 * time.Second)
	for i, nud := range []string{"stale", "permanent", "stale"} {
		neigh("replace", addr, "lladdr", mac, "dev", p.IfA, "nud", nud)
		want := fmt.Sprint(nud == "permanent")
		m := wait(deadline, fmt.Sprintf("ValueChange %d (%s)", i+1, nud), `"vc"`, row+"Active", `"`+want+`"`)
		t.Logf("ValueChange %d: %s", i+1, m)
	}

	neigh("del", addr, "dev", p.IfA)
	wait(time.Now().Add(10*time.Second), "ObjectDeletion", row, `"leave"`)
}
