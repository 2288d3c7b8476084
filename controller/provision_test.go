package controller_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/sqlite"
)

// runAt runs a Controller with a WebSocket server at addr on db until the
// returned function is called.
func runAt(t *testing.T, addr string, db controller.Store, o controller.Options) (*controller.Controller, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var c *controller.Controller
	srv, err := ws.Listen(ctx, addr, &ws.Options{EndpointID: ctrlID, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if c != nil {
			c.OnState("WebSocket")(ctx, p, s, err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	o.EndpointID, o.Store, o.RequestTimeout, o.Admission = ctrlID, db, 5*time.Second, controller.AdmitAll
	o.MTPs = []controller.MTP{{Protocol: "WebSocket", Transport: srv, Identity: controller.IdentityClaimed}}
	if c, err = controller.New(ctx, o); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return c, func() { cancel(); <-done }
}

func count(c *controller.Controller, kind string) int {
	n := 0
	for _, e := range c.Events(agentID, 0) {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// A provisioning profile is applied once at an Agent's first contact, and
// not again after the Controller restarts.
func TestProvisioningOnceAcrossRestart(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	profile := controller.Profile{
		Sets: []controller.ProfileSet{{Object: "Device.LocalAgent.Controller.1.", Params: map[string]string{"PeriodicNotifInterval": "777"}}},
		Adds: []controller.ProfileAdd{{Object: "Device.LocalAgent.Subscription.", Key: "ID", Params: map[string]string{
			"ID": "prov-1", "NotifType": "ValueChange", "ReferenceList": "Device.LocalAgent.EndpointID", "Enable": "true"}}},
	}
	if err := profile.Validate(); err != nil {
		t.Fatal(err)
	}
	o := controller.Options{Profiles: map[string]controller.Profile{"": profile}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, stop := runAt(t, addr, db, o)
	startAgent(t, "ws://"+addr+"/usp", store.NewMemory())
	waitFor(t, func() bool { a, _ := c.Agent(agentID); return a.Provisioned != nil })
	a, _ := c.Agent(agentID)
	if len(a.Provisioned.Errors) > 0 || a.Provisioned.Applied.IsZero() {
		t.Fatalf("provisioning %+v", a.Provisioned)
	}
	check := func(c *controller.Controller) {
		t.Helper()
		m, err := c.Do(context.Background(), agentID, get("Device.LocalAgent.Subscription.*.ID", "Device.LocalAgent.Controller.1.PeriodicNotifInterval"))
		if err != nil {
			t.Fatal(err)
		}
		subs, interval := 0, ""
		for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
			for _, r := range rp.GetResolvedPathResults() {
				if r.GetResultParams()["ID"] == "prov-1" {
					subs++
				}
				if v, ok := r.GetResultParams()["PeriodicNotifInterval"]; ok {
					interval = v
				}
			}
		}
		if subs != 1 || interval != "777" {
			t.Fatalf("after provisioning: %d prov-1 subscriptions, interval %q", subs, interval)
		}
	}
	check(c)
	stop()

	c2, stop2 := runAt(t, addr, db, o)
	defer stop2()
	waitFor(t, func() bool { a, _ := c2.Agent(agentID); return a.Online })
	// Applying the profile again would go through these requests; give a
	// second contact time to do so, then look.
	time.Sleep(500 * time.Millisecond)
	check(c2)
	if n := count(c2, "provisioned"); n != 1 {
		t.Fatalf("provisioned %d times", n)
	}
}
