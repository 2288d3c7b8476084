package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/api"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// restartableController is `usp controller` with its WebSocket MTP on a
// fixed port and its API on any, which can be stopped and started again
// on its data directory.
type restartableController struct {
	t        *testing.T
	bin, cfg string
	cmd      *exec.Cmd
	api, ws  string
}

func newRestartableController(t *testing.T, bin, data string) *restartableController {
	t.Helper()
	wsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	conf := fmt.Sprintf("endpoint_id: proto::follow-ctl\ndata: %s\nlog_level: error\nhttp: 127.0.0.1:0\nwebsocket: 127.0.0.1:0\nadmission: all\n"+
		"mtps:\n  - name: lab\n    protocol: WebSocket\n    listen: %s\n    path: /usp\n    identity: claimed\n", data, wsAddr)
	r := &restartableController{t: t, bin: bin, cfg: filepath.Join(data, "controller.yaml"), ws: "ws://" + wsAddr + "/usp"}
	if err := os.WriteFile(r.cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	r.start()
	return r
}

func (r *restartableController) start() {
	r.t.Helper()
	cmd := exec.Command(r.bin, "controller", "--config", r.cfg)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.cmd = cmd
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "api":
			r.api = v
		case "ready":
			go func() {
				for sc.Scan() {
				}
			}()
			return
		}
	}
	r.t.Fatalf("usp controller did not get ready: %v", sc.Err())
}

func (r *restartableController) stop() {
	if r.cmd == nil {
		return
	}
	if _, inTime := interrupt(r.cmd, 10*time.Second); !inTime {
		r.t.Error("usp controller did not stop on SIGINT")
	}
	r.cmd = nil
}

// notifyOnce connects to the Controller's WebSocket server as Agent id
// and sends an Event Notification with msg_id msgID; it reports whether
// the Records went out.
func notifyOnce(ctx context.Context, wsURL, ctrlID, id, msgID string) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL+"?eid="+id, &websocket.DialOptions{Subprotocols: []string{"v1.usp"}})
	if err != nil {
		return false
	}
	defer c.CloseNow()
	m := &wire.Msg{Header: &wire.Header{MsgId: msgID, MsgType: wire.Header_NOTIFY}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{
		ReqType: &wire.Request_Notify{Notify: &wire.Notify{SubscriptionId: "follow",
			Notification: &wire.Notify_Event_{Event: &wire.Notify_Event{ObjPath: "Device.", EventName: "Boot!"}}}}}}}}
	payload, _ := proto.Marshal(m)
	for _, rec := range []*record.Record{record.NewWebSocketConnect(ctrlID, id), record.NewNoSession(ctrlID, id, payload)} {
		b, _ := rec.MarshalBinary()
		if c.Write(ctx, websocket.MessageBinary, b) != nil {
			return false
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	return true
}

// storedSeqs returns the Seq of every event the Controller keeps.
func storedSeqs(t *testing.T, apiURL, token string) []uint64 {
	t.Helper()
	req, _ := http.NewRequest("GET", apiURL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Events []struct {
			Seq uint64 `json:"seq"`
		} `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	out := make([]uint64, len(list.Events))
	for i, e := range list.Events {
		out[i] = e.Seq
	}
	return out
}

// TestEventsFollowAcrossRestart: `usp events --follow --json` goes on
// through a restart of the Controller: it reconnects with back-off (to
// the API's new address, found in the data directory) and resumes with
// Last-Event-ID, so that every event the Controller stored
// after the first one it printed (Notifications from Agents [R-NOT.1]
// sent before, during and after the restart) is printed once, in order.
// A wrong token ends it with an error rather than retrying.
func TestEventsFollowAcrossRestart(t *testing.T) {
	bin := buildUSP(t)
	data := t.TempDir()
	ctl := newRestartableController(t, bin, data)
	b, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))

	follow := exec.Command(bin, "events", "--follow", "--json", "--data", data)
	follow.Env = append(os.Environ(), "USP_TOKEN="+token, "USP_SERVER=")
	stdout, _ := follow.StdoutPipe()
	var stderr strings.Builder
	follow.Stderr = &stderr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	stopped := false
	stopFollow := func() {
		if !stopped {
			stopped = true
			err, inTime := interrupt(follow, 10*time.Second)
			<-readDone
			if !inTime || err != nil {
				t.Errorf("usp events --follow on SIGINT: %v (in time: %v)", err, inTime)
			}
		}
	}
	defer stopFollow()
	printed := func() []uint64 {
		mu.Lock()
		defer mu.Unlock()
		var out []uint64
		for _, l := range lines {
			var e struct {
				Seq  uint64 `json:"seq"`
				Kind string `json:"kind"`
			}
			if err := json.Unmarshal([]byte(l), &e); err != nil || e.Kind == "gap" {
				t.Errorf("line %q is not an event", l)
				continue
			}
			out = append(out, e.Seq)
		}
		return out
	}

	ctx := context.Background()
	const ctrlID = "proto::follow-ctl"
	// The stream starts from the time the client connects: send until it
	// prints the first event.
	msg := 0
	send := func() bool {
		msg++
		return notifyOnce(ctx, ctl.ws, ctrlID, fmt.Sprintf("proto::agent-%d", msg%5), fmt.Sprintf("m-%d", msg))
	}
	for deadline := time.Now().Add(20 * time.Second); len(printed()) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("usp events --follow printed nothing (the Controller stored %d events):\n%s", len(storedSeqs(t, ctl.api, token)), stderr.String())
		}
		send()
		time.Sleep(50 * time.Millisecond)
	}
	// Events go on being made while the Controller stops and starts.
	genCtx, stopGen := context.WithCancel(ctx)
	genDone := make(chan int)
	go func() {
		sent := 0
		for genCtx.Err() == nil {
			if send() {
				sent++
			}
			time.Sleep(5 * time.Millisecond)
		}
		genDone <- sent
	}()
	time.Sleep(500 * time.Millisecond)
	ctl.stop()
	before, oldAPI := len(printed()), ctl.api
	ctl.start()
	if ctl.api == oldAPI {
		t.Logf("the API is at %s again", ctl.api)
	}
	time.Sleep(1500 * time.Millisecond)
	stopGen()
	sent := <-genDone
	for range 5 {
		send()
	}

	stored := storedSeqs(t, ctl.api, token)
	newest := stored[len(stored)-1]
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if p := printed(); len(p) > 0 && p[len(p)-1] >= newest {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usp events --follow did not print up to event %d; stderr:\n%s", newest, stderr.String())
		}
	}
	time.Sleep(200 * time.Millisecond) // a duplicate would come now
	stopFollow()
	got := printed()
	var want []uint64
	for _, s := range storedSeqs(t, ctl.api, token) { // offline events may have come after newest
		if s >= got[0] && s <= got[len(got)-1] {
			want = append(want, s)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("printed %d events, stored %d from the first printed on\nprinted %v\nstored  %v", len(got), len(want), got, want)
	}
	if !strings.Contains(stderr.String(), "reconnecting") {
		t.Errorf("no reconnection reported on stderr:\n%s", stderr.String())
	}
	t.Logf("%d notifications sent around the restart, %d events printed (%d before the stop); stderr:\n%s", sent, len(got), before, stderr.String())

	// A refused token is not retried.
	bad := exec.Command(bin, "events", "--follow", "--server", ctl.api, "--data", data)
	bad.Env = append(os.Environ(), "USP_TOKEN=not-the-token")
	done := make(chan error, 1)
	var out []byte
	go func() { var err error; out, err = bad.CombinedOutput(); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(string(out), "not authorized") {
			t.Errorf("usp events --follow with a wrong token: %v\n%s", err, out)
		}
	case <-time.After(10 * time.Second):
		bad.Process.Kill()
		<-done
		t.Errorf("usp events --follow with a wrong token still runs after 10 s")
	}
}

// followProc is a running `usp events --follow` and the lines it printed.
type followProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	stderr strings.Builder
	read   chan struct{}
}

func startFollow(t *testing.T, bin, server, token string, args ...string) *followProc {
	t.Helper()
	f := &followProc{cmd: exec.Command(bin, append([]string{"events", "--follow", "--server", server, "--data", t.TempDir()}, args...)...), read: make(chan struct{})}
	f.cmd.Env = append(os.Environ(), "USP_TOKEN="+token, "USP_CA=")
	stdout, _ := f.cmd.StdoutPipe()
	f.cmd.Stderr = &f.stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(f.read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.mu.Lock()
			f.lines = append(f.lines, sc.Text())
			f.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if err, inTime := interrupt(f.cmd, 10*time.Second); !inTime || err != nil {
			t.Errorf("usp events --follow on SIGINT: %v (in time: %v)", err, inTime)
		}
		<-f.read
	})
	return f
}

func (f *followProc) printed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lines...)
}

// TestEventsFollowGap: when the events after the last one `usp events
// --follow` printed are no longer kept by the time it reconnects, the gap
// is printed where they would have been: an object of kind "gap" with
// --json, a line saying how many were missed without; the events still
// kept follow it, and none is printed twice.
func TestEventsFollowGap(t *testing.T) {
	bin := buildUSP(t)
	const ctrlID, agentID = "proto::follow-ctl", "proto::follow-agent"
	ctx, cancel := context.WithCancel(context.Background())
	ctrlEnd, agentEnd := mtptest.NewPipe(ctrlID, agentID, nil)
	c, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, MTPs: []controller.MTP{{Protocol: "UDS", Transport: ctrlEnd}},
		RequestTimeout: 100 * time.Millisecond, Admission: controller.AdmitAll, MaxEvents: 16})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { c.Run(ctx); done <- struct{}{} }()
	go func() {
		agentEnd.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {}))
		done <- struct{}{}
	}()
	const token = "gap-viewer-token"
	var refuse atomic.Bool // the API answers 503 while set
	h := api.New(api.Options{Controller: c, Tokens: api.NewTokens(map[string]api.Role{token: api.Viewer})})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			http.Error(w, "down for a moment", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); cancel(); <-done; <-done })
	send := func(rec *record.Record) {
		b, _ := rec.MarshalBinary()
		for try := 0; agentEnd.Send(ctx, ctrlID, b) != nil; try++ { // the pipe holds 1024 Records
			if try == 5000 {
				t.Fatal("the pipe stays full")
			}
			time.Sleep(time.Millisecond)
		}
	}
	send(record.NewWebSocketConnect(ctrlID, agentID))
	sent := 0
	notify := func(n int) {
		for range n {
			sent++
			m := &wire.Msg{Header: &wire.Header{MsgId: fmt.Sprint("n", sent), MsgType: wire.Header_NOTIFY},
				Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{ReqType: &wire.Request_Notify{Notify: &wire.Notify{
					SubscriptionId: "s", Notification: &wire.Notify_Event_{Event: &wire.Notify_Event{ObjPath: "Device.", EventName: "Boot!"}}}}}}}}
			payload, _ := proto.Marshal(m)
			send(record.NewNoSession(ctrlID, agentID, payload))
		}
	}
	newest := func() uint64 { _, _, n := c.EventsAfter("", ^uint64(0)); return n }

	asJSON := startFollow(t, bin, srv.URL, token, "--json")
	asText := startFollow(t, bin, srv.URL, token)
	for deadline := time.Now().Add(20 * time.Second); len(asJSON.printed()) == 0 || len(asText.printed()) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("usp events --follow printed nothing:\n%s\n%s", asJSON.stderr.String(), asText.stderr.String())
		}
		notify(1)
	}
	time.Sleep(100 * time.Millisecond)
	before := newest()
	refuse.Store(true)
	srv.CloseClientConnections()
	notify(100)
	for deadline := time.Now().Add(20 * time.Second); newest() < before+100; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the notifies did not all become events")
		}
	}
	time.Sleep(time.Second) // the first reconnection comes within 500 ms: refused
	refuse.Store(false)
	last := newest()
	lastLine := func(f *followProc) string {
		l := f.printed()
		return l[len(l)-1]
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if strings.Contains(lastLine(asJSON), fmt.Sprintf(`"seq":%d,`, last)) && strings.HasPrefix(lastLine(asText), fmt.Sprintf("%d ", last)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usp events --follow did not print up to %d:\n%s\n%s\n%s", last, strings.Join(asJSON.printed(), "\n"), asJSON.stderr.String(), asText.stderr.String())
		}
	}
	time.Sleep(200 * time.Millisecond) // a duplicate would come now

	// --json: the events up to before, one gap object, then the kept ones.
	var seqs []uint64
	var gaps []api.Gap
	for _, l := range asJSON.printed() {
		var e struct {
			Seq  uint64 `json:"seq"`
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		if e.Kind == "gap" {
			var g api.Gap
			json.Unmarshal([]byte(l), &g)
			gaps = append(gaps, g)
			if len(seqs) == 0 || g.After != seqs[len(seqs)-1] {
				t.Errorf("gap %+v does not follow the last event printed (%v)", g, seqs)
			}
			continue
		}
		if len(seqs) > 0 && e.Seq != seqs[len(seqs)-1]+1 && (len(gaps) == 0 || e.Seq != gaps[len(gaps)-1].Next) {
			t.Errorf("event %d printed after %d, with no gap between", e.Seq, seqs[len(seqs)-1])
		}
		seqs = append(seqs, e.Seq)
	}
	if len(gaps) != 1 || gaps[0].After != before || gaps[0].Missed != gaps[0].Next-1-gaps[0].After || gaps[0].Missed == 0 || seqs[len(seqs)-1] != last {
		t.Errorf("gaps %+v, want one after %d; events %v", gaps, before, seqs)
	}
	// Without --json the gap is a line of its own.
	text := strings.Join(asText.printed(), "\n")
	if len(gaps) == 1 && !strings.Contains(text, fmt.Sprintf("gap events %d to %d are no longer kept (%d missed)", gaps[0].After+1, gaps[0].Next-1, gaps[0].Missed)) {
		t.Errorf("no gap line in the text output:\n%s", text)
	}
	for _, l := range asText.printed() {
		if strings.Contains(l, " - gap ") {
			t.Logf("text: %s", l)
		}
	}
	for _, l := range asJSON.printed() {
		if strings.Contains(l, `"gap"`) {
			t.Logf("json: %s", l)
		}
	}
	t.Logf("stderr: %s", asJSON.stderr.String())
	if !strings.Contains(asJSON.stderr.String(), "HTTP 503; reconnecting") {
		t.Errorf("the refused reconnection is not reported:\n%s", asJSON.stderr.String())
	}
}
