package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/wire"
)

// TestUSPBrokerProcesses: `usp agent` as a USP Broker, two `usp service`
// processes on its sockets, a Controller over MQTT. One message reaches
// both Services and the Broker's own objects; a Service killed with
// SIGKILL in the middle of a request gives the Controller an error at once,
// the Broker stays up, and the Service registers again when restarted.
func TestUSPBrokerProcesses(t *testing.T) {
	b := startUSPBroker(t, "", "")
	ctl, brokerID := b.ctl, b.id
	service := func(id, object string) *uspProc { return b.service(t, id, object, true) }
	ctx := context.Background()
	do := func(r *wire.Request) *wire.Msg {
		t.Helper()
		m, err := ctl.Do(ctx, brokerID, r)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	waitPath := func(p string) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			m := do(&wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{p}}}})
			if rp := m.GetBody().GetResponse().GetGetResp().GetReqPathResults(); len(rp) == 1 && rp[0].GetErrCode() == 0 {
				return
			}
		}
		t.Fatalf("%s never became readable through the Broker", p)
	}
	service("SVC1", "Device.X_USPKIT_Example.")
	svc2 := service("SVC2", "Device.X_USPKIT_Other.")
	waitPath("Device.X_USPKIT_Example.Name")
	waitPath("Device.X_USPKIT_Other.Name")

	// One Get across both Services and the Broker.
	got := getParams(t, ctl, brokerID, "Device.X_USPKIT_Example.Name", "Device.X_USPKIT_Other.", "Device.LocalAgent.EndpointID")
	for k, v := range map[string]string{"Device.X_USPKIT_Example.Name": "example", "Device.X_USPKIT_Other.Counter": "0", "Device.LocalAgent.EndpointID": brokerID} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (%v)", k, got[k], v, got)
		}
	}
	// One Set across both Services and the Broker, allow_partial false.
	sm := do(&wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{
		{ObjPath: "Device.X_USPKIT_Example.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Name", Value: "one"}}},
		{ObjPath: "Device.LocalAgent.Controller.1.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "PeriodicNotifInterval", Value: "777"}}},
		{ObjPath: "Device.X_USPKIT_Other.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Name", Value: "two"}}},
	}}}})
	if rs := sm.GetBody().GetResponse().GetSetResp().GetUpdatedObjResults(); len(rs) != 3 {
		t.Fatalf("set: %v", sm)
	}
	got = getParams(t, ctl, brokerID, "Device.*.Name", "Device.LocalAgent.Controller.1.PeriodicNotifInterval")
	if got["Device.X_USPKIT_Example.Name"] != "one" || got["Device.X_USPKIT_Other.Name"] != "two" || got["Device.LocalAgent.Controller.1.PeriodicNotifInterval"] != "777" {
		t.Errorf("after the Set: %v", got)
	}
	// Add in both Services, then Delete both with one message.
	am := do(&wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{
		{ObjPath: "Device.X_USPKIT_Example.Item.", ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Name", Value: "a"}}},
		{ObjPath: "Device.X_USPKIT_Other.Item.", ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Name", Value: "b"}}},
	}}}})
	ar := am.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()
	if len(ar) != 2 || ar[1].GetOperStatus().GetOperSuccess().GetInstantiatedPath() != "Device.X_USPKIT_Other.Item.1." {
		t.Fatalf("add: %v", am)
	}
	dm := do(&wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{ObjPaths: []string{"Device.X_USPKIT_Example.Item.1.", "Device.X_USPKIT_Other.Item.1."}}}})
	if dr := dm.GetBody().GetResponse().GetDeleteResp().GetDeletedObjResults(); len(dr) != 2 || dr[1].GetOperStatus().GetOperSuccess() == nil {
		t.Fatalf("delete: %v", dm)
	}
	om := do(&wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: "Device.X_USPKIT_Other.Increment()", SendResp: true}}})
	if out := om.GetBody().GetResponse().GetOperateResp().GetOperationResults(); len(out) != 1 || out[0].GetReqOutputArgs().GetOutputArgs()["Counter"] != "1" {
		t.Fatalf("operate: %v", om)
	}
	// Both Services have a Controller on the Broker's Agent socket.
	sv := getParams(t, ctl, brokerID, "Device.USPServices.USPService.*.HasController", "Device.USPServices.USPService.*.DataModelPaths")
	var paths []string
	for k, v := range sv {
		if strings.HasSuffix(k, "DataModelPaths") {
			paths = append(paths, v)
		}
	}
	sort.Strings(paths)
	if !slices.Equal(paths, []string{"Device.X_USPKIT_Example.", "Device.X_USPKIT_Other."}) {
		t.Errorf("USPServices: %v", sv)
	}

	// Subscriptions on the Services' paths reach the Controller, under its
	// subscription IDs, through the Broker.
	events, stopEvents := ctl.Subscribe()
	defer stopEvents()
	for _, sub := range [][3]string{{"b-vc", "ValueChange", "Device.X_USPKIT_Example.Name"}, {"b-oc", "ObjectCreation", "Device.X_USPKIT_Other.Item."},
		{"b-opc", "OperationComplete", "Device.X_USPKIT_Other.Wait()"}} {
		m := do(&wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.",
			ParamSettings: []*wire.Add_CreateParamSetting{{Param: "ID", Value: sub[0]}, {Param: "NotifType", Value: sub[1]}, {Param: "ReferenceList", Value: sub[2]},
				{Param: "Enable", Value: "true"}, {Param: "NotifRetry", Value: "true"}}}}}}})
		if m.GetBody().GetError() != nil {
			t.Fatalf("subscription %s: %v", sub[0], m)
		}
	}
	waitEvent := func(what string, parts ...string) {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case e := <-events:
				if e.Kind != "notify" {
					continue
				}
				ok := true
				for _, p := range parts {
					ok = ok && strings.Contains(string(e.Msg), p)
				}
				if ok {
					return
				}
			case <-deadline:
				t.Fatalf("no Notify for %s", what)
			}
		}
	}
	// The Broker's subscriptions on the Services are added in the
	// background: retry the change until the Notify comes.
	for i := 0; ; i++ {
		do(&wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{
			{ObjPath: "Device.X_USPKIT_Example.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Name", Value: fmt.Sprintf("v%d", i)}}}}}}})
		select {
		case e := <-events:
			if e.Kind == "notify" && strings.Contains(string(e.Msg), "b-vc") && strings.Contains(string(e.Msg), "Device.X_USPKIT_Example.Name") {
				goto subscribed
			}
		case <-time.After(300 * time.Millisecond):
		}
		if i == 50 {
			t.Fatal("no ValueChange through the Broker")
		}
	}
subscribed:
	do(&wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{
		{ObjPath: "Device.X_USPKIT_Other.Item.", ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Name", Value: "c"}}}}}}})
	waitEvent("ObjectCreation", "b-oc", "Device.X_USPKIT_Other.Item.2.")
	om = do(&wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: "Device.X_USPKIT_Other.Wait()", CommandKey: "ck", SendResp: true,
		InputArgs: map[string]string{"Milliseconds": "100"}}}})
	if p := om.GetBody().GetResponse().GetOperateResp().GetOperationResults()[0].GetReqObjPath(); !strings.HasPrefix(p, "Device.LocalAgent.Request.") {
		t.Fatalf("async operate: %v", om)
	}
	waitEvent("OperationComplete", "b-opc", "Wait()", "ck")

	// Proxy overhead: Get of a Service's parameter against a local one,
	// interleaved, over the same MQTT path.
	const rounds = 200
	var viaSvc, local []time.Duration
	for range rounds {
		for _, p := range []string{"Device.X_USPKIT_Example.Name", "Device.LocalAgent.EndpointID"} {
			start := time.Now()
			do(&wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{p}}}})
			if p == "Device.LocalAgent.EndpointID" {
				local = append(local, time.Since(start))
			} else {
				viaSvc = append(viaSvc, time.Since(start))
			}
		}
	}
	med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	t.Logf("Get round trip over MQTT, median of %d: through the Broker to a Service %v, local object %v, ratio %.2f",
		rounds, med(viaSvc), med(local), float64(med(viaSvc))/float64(med(local)))

	// SIGKILL a Service in the middle of a synchronous command.
	res := make(chan *wire.Msg, 1)
	sent := time.Now()
	go func() {
		m, _ := ctl.Do(ctx, brokerID, &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: "Device.X_USPKIT_Other.Pause()",
			SendResp: true, InputArgs: map[string]string{"Milliseconds": "10000"}}}})
		res <- m
	}()
	time.Sleep(500 * time.Millisecond)
	svc2.cmd.Process.Kill()
	svc2.cmd.Wait()
	select {
	case m := <-res:
		if m.GetBody().GetError() == nil {
			t.Errorf("operate on a killed Service: %v", m)
		}
		if d := time.Since(sent); d > 5*time.Second {
			t.Errorf("the error came after %v", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no answer after the Service was killed")
	}
	// The Broker is up; the Service's paths are gone.
	if got := getParams(t, ctl, brokerID, "Device.LocalAgent.EndpointID"); got["Device.LocalAgent.EndpointID"] != brokerID {
		t.Fatalf("broker after the kill: %v", got)
	}
	gm := do(&wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.X_USPKIT_Other.Name"}}}})
	if rp := gm.GetBody().GetResponse().GetGetResp().GetReqPathResults(); len(rp) != 1 || rp[0].GetErrCode() != 7026 {
		t.Errorf("a killed Service's path: %v", gm)
	}
	// Restarted, it registers again.
	service("SVC2", "Device.X_USPKIT_Other.")
	waitPath("Device.X_USPKIT_Other.Name")
	if got := getParams(t, ctl, brokerID, "Device.USPServices.USPServiceNumberOfEntries"); got["Device.USPServices.USPServiceNumberOfEntries"] != "2" {
		t.Errorf("services after the restart: %v", got)
	}
}

// uspBroker is a `usp agent` running as a USP Broker, with a Controller
// over MQTT.
type uspBroker struct {
	bin, id, dir, ctlSock, agentSock, mq string
	ctl                                  *controller.Controller
	proc                                 *uspProc
}

// startUSPBroker runs the Broker with its MQTT MTP and mtps, and
// mtpCtrlID and controllers as its factory Controllers (YAML list items).
func startUSPBroker(t *testing.T, mtps, controllers string) *uspBroker {
	t.Helper()
	return startUSPBrokerWith(t, mtps, controllers, "")
}

// startUSPBrokerWith is startUSPBroker with more lines (indented) in the
// usp_broker section.
func startUSPBrokerWith(t *testing.T, mtps, controllers, brokerExtra string) *uspBroker {
	t.Helper()
	bin := buildUSP(t)
	mq := testenv.Mosquitto(t)
	dir, err := os.MkdirTemp("", "uspb") // socket paths stay short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	const brokerID = "os::012345-USPBROKER"
	ctl := runController(t, "MQTT", func(onState mtp.StateFunc) mtp.Transport {
		return mqtt.NewClient(&mqtt.Options{URL: "tcp://" + mq, EndpointID: mtpCtrlID, Topic: "usp/controller", MinWait: 200 * time.Millisecond, OnState: onState})
	})
	ctlSock, agentSock := filepath.Join(dir, "c"), filepath.Join(dir, "a")
	proc := startConfigured(t, bin, "agent", dir, "agent.yaml", fmt.Sprintf(`endpoint_id: %s
data: %s
log_level: error
mtps:
  - protocol: MQTT
    url: tcp://%s
    topic: usp/agent/uspbroker
%sfactory:
  controllers:
    - endpoint_id: %s
      mtps:
        - protocol: MQTT
          topic: usp/controller
%susp_broker:
  controller_socket: %s
  agent_socket: %s
  timeout: 20s
%s`, brokerID, filepath.Join(dir, "data"), mq, mtps, mtpCtrlID, controllers, ctlSock, agentSock, brokerExtra))
	waitAgent(t, ctl, brokerID, true)
	return &uspBroker{bin: bin, id: brokerID, dir: dir, mq: mq, ctlSock: ctlSock, agentSock: agentSock, ctl: ctl, proc: proc}
}

// service starts `usp service` with the example object at object; with
// ctl, its Controller connects to the Broker's Agent socket too.
func (b *uspBroker) service(t *testing.T, id, object string, ctl bool) *uspProc {
	t.Helper()
	return b.serviceWith(t, id, object, ctl, "")
}

// serviceWith is service with more lines in the Service's configuration.
func (b *uspBroker) serviceWith(t *testing.T, id, object string, ctl bool, extra string) *uspProc {
	t.Helper()
	conf := fmt.Sprintf("endpoint_id: os::012345-%s\nlog_level: error\nsocket: %s\nobject: %s\n", id, b.ctlSock, object)
	if ctl {
		conf += "agent_socket: " + b.agentSock + "\n"
	}
	return startConfigured(t, b.bin, "service", b.dir, id+".yaml", conf+extra)
}

// TestUSPBrokerEightServices measures, for docs/perf.md, the Broker's
// resident memory per connected Service and its throughput of Gets spread
// over 8 Services against the same load on a local object (1 s each, 3 s
// with USP_BENCH=1).
func TestUSPBrokerEightServices(t *testing.T) {
	b := startUSPBroker(t, "", "")
	ctx := context.Background()
	pid := b.proc.cmd.Process.Pid
	time.Sleep(500 * time.Millisecond)
	before := rss(pid)
	const n = 8
	var paths []string
	for i := range n {
		obj := fmt.Sprintf("Device.X_USPKIT_S%d.", i)
		b.service(t, fmt.Sprintf("S%d", i), obj, false)
		paths = append(paths, obj+"Name")
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		m, err := b.ctl.Do(ctx, b.id, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths}}})
		ok := err == nil
		for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
			ok = ok && rp.GetErrCode() == 0
		}
		if ok && m.GetBody().GetResponse() != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %d Services did not all register: %v %v", n, m, err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	after := rss(pid)
	dur := time.Second
	if os.Getenv("USP_BENCH") == "1" {
		dur = 3 * time.Second
	}
	load := func(pick func(i int) string) float64 {
		var done atomic.Int64
		stop := time.Now().Add(dur)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := w; time.Now().Before(stop); i++ {
					m, err := b.ctl.Do(ctx, b.id, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{pick(i)}}}})
					if err != nil || m.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetErrCode() != 0 {
						t.Errorf("get %s: %v %v", pick(i), m, err)
						return
					}
					done.Add(1)
				}
			})
		}
		wg.Wait()
		return float64(done.Load()) / dur.Seconds()
	}
	viaServices := load(func(i int) string { return paths[i%n] })
	local := load(func(int) string { return "Device.LocalAgent.EndpointID" })
	t.Logf("Broker RSS %d KiB with no Service, %d KiB with %d (%.0f KiB per Service); Gets over MQTT, 16 in flight: %.0f/s spread over %d Services, %.0f/s on a local object (ratio %.2f)",
		before, after, n, float64(after-before)/n, viaServices, n, local, local/viaServices)
}

// TestConformanceThroughUSPBroker runs the TP-469 runner against `usp
// agent` as a USP Broker with two USP Services registered: the cases, on
// Device.LocalAgent (which the Broker keeps), pass as without Services,
// with Get, GetInstances and GetSupportedDM of Device. merging the
// Services' objects.
func TestConformanceThroughUSPBroker(t *testing.T) {
	if os.Getenv("USP_CONFORMANCE_ALL") == "" {
		t.Skip("a whole TP-469 run through the Broker: set USP_CONFORMANCE_ALL=1")
	}
	b := startUSPBroker(t, "", "    - endpoint_id: proto::uspkit-conformance\n      mtps:\n        - protocol: MQTT\n          topic: usp/controller/conformance\n")
	b.service(t, "C1", "Device.X_USPKIT_Example.", true)
	b.service(t, "C2", "Device.X_USPKIT_Other.", false)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got := getParams(t, b.ctl, b.id, "Device.USPServices.USPServiceNumberOfEntries")
		if got["Device.USPServices.USPServiceNumberOfEntries"] == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("services: %v", got)
		}
	}
	r := runConformanceProcess(t, b.bin, "--agent", b.id, "--mtp", "mqtt", "--url", "tcp://"+b.mq, "--topic", "usp/controller/conformance",
		"--agent-topic", "usp/agent/uspbroker", "--second-id", "proto::second")
	if r.Passed < 100 {
		t.Errorf("only %d cases passed", r.Passed)
	}
	// The Services are still registered and answer.
	if got := getParams(t, b.ctl, b.id, "Device.X_USPKIT_Example.Name", "Device.X_USPKIT_Other.Name"); len(got) != 2 {
		t.Errorf("after the run: %v", got)
	}
}
