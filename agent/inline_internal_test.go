package agent

import (
	"testing"
	"time"

	"github.com/uspkit/uspkit/wire"
)

func TestSmallRead(t *testing.T) {
	getReq := func(paths ...string) *wire.Request {
		return &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths}}}
	}
	for _, tc := range []struct {
		name string
		req  *wire.Request
		want bool
	}{
		{"one parameter", getReq("Device.LocalAgent.EndpointID"), true},
		{"eight parameters", getReq("Device.A", "Device.B", "Device.C", "Device.D", "Device.E", "Device.F", "Device.G", "Device.H"), true},
		{"nine parameters", getReq("Device.A", "Device.B", "Device.C", "Device.D", "Device.E", "Device.F", "Device.G", "Device.H", "Device.I"), false},
		{"no path", getReq(), false},
		{"empty path", getReq(""), false},
		{"object path", getReq("Device.DeviceInfo."), false},
		{"wildcard", getReq("Device.LocalAgent.Subscription.*.ID"), false},
		{"search", getReq(`Device.LocalAgent.Subscription.[ID=="x"].Enable`), false},
		{"one small, one object", getReq("Device.LocalAgent.EndpointID", "Device."), false},
		{"GetSupportedProtocol", &wire.Request{ReqType: &wire.Request_GetSupportedProtocol{GetSupportedProtocol: &wire.GetSupportedProtocol{}}}, true},
		{"GetInstances", &wire.Request{ReqType: &wire.Request_GetInstances{GetInstances: &wire.GetInstances{ObjPaths: []string{"Device.LocalAgent.Subscription."}}}}, false},
		{"Set", &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := smallRead(tc.req); got != tc.want {
				t.Errorf("smallRead = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTryRead checks that a read taken without waiting keeps the order of
// docs/ARCHITECTURE.md: it starts beside other reads from the Controller,
// not while a request that may change something is in progress or waits
// for earlier ones; and the Controller's entry goes once every request
// ended.
func TestTryRead(t *testing.T) {
	o := newOrderer()
	r1 := o.tryRead("c")
	if r1 == nil {
		t.Fatal("first read refused")
	}
	r2 := o.tryRead("c")
	if r2 == nil {
		t.Fatal("a read beside a read refused")
	}
	// A write arrives: it waits for the two reads, and a read after it
	// may not start before it.
	wrote := make(chan func())
	go func() { wrote <- o.acquire("c", false) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		o.mu.Lock()
		refs := o.locks["c"].refs
		o.mu.Unlock()
		if refs == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // the write is in Lock
	if o.tryRead("c") != nil {
		t.Fatal("a read started while a write waited before it")
	}
	if other := o.tryRead("d"); other == nil {
		t.Fatal("a read from another Controller refused")
	} else {
		o.endRead("d", other)
	}
	o.endRead("c", r1)
	o.endRead("c", r2)
	release := <-wrote
	if o.tryRead("c") != nil {
		t.Fatal("a read started while a write was in progress")
	}
	release()
	r3 := o.tryRead("c")
	if r3 == nil {
		t.Fatal("a read after the write refused")
	}
	o.endRead("c", r3)
	if n := len(o.locks); n != 0 {
		t.Errorf("%d order entries left, want 0", n)
	}
}
