package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/store"
)

// TestPendingCount: the count of Agents waiting for approval that
// admitLocked checks MaxPending against stays what a scan of the
// registry gives through admission, approval, denial (deletion of a
// pending Agent), deletion of an admitted one and a restart on the same
// store; MaxPending is applied with it.
func TestPendingCount(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	open := func() *Controller {
		c, err := New(ctx, Options{EndpointID: "proto::ctl", Store: st, Admission: AdmitPending, MaxPending: 4, RequestTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.stopBG(); c.wg.Wait() })
		return c
	}
	c := open()
	m := &MTP{Protocol: "MQTT"}
	connect := func(c *Controller, id string) {
		c.handle(ctx, m, mtp.Inbound{Record: connectRecord(t, id), From: mtp.Peer{Address: "usp/agent/" + id}})
	}
	check := func(c *Controller, step string, want int) {
		t.Helper()
		c.mu.Lock()
		n, scanned := c.nPending, 0
		for _, a := range c.agents {
			if a.Pending {
				scanned++
			}
		}
		c.mu.Unlock()
		if n != want || scanned != want {
			t.Fatalf("%s: counted %d pending, the registry has %d, want %d", step, n, scanned, want)
		}
	}
	check(c, "empty", 0)
	for i := range 6 {
		connect(c, fmt.Sprintf("proto::p-%d", i))
	}
	check(c, "six new agents, MaxPending 4", 4)
	if _, ok := c.Agent("proto::p-4"); ok {
		t.Fatal("an agent beyond MaxPending was registered")
	}
	connect(c, "proto::p-0") // known: no change
	check(c, "a pending agent again", 4)
	if err := c.Approve(ctx, "proto::p-0"); err != nil {
		t.Fatal(err)
	}
	check(c, "approved one", 3)
	if err := c.Approve(ctx, "proto::p-0"); err != nil {
		t.Fatal(err)
	}
	check(c, "approved it again", 3)
	if err := c.DeleteAgent(ctx, "proto::p-1"); err != nil { // denied
		t.Fatal(err)
	}
	check(c, "denied one", 2)
	if err := c.DeleteAgent(ctx, "proto::p-0"); err != nil { // an admitted one
		t.Fatal(err)
	}
	check(c, "deleted an admitted one", 2)
	for i := 10; i < 14; i++ {
		connect(c, fmt.Sprintf("proto::p-%d", i))
	}
	check(c, "refilled", 4)
	if err := c.Approve(ctx, "proto::p-10"); err != nil {
		t.Fatal(err)
	}
	check(c, "approved another", 3)

	c = open() // restart on the same store
	check(c, "after a restart", 3)
	connect(c, "proto::p-20")
	connect(c, "proto::p-21")
	check(c, "new agents after the restart", 4)
	if _, ok := c.Agent("proto::p-21"); ok {
		t.Fatal("after the restart, an agent beyond MaxPending was registered")
	}
	if err := c.DeleteAgent(ctx, "proto::p-20"); err != nil {
		t.Fatal(err)
	}
	check(c, "denied after the restart", 3)
}
