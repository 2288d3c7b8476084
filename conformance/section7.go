package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// section7 implements the WebSocket cases of TP-469 section 7. 7.3 and
// 7.5 are deprecated. Every case needs Options.WebSocket; some need the
// Agent in one role: 7.2 as the server, 7.1, 7.4, 7.8, 7.9 and 7.10 as
// the client that connects to the runner.
func section7() map[string]caseFunc {
	return map[string]caseFunc{
		"7.1":  {boot: true, wait: 130 * time.Second, run: wsSessionEstablishment},
		"7.2":  {wait: 20 * time.Second, run: wsOneSession},
		"7.4":  {wait: 40 * time.Second, run: wsClosing},
		"7.6":  {wait: 40 * time.Second, run: wsUnprocessedRecord},
		"7.7":  {wait: 100 * time.Second, run: wsPingPong},
		"7.8":  {long: true, wait: 60 * time.Second, run: wsSessionRetry},
		"7.9":  {boot: true, wait: 130 * time.Second, run: wsTLS},
		"7.10": {boot: true, wait: 160 * time.Second, run: wsConnectRecord},
		"7.11": {boot: true, wait: 160 * time.Second, run: wsNoExtension},
		"7.12": {wait: 40 * time.Second, run: wsFragmented},
	}
}

// Why a case does not run with the Agent in the other role.
const (
	needAgentClient = "needs the agent as the WebSocket client that connects to the runner (here the agent is the server)"
	needAgentServer = "needs the agent as a WebSocket server that the runner connects to, per R-WS.6 (here the agent is the client)"
)

// Timing of the cases.
const (
	bootWait      = 120 * time.Second // for the Agent to come back after Reboot()
	pongWait      = 60 * time.Second  // 7.7: "wait up to 60 seconds for a Pong"
	connectWait   = 30 * time.Second  // 7.10: "within 30 seconds"
	retrySlack    = 500 * time.Millisecond
	gateIdle      = 30 * time.Second // server role: for the Transport to reconnect through the Gate
	restartMargin = 15 * time.Second // client role: beyond the Agent's first retry interval
)

// wsSessionEstablishment is 7.1: after a reboot, the Agent connects to
// the Controller [R-WS.5] and answers a Get over that connection.
func wsSessionEstablishment(t *T) {
	w := t.wsSetup()
	if w.agentServes() {
		t.Skipf("the case has the agent establish the connection: %s", needAgentClient)
	}
	accepted, _ := w.Gate.counts()
	t.wsReboot(w)
	t.Check(t.c.waitBack(t.ctx, bootWait) == nil, "the agent did not connect to the controller again within %v of Reboot()", bootWait)
	after, _ := w.Gate.counts()
	t.Check(after > accepted, "the agent answers after Reboot() but made no new WebSocket connection")
	t.getResp(t.Do(getReq("Device.DeviceInfo.")))
}

// wsOneSession is 7.2: a second WebSocket connection from the same
// Controller either closes the first or is rejected [R-WS.4].
func wsOneSession(t *T) {
	w := t.wsSetup()
	if !w.agentServes() {
		t.Skipf("the case opens connections to the agent: %s", needAgentServer)
	}
	x := t.takeOver(w)
	first := x.session()
	x.getDeviceInfo(first, 1, "over the first connection")
	second, err := x.dialOnce()
	if err != nil {
		x.end(true) // the second connection is rejected
		return
	}
	_, get := x.encode(getReq("Device.DeviceInfo."))
	_ = second.writeMessage(get) // it may be closed already: a rejection
	deadline := time.Now().Add(t.r.o.ReplyTimeout)
	closed := make(chan bool, 2)
	go func() { closed <- watchClosed(first, deadline) }()
	go func() { closed <- watchClosed(second, deadline) }()
	one := <-closed
	for _, c := range []*wsConn{first, second} {
		_ = c.nc.SetReadDeadline(time.Now()) // ends the other watch
	}
	one = <-closed || one
	t.Check(one, "both WebSocket connections of the controller stayed open %v after the second was opened (R-WS.4)", t.r.o.ReplyTimeout)
	x.end(true)
}

// wsClosing is 7.4: the Agent answers a Close frame with a Close frame
// [R-WS.8].
func wsClosing(t *T) {
	w := t.wsSetup()
	if w.agentServes() {
		t.Skipf("the case needs a connection initiated by the agent: %s", needAgentClient)
	}
	x := t.takeOver(w)
	c := x.session()
	t.Check(c.writeClose(closeNormal, "TP-469 7.4") == nil, "sending the Close frame failed")
	_, err := x.await(c, t.r.o.ReplyTimeout, opClose)
	t.Check(err == nil, "no Close frame from the agent in answer to the controller's (R-WS.8): %v", err)
	// The server closes the TCP connection first (RFC 6455 section
	// 7.1.1); give the Agent a moment to do it anyway, as the plan waits
	// for it, without making it a metric.
	_ = c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.Copy(io.Discard, c.br)
	x.end(true)
}

// malformedRecord is a binary message that no USP Record decodes from: a
// field tag whose varint never ends.
var malformedRecord = []byte{0xff, 0xff, 0xff, 0xff}

// wsUnprocessedRecord is 7.6: a malformed Record closes the connection
// with status 1003 [R-WS.16].
func wsUnprocessedRecord(t *T) {
	x := t.takeOver(t.wsSetup())
	c := x.session()
	t.Check(c.writeMessage(malformedRecord) == nil, "sending the malformed record failed")
	ev, err := x.await(c, t.r.o.ReplyTimeout, opClose)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("the connection stayed open %v after a malformed USP Record: no Close frame with status 1003 (R-WS.16)", t.r.o.ReplyTimeout)
	case err != nil:
		t.Fatalf("the agent dropped the connection without a Close frame after a malformed USP Record: %v", err)
	}
	t.Check(ev.closeCode() == closeUnsupportedData, "after a malformed USP Record the agent sent a %v, want status 1003 (R-WS.16)", ev)
	x.end(true)
}

// wsPingPong is 7.7: the Agent answers a Ping with a Pong [R-WS.13],
// [R-WS.17] and keeps the connection after an unsolicited Pong.
func wsPingPong(t *T) {
	x := t.takeOver(t.wsSetup())
	c := x.session()
	payload := []byte("TP-469 7.7 " + strconv.FormatInt(time.Now().UnixNano(), 36))
	t.Check(c.writeFrame(true, opPing, payload) == nil, "sending the Ping failed")
	deadline := time.Now().Add(pongWait)
	for {
		ev, err := c.next(deadline)
		t.Check(err == nil, "no Pong with the Ping's payload within %v (R-WS.13): %v", pongWait, err)
		t.Check(ev.op != opClose, "the agent answered the Ping with a %v", ev)
		if ev.op == opPong && string(ev.payload) == string(payload) {
			break
		}
	}
	t.Check(c.writeFrame(true, opPong, []byte("TP-469 7.7 unsolicited")) == nil, "sending the unsolicited Pong failed")
	x.getDeviceInfo(c, 1, "after an unsolicited Pong")
	x.end(true)
}

// wsSessionRetry is 7.8: with its connection gone and the next attempt
// rejected, the Agent tries again within the intervals of
// SessionRetryMinimumWaitInterval and SessionRetryIntervalMultiplier
// [R-WS.19].
func wsSessionRetry(t *T) {
	w := t.wsSetup()
	if w.agentServes() {
		t.Skipf("the case has the agent re-establish its connection: %s", needAgentClient)
	}
	mtpPath := t.websocketMTP()
	t.Check(mtpPath != "", "%sMTP. has no entry with Protocol WebSocket", t.controller())
	vals := flat(t.getResp(t.Do(getReq(mtpPath))))
	m, k := retryParams(vals, mtpPath)
	lo1, hi1 := retryRange(m, k, 1)
	lo2, hi2 := retryRange(m, k, 2)
	x := t.takeOver(w)
	cut := time.Now()
	w.Gate.cut()
	first := x.take(time.Until(cut.Add(hi1 + retrySlack)))
	first.Close() // the controller rejects the connection
	t1 := time.Now()
	d1 := t1.Sub(cut)
	t.Check(d1 >= lo1-retrySlack && d1 <= hi1+retrySlack, "the first attempt came %v after the connection was closed, want %v to %v (R-WS.19, m=%v k=%v)",
		d1.Round(time.Millisecond), lo1, hi1, m, k)
	second := x.take(time.Until(t1.Add(hi2 + retrySlack)))
	d2 := time.Since(t1)
	w.Gate.pass(second, nil) // the controller accepts it
	t.Check(d2 >= lo2-retrySlack && d2 <= hi2+retrySlack, "the second attempt came %v after the first was rejected, want %v to %v (R-WS.19, m=%v k=%v)",
		d2.Round(time.Millisecond), lo2, hi2, m, k)
	x.end(true)
}

// wsTLS is 7.9: after a reboot the Agent connects to the Controller with
// TLS [R-WS.22] and answers a Get over it.
func wsTLS(t *T) {
	w := t.wsSetup()
	if w.agentServes() {
		t.Skipf("the case has the agent start the TLS connection: %s", needAgentClient)
	}
	if w.TLS == nil {
		t.Skipf("needs TLS between the agent and the runner (a certificate for the runner, a wss:// URL for the agent)")
	}
	t.need("Device.Reboot()")
	x := t.takeOver(w)
	t.wsReboot(w)
	nc := x.take(bootWait)
	hello := make([]byte, 3)
	_ = nc.SetReadDeadline(time.Now().Add(t.r.o.ReplyTimeout))
	n, err := io.ReadFull(nc, hello)
	_ = nc.SetReadDeadline(time.Time{})
	if err != nil {
		nc.Close()
		t.Fatalf("the agent's connection after Reboot() sent nothing: %v", err)
	}
	if !isTLSHello(hello[:n]) {
		nc.Close()
		t.Fatalf("the agent's connection after Reboot() starts with %q, not a TLS handshake", hello[:n])
	}
	w.Gate.pass(nc, hello[:n])
	x.end(true)
	t.getResp(t.Do(getReq("Device.DeviceInfo.")))
}

// wsConnectRecord is 7.10: within 30 seconds of connecting after a
// reboot, the Agent sends a WebSocketConnectRecord to the Controller
// [R-MTP.6].
func wsConnectRecord(t *T) {
	w := t.wsSetup()
	if w.agentServes() {
		t.Skipf("the case has the agent connect to the controller: %s", needAgentClient)
	}
	t.need("Device.Reboot()")
	x := t.takeOver(w)
	t.wsReboot(w)
	c := x.accept(bootWait)
	deadline := time.Now().Add(connectWait)
	for {
		ev, err := x.awaitUntil(c, deadline, opBinary)
		t.Check(err == nil, "no WebSocketConnectRecord within %v of the connection: %v", connectWait, err)
		var rec record.Record
		if record.Decode(ev.payload, &rec, nil) == nil && rec.Type == record.TypeWebSocketConnect && rec.ToID == t.c.id {
			t.Check(rec.FromID == t.c.agentID, "WebSocketConnectRecord from %q, want %q", rec.FromID, t.c.agentID)
			break
		}
	}
	x.end(true)
}

// wsNoExtension is 7.11: a handshake without the bbf-usp-protocol
// extension is no error [R-WS.11b], [R-WS.11c]. With the Agent as client
// the runner's response leaves it out; with the Agent as server the
// runner's request does.
func wsNoExtension(t *T) {
	w := t.wsSetup()
	t.need("Device.Reboot()")
	x := t.takeOver(w)
	t.wsReboot(w)
	var c *wsConn
	if w.agentServes() {
		w.Gate.cut()
		c = x.dial(bootWait)
	} else {
		c = x.accept(bootWait)
	}
	x.getDeviceInfo(c, 1, "over a connection whose handshake has no bbf-usp-protocol extension")
	x.end(true)
}

// wsFragmented is 7.12: the Agent processes a Record sent as a
// fragmented message (RFC 6455 section 5.4).
func wsFragmented(t *T) {
	x := t.takeOver(t.wsSetup())
	c := x.session()
	x.getDeviceInfo(c, 3, "sent in 3 fragments")
	x.end(true)
}

// wsSetup returns the WebSocket setup, skipping the case without one.
func (t *T) wsSetup() *WebSocketSetup {
	w := t.r.o.WebSocket
	if w == nil || w.Gate == nil {
		t.Skipf("needs the agent reached over WebSocket through the runner's gate (usp conformance --mtp ws or ws-server)")
	}
	return w
}

// wsReboot reboots the Agent and waits until it has closed the
// Transport's connection.
func (t *T) wsReboot(w *WebSocketSetup) {
	t.need("Device.Reboot()")
	_, ended := w.Gate.counts()
	t.operateResp(t.Do(operateReq("Device.Reboot()", "tp469-"+t.id, true, nil)))
	deadline := time.Now().Add(bootWait)
	for {
		if _, e := w.Gate.counts(); e > ended {
			return
		}
		t.Check(time.Now().Before(deadline), "the agent kept its WebSocket connection open %v after Reboot()", bootWait)
		t.sleep(100 * time.Millisecond)
	}
}

// sleep waits d, or less when the case ends.
func (t *T) sleep(d time.Duration) {
	select {
	case <-time.After(d):
	case <-t.ctx.Done():
	}
}

// websocketMTP returns the first Device.LocalAgent.Controller.{i}.MTP.{i}.
// of the runner's Controller entry with Protocol WebSocket, or "".
func (t *T) websocketMTP() string {
	ctrl := t.controller()
	var best string
	for path, v := range flat(t.getResp(t.Do(getReq(ctrl + "MTP.*.Protocol")))) {
		mtp := strings.TrimSuffix(path, "Protocol")
		if v == "WebSocket" && (best == "" || instanceNumber(mtp) < instanceNumber(best)) {
			best = mtp
		}
	}
	return best
}

func instanceNumber(path string) int {
	n, _ := strconv.Atoi(instanceOfPath(path))
	return n
}

func instanceOfPath(path string) string {
	p := strings.TrimSuffix(path, ".")
	return p[strings.LastIndexByte(p, '.')+1:]
}

// retryParams reads m and k of [R-WS.19] from a WebSocket MTP's
// parameters, with the spec's defaults (5 s, 2000) for those not there.
func retryParams(vals map[string]string, mtpPath string) (m time.Duration, k uint64) {
	m, k = 5*time.Second, 2000
	if v, err := strconv.ParseUint(vals[mtpPath+"WebSocket.SessionRetryMinimumWaitInterval"], 10, 32); err == nil && v > 0 {
		m = time.Duration(v) * time.Second
	}
	if v, err := strconv.ParseUint(vals[mtpPath+"WebSocket.SessionRetryIntervalMultiplier"], 10, 32); err == nil && v >= 1000 {
		k = v
	}
	return m, k
}

// retryRange is the wait interval of the n-th retry: m·(k/1000)^(n-1) to
// m·(k/1000)^n [R-WS.19].
func retryRange(m time.Duration, k uint64, n int) (lo, hi time.Duration) {
	r := float64(k) / 1000
	return time.Duration(float64(m) * math.Pow(r, float64(n-1))), time.Duration(float64(m) * math.Pow(r, float64(n)))
}

// wsCase is a case that talks to the Agent over WebSocket connections of
// its own. It holds the Gate so that the Transport cannot take the
// Agent's one session [R-WS.4] meanwhile; end gives the session back.
type wsCase struct {
	t     *T
	w     *WebSocketSetup
	conns []*wsConn
	back  time.Duration // how long the Transport may take to reconnect
	ended bool
	seq   int
}

// takeOver holds the Gate for the case. With the Agent as client it
// first reads the Agent's retry interval, the time it takes to connect
// again.
func (t *T) takeOver(w *WebSocketSetup) *wsCase {
	x := &wsCase{t: t, w: w, back: gateIdle}
	if !w.agentServes() {
		m, k := 5*time.Second, uint64(2000)
		if path := t.websocketMTP(); path != "" {
			if r, err := t.c.do(t.ctx, getReq(path+"WebSocket."), t.r.o.ReplyTimeout); err == nil {
				m, k = retryParams(flat(r.GetBody().GetResponse().GetGetResp()), path)
			}
		}
		_, hi := retryRange(m, k, 1)
		x.back = hi + restartMargin
	}
	w.Gate.hold()
	t.Cleanup(func() { x.end(false) })
	return x
}

// session cuts the Transport's connection and returns one of the case's
// own: dialled to the Agent's server, or the Agent's next connection.
func (x *wsCase) session() *wsConn {
	x.w.Gate.cut()
	if x.w.agentServes() {
		return x.dial(x.t.r.o.ReplyTimeout)
	}
	return x.accept(x.back)
}

// dial connects to the Agent's server, trying again while it does not
// answer, for up to d, and for a reply timeout once its handshake
// responses refuse the connection.
func (x *wsCase) dial(d time.Duration) *wsConn {
	deadline := time.Now().Add(d)
	refused := false
	for {
		c, err := x.dialOnce()
		if err == nil {
			return c
		}
		if !refused && (errors.Is(err, errNotUpgrade) || errors.Is(err, errNoSubprotocol)) {
			refused = true
			if soon := time.Now().Add(x.t.r.o.ReplyTimeout); soon.Before(deadline) {
				deadline = soon
			}
		}
		x.t.Check(time.Now().Before(deadline), "the controller's WebSocket connection to %s failed: %v", x.w.URL, err)
		x.t.sleep(250 * time.Millisecond)
	}
}

// dialOnce connects to the Agent's server once.
func (x *wsCase) dialOnce() (*wsConn, error) {
	ctx, cancel := context.WithTimeout(x.t.ctx, x.t.r.o.ReplyTimeout)
	defer cancel()
	c, _, err := dialWS(ctx, x.w.URL, x.w.TLS, x.t.c.id)
	if err != nil {
		return nil, err
	}
	x.conns = append(x.conns, c)
	return c, nil
}

// take returns the Agent's next connection to the Gate, failing the case
// when none comes within d.
func (x *wsCase) take(d time.Duration) net.Conn {
	ctx, cancel := context.WithTimeout(x.t.ctx, d)
	defer cancel()
	nc, err := x.w.Gate.take(ctx)
	x.t.Check(err == nil, "the agent did not connect to the controller within %v: %v", d.Round(time.Millisecond), err)
	return nc
}

// accept takes the Agent's next connection and answers its opening
// handshake.
func (x *wsCase) accept(d time.Duration) *wsConn {
	nc := x.take(d)
	ctx, cancel := context.WithTimeout(x.t.ctx, x.t.r.o.ReplyTimeout)
	defer cancel()
	c, _, err := acceptWS(ctx, nc, x.w.TLS)
	if err != nil {
		nc.Close()
		x.t.Fatalf("the agent's WebSocket opening handshake: %v", err)
	}
	x.conns = append(x.conns, c)
	return c
}

// end closes the case's connections, lets the Transport through the Gate
// and waits until the Agent answers over it again; with check a failure
// to do so fails the case. Only the first call counts.
func (x *wsCase) end(check bool) {
	if x.ended {
		return
	}
	x.ended = true
	for _, c := range x.conns {
		c.close()
	}
	x.w.Gate.release()
	err := x.t.c.waitBack(context.WithoutCancel(x.t.ctx), x.back)
	switch {
	case err == nil:
	case check:
		x.t.Fatalf("the agent did not answer over the controller's usual WebSocket session within %v after the case: %v", x.back, err)
	default:
		x.t.c.log.Warn("the agent did not come back after the case", "case", x.t.id, "err", err)
	}
}

// encode returns a new msg_id and the Record of req with it.
func (x *wsCase) encode(req *wire.Request) (id string, rec []byte) {
	x.seq++
	id = fmt.Sprintf("tp469-%s-ws-%d", x.t.id, x.seq)
	m := &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.RequestMsgType(req)}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}}
	payload, err := protoMarshal(m)
	x.t.Check(err == nil, "%v", err)
	rec, err = record.NewNoSession(x.t.c.agentID, x.t.c.id, payload).MarshalBinary()
	x.t.Check(err == nil, "%v", err)
	return id, rec
}

// send sends req over c in a message of the given number of fragments and
// returns its msg_id.
func (x *wsCase) send(c *wsConn, req *wire.Request, fragments int) string {
	id, b := x.encode(req)
	x.t.Check(c.writeMessage(split(b, fragments)...) == nil, "sending the %s request failed", wire.RequestMsgType(req))
	return id
}

// getDeviceInfo sends the plan's Get of Device.DeviceInfo. over c and
// checks the GetResp; when says how, for failures.
func (x *wsCase) getDeviceInfo(c *wsConn, fragments int, when string) {
	id := x.send(c, getReq("Device.DeviceInfo."), fragments)
	deadline := time.Now().Add(x.t.r.o.ReplyTimeout)
	for {
		ev, err := x.awaitUntil(c, deadline, opBinary)
		x.t.Check(err == nil, "no GetResp to a Get %s: %v", when, err)
		var rec record.Record
		if record.Decode(ev.payload, &rec, nil) != nil || rec.Type != record.TypeNoSessionContext || rec.ToID != x.t.c.id || rec.FromID != x.t.c.agentID {
			continue
		}
		var m wire.Msg
		if protoUnmarshal(rec.Payload, &m) != nil || m.GetHeader().GetMsgId() != id {
			continue
		}
		x.t.Check(m.GetBody().GetResponse().GetGetResp() != nil, "a Get %s: expected a GetResp, got %v", when, brief(&m))
		return
	}
}

// await waits up to d for an event of type op on c, skipping others; a
// Close frame while waiting for something else is an error.
func (x *wsCase) await(c *wsConn, d time.Duration, op byte) (wsEvent, error) {
	return x.awaitUntil(c, time.Now().Add(d), op)
}

func (x *wsCase) awaitUntil(c *wsConn, deadline time.Time, op byte) (wsEvent, error) {
	for {
		ev, err := c.next(deadline)
		if err != nil {
			return ev, err
		}
		if ev.op == op {
			return ev, nil
		}
		if ev.op == opClose {
			return ev, fmt.Errorf("the agent closed the connection: %v", ev)
		}
	}
}

// watchClosed reads c until deadline and reports whether the Agent closed
// it, with a Close frame or by dropping the TCP connection.
func watchClosed(c *wsConn, deadline time.Time) bool {
	for {
		ev, err := c.next(deadline)
		if err != nil {
			return !errors.Is(err, os.ErrDeadlineExceeded)
		}
		if ev.op == opClose {
			return true
		}
	}
}

// split cuts b into n parts of about equal size, none empty.
func split(b []byte, n int) [][]byte {
	n = max(1, min(n, len(b)))
	out := make([][]byte, 0, n)
	for i := range n {
		out = append(out, b[i*len(b)/n:(i+1)*len(b)/n])
	}
	return out
}

// waitBack waits up to d for the Agent to answer a Get over the
// Transport, polling without spinning.
func (c *client) waitBack(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		_, err := c.do(ctx, getReq("Device.LocalAgent.EndpointID"), time.Second)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}
