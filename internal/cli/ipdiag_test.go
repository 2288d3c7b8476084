package cli_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/wire"
)

// TestAgentIPPing: a Controller runs Device.IP.Diagnostics.IPPing() on
// `usp agent` through Operate; the OperateResp names the Request object
// and the OperationComplete notification carries the results [R-OPR.1]
// [R-NOT.9].
func TestAgentIPPing(t *testing.T) {
	bin := buildUSP(t)
	c, srv := discWSController(t)
	_, p, _ := net.SplitHostPort(srv.Addr().String())
	const id = "os::012345-IPDIAG1"
	ctrls := fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n          host: 127.0.0.1\n          port: %s\n          path: /usp\n", mtpCtrlID, p)
	startAgentProcessWith(t, bin, id, "", ctrls)
	waitAgent(t, c, id, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: "Device.IP.Diagnostics.IPPing()",
		CommandKey: "ping-1", SendResp: true, InputArgs: map[string]string{"Host": "127.0.0.1", "ProtocolVersion": "IPv4",
			"NumberOfRepetitions": "3", "Timeout": "1000", "DataBlockSize": "64"}}}})
	if err != nil {
		t.Fatal(err)
	}
	res := m.GetBody().GetResponse().GetOperateResp().GetOperationResults()
	if len(res) != 1 || res[0].GetReqObjPath() == "" {
		t.Fatalf("OperateResp: %v", m)
	}
	for ctx.Err() == nil {
		for _, op := range c.Operations(id) {
			if op.CommandKey != "ping-1" || op.Status == "running" {
				continue
			}
			if op.Status != "complete" || op.Output["Status"] != "Complete" || op.Output["SuccessCount"] != "3" || op.Output["FailureCount"] != "0" {
				t.Fatalf("operation: %+v", op)
			}
			if n, err := strconv.Atoi(op.Output["MaximumResponseTimeDetailed"]); err != nil || n <= 0 {
				t.Errorf("MaximumResponseTimeDetailed %q", op.Output["MaximumResponseTimeDetailed"])
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no OperationComplete: %+v", c.Operations(id))
}

// TestConformance192: the runner's case 1.92 passes against `usp agent`:
// TraceRoute() without its optional arguments sends 3 probes 5000 ms
// apart to a silent first hop (TP-469 1.92).
func TestConformance192(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: waits 10 s (-short)")
	}
	bin := buildUSP(t)
	const id = "os::012345-C192"
	port := testenv.FreePort(t)
	startAgentProcessWith(t, bin, id, fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n", port),
		"    - endpoint_id: proto::uspkit-conformance\n      mtps:\n        - protocol: WebSocket\n")
	r := runConformanceProcess(t, bin, "--agent", id, "--mtp", "ws", "--url", fmt.Sprintf("ws://127.0.0.1:%d/usp", port), "--run", "1.92")
	if len(r.Results) != 1 || r.Results[0].ID != "1.92" || r.Results[0].Status != "pass" {
		t.Fatalf("%+v", r.Results)
	}
}

// TestAgentUDPEchoConfigKept: the UDP echo server a Controller turns on
// in Device.IP.Diagnostics.UDPEchoConfig answers, and answers again after
// `usp agent` restarts.
func TestAgentUDPEchoConfigKept(t *testing.T) {
	bin := buildUSP(t)
	c, srv := discWSController(t)
	_, p, _ := net.SplitHostPort(srv.Addr().String())
	const id = "os::012345-IPDIAG2"
	ctrls := fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n          host: 127.0.0.1\n          port: %s\n          path: /usp\n", mtpCtrlID, p)
	stop := startAgentProcessWith(t, bin, id, "", ctrls)
	waitAgent(t, c, id, true)
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	pc.Close()
	m, err := c.Do(t.Context(), id, &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{
		ObjPath: "Device.IP.Diagnostics.UDPEchoConfig.", ParamSettings: []*wire.Set_UpdateParamSetting{
			{Param: "Enable", Value: "true", Required: true}, {Param: "UDPPort", Value: port, Required: true}}}}}}})
	if err != nil || m.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("Set: %v %v", m, err)
	}
	echo := func() bool {
		conn, err := net.Dial("udp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for range 50 { // the server may be starting
			conn.Write([]byte("hello"))
			conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
			b := make([]byte, 16)
			if n, err := conn.Read(b); err == nil && string(b[:n]) == "hello" {
				return true
			}
			time.Sleep(100 * time.Millisecond)
		}
		return false
	}
	if !echo() {
		t.Fatal("the echo server does not answer")
	}
	stop()()
	waitAgent(t, c, id, true)
	if !echo() {
		t.Fatal("the echo server does not answer after a restart")
	}
}

// TestAgentDiagnosticsCancel: Device.LocalAgent.Request.{i}.Cancel() ends
// a diagnostics test at once; its OperationComplete carries the failure
// (7023, Command canceled) instead of results.
func TestAgentDiagnosticsCancel(t *testing.T) {
	bin := buildUSP(t)
	c, srv := discWSController(t)
	_, p, _ := net.SplitHostPort(srv.Addr().String())
	const id = "os::012345-IPDIAG3"
	ctrls := fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n          host: 127.0.0.1\n          port: %s\n          path: /usp\n", mtpCtrlID, p)
	startAgentProcessWith(t, bin, id, "", ctrls)
	waitAgent(t, c, id, true)
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // takes the datagrams, answers none
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	port := strconv.Itoa(silent.LocalAddr().(*net.UDPAddr).Port)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: "Device.IP.Diagnostics.UDPEchoDiagnostics()",
		CommandKey: "echo-1", SendResp: true, InputArgs: map[string]string{"Host": "127.0.0.1", "Port": port, "Timeout": "60000"}}}})
	if err != nil {
		t.Fatal(err)
	}
	res := m.GetBody().GetResponse().GetOperateResp().GetOperationResults()
	if len(res) != 1 || res[0].GetReqObjPath() == "" {
		t.Fatalf("OperateResp: %v", m)
	}
	start := time.Now()
	if m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: res[0].GetReqObjPath() + "Cancel()",
		SendResp: true}}}); err != nil || m.GetBody().GetResponse().GetOperateResp() == nil {
		t.Fatalf("Cancel(): %v %v", m, err)
	}
	for ctx.Err() == nil {
		for _, op := range c.Operations(id) {
			if op.CommandKey != "echo-1" || op.Status == "running" {
				continue
			}
			if op.Status != "failed" || op.ErrCode != 7023 {
				t.Fatalf("operation: %+v", op)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("the test ended %v after Cancel()", took)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no OperationComplete: %+v", c.Operations(id))
}
