package conformance_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// wsFake is an Agent speaking WebSocket frame by frame, right by default,
// wrong in the ways its fields say, as server (serveHTTP) or as client
// (dial).
type wsFake struct {
	// As server: answers a handshake without the bbf-usp-protocol
	// extension (which the runner's own connections leave out) without
	// Sec-WebSocket-Protocol, or refuses it.
	noSubprotocol, needExtension bool
	// As server: keeps every session of a Controller open.
	keepOld bool
	// As client: drops the session when the response has no
	// bbf-usp-protocol extension.
	needExtensionResp bool
	// Frame handling.
	ignoreMalformed, closeMalformedWrong, ignorePings, closeOnPong, dropFragments, ignoreClose bool
	// As client: sends no WebSocketConnect record; reconnects after 100
	// ms whatever the retry policy; connects without TLS after a reboot.
	noConnectRecord, eagerRetry, plainAfterReboot bool

	tls *tls.Config // as client: to dial wss; nil for ws

	mu       sync.Mutex
	sessions map[string][]*fakeConn // as server, by eid
	cur      *fakeConn              // as client
	booted   bool
	kick     chan struct{} // as client: reconnect now (reboot)
}

// fakeConn is one WebSocket connection of the fake.
type fakeConn struct {
	nc     net.Conn
	br     *bufio.Reader
	client bool
	wmu    sync.Mutex
}

func (c *fakeConn) write(op byte, p []byte) error {
	b := []byte{0x80 | op}
	mask := byte(0)
	if c.client {
		mask = 0x80
	}
	switch {
	case len(p) < 126:
		b = append(b, mask|byte(len(p)))
	default:
		b = append(b, mask|126)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
	}
	if c.client {
		b = append(b, 0, 0, 0, 0) // a zero mask leaves the payload as is
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(append(b, p...))
	return err
}

func (c *fakeConn) read() (fin bool, op byte, p []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(c.br, h[:]); err != nil {
		return
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0f
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err = io.ReadFull(c.br, l[:]); err != nil {
			return
		}
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err = io.ReadFull(c.br, l[:]); err != nil {
			return
		}
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	var key [4]byte
	if h[1]&0x80 != 0 {
		if _, err = io.ReadFull(c.br, key[:]); err != nil {
			return
		}
	}
	p = make([]byte, n)
	if _, err = io.ReadFull(c.br, p); err != nil {
		return
	}
	for i := range p {
		p[i] ^= key[i%4]
	}
	return
}

func acceptKey(k string) string {
	h := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// ServeHTTP is the fake as WebSocket server.
func (f *wsFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ext := strings.Contains(r.Header.Get("Sec-WebSocket-Extensions"), "bbf-usp-protocol")
	if !strings.Contains(r.Header.Get("Sec-WebSocket-Protocol"), "v1.usp") || f.needExtension && !ext {
		http.Error(w, "no", http.StatusBadRequest)
		return
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n"
	if !f.noSubprotocol || ext {
		resp += "Sec-WebSocket-Protocol: v1.usp\r\n"
	}
	brw.WriteString(resp + "\r\n")
	brw.Flush()
	c := &fakeConn{nc: nc, br: brw.Reader}
	eid := r.URL.Query().Get("eid")
	f.mu.Lock()
	if f.sessions == nil {
		f.sessions = map[string][]*fakeConn{}
	}
	old := f.sessions[eid]
	f.sessions[eid] = append(f.sessions[eid], c)
	f.mu.Unlock()
	if !f.keepOld {
		for _, o := range old {
			o.write(0x8, binary.BigEndian.AppendUint16(nil, 1000))
			o.nc.Close()
		}
	}
	f.serve(c)
}

// serve handles one connection's frames until it ends.
func (f *wsFake) serve(c *fakeConn) {
	defer c.nc.Close()
	var msg []byte
	for {
		fin, op, p, err := c.read()
		if err != nil {
			return
		}
		switch op {
		case 0x9:
			if !f.ignorePings {
				c.write(0xa, p)
			}
		case 0xa:
			if f.closeOnPong {
				c.write(0x8, binary.BigEndian.AppendUint16(nil, 1002))
				return
			}
		case 0x8:
			if !f.ignoreClose {
				c.write(0x8, p[:min(2, len(p))])
				return
			}
		case 0x1:
			c.write(0x8, binary.BigEndian.AppendUint16(nil, 1003))
			return
		case 0x2:
			if !fin {
				msg = p
				continue
			}
			if !f.handle(c, p) {
				return
			}
		case 0x0:
			msg = append(msg, p...)
			if fin && !f.dropFragments && !f.handle(c, msg) {
				return
			}
		}
	}
}

// handle answers one Record; false ends the connection.
func (f *wsFake) handle(c *fakeConn, b []byte) bool {
	var rec record.Record
	if record.Decode(b, &rec, nil) != nil {
		switch {
		case f.ignoreMalformed:
			return true
		case f.closeMalformedWrong:
			c.write(0x8, binary.BigEndian.AppendUint16(nil, 1002))
		default:
			c.write(0x8, binary.BigEndian.AppendUint16(nil, 1003))
		}
		return false
	}
	var m wire.Msg
	if rec.Type != record.TypeNoSessionContext || proto.Unmarshal(rec.Payload, &m) != nil || m.GetBody().GetRequest() == nil {
		return true
	}
	req := m.GetBody().GetRequest()
	out := &wire.Msg{Header: &wire.Header{MsgId: m.GetHeader().GetMsgId()}, Body: &wire.Body{MsgBody: &wire.Body_Response{Response: fakeAnswer(req)}}}
	out.Header.MsgType = respType(req)
	pb, _ := proto.Marshal(out)
	rb, _ := record.NewNoSession(rec.FromID, fakeID, pb).MarshalBinary()
	c.write(0x2, rb)
	if req.GetOperate().GetCommand() == "Device.Reboot()" {
		go f.reboot()
	}
	return true
}

func respType(req *wire.Request) wire.Header_MsgType {
	switch {
	case req.GetGetSupportedDm() != nil:
		return wire.Header_GET_SUPPORTED_DM_RESP
	case req.GetOperate() != nil:
		return wire.Header_OPERATE_RESP
	}
	return wire.Header_GET_RESP
}

// fakeParams is the fake's data model.
var fakeParams = map[string]string{
	"Device.LocalAgent.EndpointID":                                                   fakeID,
	"Device.DeviceInfo.Manufacturer":                                                 "uspkit",
	"Device.DeviceInfo.SoftwareVersion":                                              "1",
	"Device.LocalAgent.Controller.1.EndpointID":                                      runnerID,
	"Device.LocalAgent.Controller.1.MTP.1.Protocol":                                  "WebSocket",
	"Device.LocalAgent.Controller.1.MTP.1.WebSocket.SessionRetryMinimumWaitInterval": "1",
	"Device.LocalAgent.Controller.1.MTP.1.WebSocket.SessionRetryIntervalMultiplier":  "2000",
}

// fakeAnswer answers Get (from fakeParams), GetSupportedDM (everything is
// supported) and Operate.
func fakeAnswer(req *wire.Request) *wire.Response {
	switch {
	case req.GetGetSupportedDm() != nil:
		var res []*wire.GetSupportedDMResp_RequestedObjectResult
		for _, p := range req.GetGetSupportedDm().GetObjPaths() {
			res = append(res, &wire.GetSupportedDMResp_RequestedObjectResult{ReqObjPath: p,
				SupportedObjs: []*wire.GetSupportedDMResp_SupportedObjectResult{{SupportedObjPath: "Device."}}})
		}
		return &wire.Response{RespType: &wire.Response_GetSupportedDmResp{GetSupportedDmResp: &wire.GetSupportedDMResp{ReqObjResults: res}}}
	case req.GetOperate() != nil:
		return &wire.Response{RespType: &wire.Response_OperateResp{OperateResp: &wire.OperateResp{OperationResults: []*wire.OperateResp_OperationResult{{
			ExecutedCommand: req.GetOperate().GetCommand(), OperationResp: &wire.OperateResp_OperationResult_ReqOutputArgs{ReqOutputArgs: &wire.OperateResp_OperationResult_OutputArgs{}}}}}}}
	}
	var res []*wire.GetResp_RequestedPathResult
	for _, path := range req.GetGet().GetParamPaths() {
		pat := strings.ReplaceAll(regexp.QuoteMeta(path), `\*`, `[^.]+`)
		if !strings.HasSuffix(path, ".") {
			pat += "$"
		}
		re := regexp.MustCompile("^" + pat)
		rp := &wire.GetResp_RequestedPathResult{RequestedPath: path}
		for name, v := range fakeParams {
			if re.MatchString(name) {
				i := strings.LastIndexByte(name, '.') + 1
				rp.ResolvedPathResults = append(rp.ResolvedPathResults, &wire.GetResp_ResolvedPathResult{ResolvedPath: name[:i], ResultParams: map[string]string{name[i:]: v}})
			}
		}
		res = append(res, rp)
	}
	return &wire.Response{RespType: &wire.Response_GetResp{GetResp: &wire.GetResp{ReqPathResults: res}}}
}

// reboot drops every connection; as client the fake connects again at
// once, its retry count reset [R-WS.21].
func (f *wsFake) reboot() {
	time.Sleep(50 * time.Millisecond)
	f.mu.Lock()
	f.booted = true
	var conns []*fakeConn
	for _, cs := range f.sessions {
		conns = append(conns, cs...)
	}
	f.sessions = nil
	if f.cur != nil {
		conns = append(conns, f.cur)
	}
	f.mu.Unlock()
	for _, c := range conns {
		c.nc.Close()
	}
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// run is the fake as WebSocket client of addr: connect, serve, and
// connect again with the retry policy of fakeParams (m = 1 s, k = 2000)
// until ctx is done.
func (f *wsFake) run(ctx context.Context, addr string) {
	retry := 0
	for ctx.Err() == nil {
		ok := f.session(ctx, addr)
		if ok {
			retry = 0
		}
		retry++
		wait := time.Duration(float64(time.Second<<(retry-1)) * (1 + 0.9*float64(time.Now().UnixNano()%100)/100))
		if f.eagerRetry {
			wait = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		case <-f.kick:
			retry = 0
		}
	}
}

// session makes one connection and serves it; it reports whether the
// handshake succeeded.
func (f *wsFake) session(ctx context.Context, addr string) bool {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	f.mu.Lock()
	plain := f.plainAfterReboot && f.booted
	f.mu.Unlock()
	if f.tls != nil && !plain {
		tc := tls.Client(nc, f.tls)
		if tc.HandshakeContext(ctx) != nil {
			nc.Close()
			return false
		}
		nc = tc
	}
	var kb [16]byte
	rand.Read(kb[:])
	key := base64.StdEncoding.EncodeToString(kb[:])
	fmt.Fprintf(nc, "GET /usp?eid=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v1.usp\r\nSec-WebSocket-Extensions: bbf-usp-protocol; eid=\"%s\"\r\n\r\n", fakeID, addr, key, fakeID)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) ||
		f.needExtensionResp && resp.Header.Get("Sec-WebSocket-Extensions") == "" {
		nc.Close()
		return false
	}
	c := &fakeConn{nc: nc, br: br, client: true}
	f.mu.Lock()
	f.cur = c
	f.mu.Unlock()
	if !f.noConnectRecord {
		b, _ := record.NewWebSocketConnect(runnerID, fakeID).MarshalBinary()
		c.write(0x2, b)
	}
	f.serve(c)
	return true
}

// wsRun runs the cases matching pattern against f, as server when
// agentServes, else as client, with TLS when pki is not nil; the runner's
// Transport is mtp/ws.
func wsRun(t *testing.T, f *wsFake, agentServes bool, pki *testenv.PKI, pattern string) []conformance.Result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	o := conformance.Options{AgentID: fakeID, ControllerID: runnerID, ReplyTimeout: time.Second, CaseTimeout: 20 * time.Second, Long: true, Reboot: true}
	f.kick = make(chan struct{}, 1)
	if agentServes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		scheme, cfg := "ws", (*tls.Config)(nil)
		hs := &http.Server{Handler: f}
		if pki != nil {
			scheme, cfg = "wss", pki.ClientConfig()
			ln = tls.NewListener(ln, pki.ServerConfig())
		}
		wg.Go(func() { hs.Serve(ln) })
		defer hs.Close()
		defer f.reboot() // hijacked connections outlive hs.Close
		gate, err := conformance.ListenGate(ctx, "127.0.0.1:0", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		o.Transport = ws.NewClient(&ws.Options{URL: scheme + "://" + gate.Addr().String() + "/usp", EndpointID: runnerID, TLS: cfg, MinWait: 100 * time.Millisecond, Multiplier: 1000})
		o.WebSocket = &conformance.WebSocketSetup{Gate: gate, URL: scheme + "://" + ln.Addr().String() + "/usp", TLS: cfg}
	} else {
		var cfg *tls.Config
		if pki != nil {
			cfg = pki.ServerConfig()
			f.tls = pki.ClientConfig()
			f.tls.ServerName = "localhost"
		}
		srv, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: runnerID, TLS: cfg})
		if err != nil {
			t.Fatal(err)
		}
		gate, err := conformance.ListenGate(ctx, "127.0.0.1:0", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		o.Transport, o.AgentAddr = srv, fakeID
		o.WebSocket = &conformance.WebSocketSetup{Gate: gate, TLS: cfg}
		wg.Go(func() { f.run(ctx, gate.Addr().String()) })
	}
	res, err := conformance.Run(ctx, o, conformance.Match(pattern))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// statuses maps case ids to "status: reason".
func statuses(res []conformance.Result) map[string]string {
	out := map[string]string{}
	for _, r := range res {
		out[r.ID] = string(r.Status) + ": " + r.Reason
	}
	return out
}

// TestWebSocketRightAgent: an Agent doing everything right passes every
// section-7 case its role allows, and the others skip with the reason.
func TestWebSocketRightAgent(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t, fakeID)
	for _, c := range []struct {
		name        string
		agentServes bool
		pki         *testenv.PKI
		pass, skip  string
	}{
		{"server", true, nil, "7.2 7.6 7.7 7.11 7.12", "7.1 7.3 7.4 7.5 7.8 7.9 7.10"},
		{"client", false, nil, "7.1 7.4 7.6 7.7 7.8 7.10 7.11 7.12", "7.2 7.3 7.5 7.9"},
		{"client-tls", false, pki, "7.1 7.4 7.6 7.7 7.8 7.9 7.10 7.11 7.12", "7.2 7.3 7.5"},
		{"server-tls", true, pki, "7.2 7.6 7.7 7.11 7.12", "7.1 7.3 7.4 7.5 7.8 7.9 7.10"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := statuses(wsRun(t, &wsFake{}, c.agentServes, c.pki, "7.*"))
			for _, id := range strings.Fields(c.pass) {
				if !strings.HasPrefix(got[id], "pass") {
					t.Errorf("%s: %s, want pass", id, got[id])
				}
			}
			for _, id := range strings.Fields(c.skip) {
				if !strings.HasPrefix(got[id], "skip") {
					t.Errorf("%s: %s, want skip", id, got[id])
				}
			}
		})
	}
}

// TestWebSocketWrongAgentFails: each check of section 7 fails against an
// Agent that gets its point wrong.
func TestWebSocketWrongAgentFails(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t, fakeID)
	for _, c := range []struct {
		name        string
		fake        *wsFake
		agentServes bool
		pki         *testenv.PKI
		id, reason  string
	}{
		{"7.2 keeps both sessions", &wsFake{keepOld: true}, true, nil, "7.2", "both WebSocket connections"},
		{"7.4 no Close answer", &wsFake{ignoreClose: true}, false, nil, "7.4", "no Close frame"},
		{"7.6 malformed record ignored", &wsFake{ignoreMalformed: true}, true, nil, "7.6", "stayed open"},
		{"7.6 wrong close status", &wsFake{closeMalformedWrong: true}, false, nil, "7.6", "want status 1003"},
		{"7.7 closes on unsolicited Pong", &wsFake{closeOnPong: true}, true, nil, "7.7", "after an unsolicited Pong"},
		{"7.8 eager retry", &wsFake{eagerRetry: true}, false, nil, "7.8", "the first attempt came"},
		{"7.9 plaintext after reboot", &wsFake{plainAfterReboot: true}, false, pki, "7.9", "not a TLS handshake"},
		{"7.11 client needs the extension", &wsFake{needExtensionResp: true}, false, nil, "7.11", "no GetResp"},
		{"7.11 server needs the extension", &wsFake{needExtension: true}, true, nil, "7.11", "connection to"},
		{"7.12 fragments dropped", &wsFake{dropFragments: true}, true, nil, "7.12", "no GetResp to a Get sent in 3 fragments"},
		{"no subprotocol", &wsFake{noSubprotocol: true}, true, nil, "7.12", "subprotocol"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := wsRun(t, c.fake, c.agentServes, c.pki, c.id)
			if len(res) != 1 || res[0].Status != conformance.Fail || !strings.Contains(res[0].Reason, c.reason) {
				t.Errorf("%v, want a failure with %q", res, c.reason)
			}
		})
	}
}

// TestWebSocketSlowFailures: the checks that wait the plan's time before
// failing: 60 seconds for a Pong (7.7), 30 for a WebSocketConnectRecord
// (7.10).
func TestWebSocketSlowFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 60 seconds")
	}
	t.Parallel()
	for _, c := range []struct {
		fake        *wsFake
		agentServes bool
		id, reason  string
	}{
		{&wsFake{ignorePings: true}, true, "7.7", "no Pong with the Ping's payload within 1m0s"},
		{&wsFake{noConnectRecord: true}, false, "7.10", "no WebSocketConnectRecord within 30s"},
	} {
		t.Run(c.id, func(t *testing.T) {
			t.Parallel()
			res := wsRun(t, c.fake, c.agentServes, nil, c.id)
			if len(res) != 1 || res[0].Status != conformance.Fail || !strings.Contains(res[0].Reason, c.reason) {
				t.Errorf("%v, want a failure with %q", res, c.reason)
			}
		})
	}
}

// TestWebSocketWithoutSetup: without Options.WebSocket section 7 skips.
func TestWebSocketWithoutSetup(t *testing.T) {
	res := run(t, func(r *wire.Request) *wire.Response { return fakeAnswer(r) }, "7.*")
	for _, r := range res {
		if r.Status != conformance.Skip {
			t.Errorf("%s: %s %s", r.ID, r.Status, r.Reason)
		}
	}
}
