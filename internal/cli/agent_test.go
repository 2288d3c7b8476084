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
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

func TestAgentConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"colour":              "endpoint_id: os::012345-A1\ncolour: red\n",
		"endpoint_id":         "endpoint_id: nope\n",
		"mtps[0].protocol":    "endpoint_id: os::012345-A1\nmtps:\n  - protocol: CoAP\n",
		"controllers[0].role": "endpoint_id: os::012345-A1\nfactory:\n  controllers:\n    - endpoint_id: proto::c\n      role: Boss\n",
		"log_level":           "endpoint_id: os::012345-A1\nlog_level: loud\n",
		"mtps[1].alias":       "endpoint_id: os::012345-A1\nmtps:\n  - protocol: UDS\n    socket: /tmp/x\n    alias: mine\n  - protocol: UDS\n    socket: /tmp/y\n    alias: mine\n",
		"mtps[0].alias":       "endpoint_id: os::012345-A1\nmtps:\n  - protocol: UDS\n    socket: /tmp/x\n    alias: 1st\n",
		"mtps[0].max_record":  "endpoint_id: os::012345-A1\nmtps:\n  - protocol: UDS\n    socket: /tmp/x\n    max_record: 100\n",
	}
	for key, text := range cases {
		p := filepath.Join(dir, "bad.yaml")
		os.WriteFile(p, []byte(text), 0o600)
		_, stderr, code := run(t, nil, "agent", "--config", p)
		if code != 1 || !strings.Contains(stderr, key) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%s: status %d, stderr %q", key, code, stderr)
		}
	}
}

// TestAgentProcess runs `usp agent` as a process with a WebSocket server
// MTP and talks to it as a Controller over the real MTP; it also reports
// the idle RSS of the process.
func TestAgentProcess(t *testing.T) {
	bin := buildUSP(t)
	dir := t.TempDir()
	port := testenv.FreePort(t)
	conf := fmt.Sprintf(`endpoint_id: os::012345-PROC1
data: %s
log_level: warn
mtps:
  - protocol: WebSocket
    listen: 127.0.0.1:%d
    path: /usp
factory:
  controllers:
    - endpoint_id: proto::ctl-proc
`, dir, port)
	cfgPath := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfgPath, []byte(conf), 0o600)
	cmd := exec.Command(bin, "agent", "--config", cfgPath)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "ready") {
		t.Fatalf("first line %q: %v", line, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replies := make(chan *wire.Msg, 10)
	cli := ws.NewClient(&ws.Options{URL: fmt.Sprintf("ws://127.0.0.1:%d/usp", port), EndpointID: "proto::ctl-proc", MinWait: 100 * time.Millisecond})
	go cli.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		var rec record.Record
		if record.Decode(in.Record, &rec, nil) != nil || rec.Type != record.TypeNoSessionContext {
			return
		}
		var m wire.Msg
		if proto.Unmarshal(rec.Payload, &m) == nil {
			replies <- &m
		}
	}))
	defer cli.Close()

	get := &wire.Msg{Header: &wire.Header{MsgId: "g1", MsgType: wire.Header_GET}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{
		ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.EndpointID", "Device.DeviceInfo.UpTime", "Device.Nope."}}}}}}}
	payload, _ := proto.Marshal(get)
	b, _ := record.NewNoSession("os::012345-PROC1", "proto::ctl-proc", payload).MarshalBinary()
	if err := cli.Send(ctx, "", b); err != nil {
		t.Fatal(err)
	}
	var r *wire.Msg
	select {
	case r = <-replies:
	case <-time.After(10 * time.Second):
		t.Fatal("no GetResp")
	}
	res := r.GetBody().GetResponse().GetGetResp().GetReqPathResults()
	if len(res) != 3 || res[0].GetResolvedPathResults()[0].GetResultParams()["EndpointID"] != "os::012345-PROC1" ||
		res[1].GetResolvedPathResults()[0].GetResultParams()["UpTime"] == "" || res[2].GetErrCode() != 7026 {
		t.Fatalf("GetResp: %v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "agent.journal")); err != nil {
		t.Errorf("no store (the journal, the default) in the data directory: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	if rss := vmRSS(cmd.Process.Pid); rss > 0 {
		t.Logf("idle RSS of usp agent: %d KiB", rss)
	}
}

func vmRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	return 0
}
