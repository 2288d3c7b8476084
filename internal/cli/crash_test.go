package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// wsController is a minimal Controller over a WebSocket client, for
// process tests.
type wsController struct {
	cli      *ws.Client
	id, to   string
	seq      atomic.Int64
	replies  chan *wire.Msg
	cancel   context.CancelFunc
	onNotify func(*wire.Msg) // set before the first Notify arrives
}

func dialController(t *testing.T, url, id, to string) *wsController {
	ctx, cancel := context.WithCancel(context.Background())
	c := &wsController{cli: ws.NewClient(&ws.Options{URL: url, EndpointID: id, MinWait: 100 * time.Millisecond}), id: id, to: to,
		replies: make(chan *wire.Msg, 16), cancel: cancel}
	go c.cli.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		var rec record.Record
		if record.Decode(in.Record, &rec, nil) != nil || rec.Type != record.TypeNoSessionContext {
			return
		}
		var m wire.Msg
		if proto.Unmarshal(rec.Payload, &m) != nil {
			return
		}
		if n := m.GetBody().GetRequest().GetNotify(); n != nil {
			if c.onNotify != nil {
				c.onNotify(&m)
			}
			if n.GetSendResp() {
				ack := &wire.Msg{Header: &wire.Header{MsgId: m.GetHeader().GetMsgId(), MsgType: wire.Header_NOTIFY_RESP}, Body: &wire.Body{MsgBody: &wire.Body_Response{
					Response: &wire.Response{RespType: &wire.Response_NotifyResp{NotifyResp: &wire.NotifyResp{SubscriptionId: n.GetSubscriptionId()}}}}}}
				payload, _ := proto.Marshal(ack)
				b, _ := record.NewNoSession(c.to, c.id, payload).MarshalBinary()
				c.cli.Send(ctx, "", b)
			}
			return
		}
		if m.GetBody().GetRequest() == nil {
			c.replies <- &m
		}
	}))
	t.Cleanup(func() { cancel(); c.cli.Close() })
	return c
}

// do sends a request and waits for its reply; nil on timeout.
func (c *wsController) do(req *wire.Request, timeout time.Duration) *wire.Msg {
	id := fmt.Sprintf("m%d", c.seq.Add(1))
	m := &wire.Msg{Header: &wire.Header{MsgId: id}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}}
	payload, _ := proto.Marshal(m)
	b, _ := record.NewNoSession(c.to, c.id, payload).MarshalBinary()
	if c.cli.Send(context.Background(), "", b) != nil {
		return nil
	}
	deadline := time.After(timeout)
	for {
		select {
		case r := <-c.replies:
			if r.GetHeader().GetMsgId() == id {
				return r
			}
		case <-deadline:
			return nil
		}
	}
}

// TestAgentCrashLosesNothing: `usp agent` is killed with SIGKILL during a
// stream of Sets; after a restart every acknowledged value is there. Once
// for each store driver.
func TestAgentCrashLosesNothing(t *testing.T) {
	bin := buildUSP(t)
	for _, st := range []string{"sqlite", "journal", "bolt"} {
		t.Run(st, func(t *testing.T) { agentCrashLosesNothing(t, bin, st) })
	}
}

func agentCrashLosesNothing(t *testing.T, bin, store string) {
	dir := t.TempDir()
	port := testenv.FreePort(t)
	conf := fmt.Sprintf("endpoint_id: os::012345-CRASH\ndata: %s\nstore: %s\nlog_level: error\nmtps:\n  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n"+
		"factory:\n  controllers:\n    - endpoint_id: proto::crash-ctl\n", dir, store, port)
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte(conf), 0o600)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "agent", "--config", cfg)
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.Contains(line, "ready") {
			t.Fatalf("agent: %q %v", line, err)
		}
		return cmd
	}
	cmd := start()
	url := fmt.Sprintf("ws://127.0.0.1:%d/", port)
	c := dialController(t, url, "proto::crash-ctl", "os::012345-CRASH")
	set := func(v int) *wire.Request {
		return &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.",
			ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "PeriodicNotifInterval", Value: strconv.Itoa(v), Required: true}}}}}}}
	}
	acked := 0
	killed := make(chan struct{})
	go func() {
		time.Sleep(700 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		close(killed)
	}()
	for v := 1; v < 100000; v++ {
		r := c.do(set(v), 2*time.Second)
		if r == nil {
			break
		}
		if r.GetBody().GetResponse().GetSetResp() == nil {
			t.Fatalf("set %d: %v", v, r)
		}
		acked = v
	}
	<-killed
	cmd.Wait()
	if acked < 5 {
		t.Fatalf("only %d Sets acknowledged before the kill", acked)
	}
	cmd = start()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	c2 := dialController(t, url, "proto::crash-ctl", "os::012345-CRASH")
	var r *wire.Msg
	for i := 0; i < 50 && r == nil; i++ {
		r = c2.do(&wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.Controller.1.PeriodicNotifInterval"}}}}, 200*time.Millisecond)
	}
	if r == nil {
		t.Fatal("no answer after the restart")
	}
	got, _ := strconv.Atoi(r.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetResolvedPathResults()[0].GetResultParams()["PeriodicNotifInterval"])
	if got < acked {
		t.Fatalf("after the crash PeriodicNotifInterval = %d, but %d was acknowledged", got, acked)
	}
	t.Logf("%d Sets acknowledged before SIGKILL; %d found after the restart", acked, got)
}
