package conformance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// Section 6 (STOMP) against the runner's own STOMP 1.2 server
// (stompserver.go). As for section 11, the runner reaches the Agent over
// its usual MTP, adds a Device.STOMP.Connection, a Device.LocalAgent.MTP
// of protocol STOMP that references it and, when its own Controller entry
// has no STOMP MTP, one that names the runner's destination; it deletes
// them when the case ends.

// stompRig is one case's STOMP setup.
type stompRig struct {
	t    *T
	srv  *stompServer
	conn string  // Device.STOMP.Connection.{i}.
	row  string  // Device.LocalAgent.MTP.{i}.
	dest string  // the Agent's destination
	ctl  *client // the runner as Controller over srv

	retryMin  time.Duration
	retryMult uint32
}

// stompOpts configures a rig.
type stompOpts struct {
	shape stompShape
	// conn overrides or adds Device.STOMP.Connection.{i}. parameters.
	conn []kv
	// dest is the MTP's STOMP.Destination; "-" leaves it empty.
	dest string
	// noWait returns without waiting for the Agent's SUBSCRIBE.
	noWait bool
	// tls serves over TLS with the runner's trusted certificate.
	tls bool
}

const stompUser = "tp469"

// stompSetup points the Agent at a new runner-owned STOMP server.
func (t *T) stompSetup(o stompOpts) *stompRig {
	t.needProtocol("STOMP")
	t.need("Device.STOMP.Connection.{i}.", "Device.LocalAgent.MTP.{i}.STOMP.")
	t.needAddDelete("Device.STOMP.Connection.{i}.", "Device.LocalAgent.MTP.{i}.")
	host := t.r.o.ProbeHost
	if host == "" {
		host = "127.0.0.1"
	}
	tag := strings.ReplaceAll(t.id, ".", "-")
	rig := &stompRig{t: t, dest: "/queue/usp.agent.tp469-" + tag, retryMin: 2 * time.Second, retryMult: 2000}
	switch o.dest {
	case "-":
		rig.dest = ""
	case "":
	default:
		rig.dest = o.dest
	}
	if o.shape.subscribeDest != "" {
		rig.dest = o.shape.subscribeDest
	}
	reply := "/queue/usp.controller.tp469-" + tag
	srv, err := listenSTOMP(t.ctx, host+":0", t.serverTLS(o.tls, host), reply, t.r.o.Logger)
	t.Check(err == nil, "%v", err)
	srv.setShape(func(s *stompShape) { *s = o.shape })
	rig.srv = srv
	rig.ctl = newClient(t.ctx, t.r.o.Logger, t.c.id, t.c.agentID, srv, rig.dest)
	t.Cleanup(rig.ctl.close)

	params := []kv{p("Alias", "tp469-stomp"), p("Enable", "true"), p("Host", host), p("Port", fmt.Sprint(srv.Addr().Port)),
		p("Username", stompUser), p("Password", "tp469-pass"), p("VirtualHost", "tp469"), p("EnableEncryption", fmt.Sprint(o.tls)),
		p("EnableHeartbeats", "false"), p("ServerRetryInitialInterval", "2"), p("ServerRetryIntervalMultiplier", "2000"), p("ServerRetryMaxInterval", "30")}
	params = withOverrides(params, o.conn)
	retrySettings(params, "ServerRetryInitialInterval", "ServerRetryIntervalMultiplier", &rig.retryMin, &rig.retryMult)
	// Rows left by an interrupted run go first (Alias is unique).
	t.c.do(t.ctx, deleteReq(true, `Device.LocalAgent.MTP.[Alias=="tp469-stomp"].`, `Device.STOMP.Connection.[Alias=="tp469-stomp"].`), t.r.o.ReplyTimeout)
	rig.conn = t.created(t.addResp(t.Do(addReq(false, obj("Device.STOMP.Connection.", params...)))), 1)[0]
	t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, rig.conn), t.r.o.ReplyTimeout) })

	t.controllerMTP("STOMP", rig.conn, p("Destination", reply))

	rig.row = t.created(t.addResp(t.Do(addReq(false, obj("Device.LocalAgent.MTP.", p("Alias", "tp469-stomp"), p("Enable", "false"), p("Protocol", "STOMP"))))), 1)[0]
	t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, rig.row), t.r.o.ReplyTimeout) })
	dest := rig.dest
	if o.shape.subscribeDest != "" {
		dest = "/queue/usp.agent.tp469-" + tag + "-configured"
	}
	t.setOK(rig.row+"STOMP.", p("Reference", strings.TrimSuffix(rig.conn, ".")), p("Destination", dest))
	t.setOK(rig.row, p("Enable", "true"))
	if !o.noWait {
		rig.subscribed(0)
	}
	return rig
}

// connect waits for the Agent's STOMP or CONNECT frame at index from or
// later.
func (r *stompRig) connect(from int, d time.Duration) (stompEvent, *stompFrame) {
	e, ok := r.srv.waitEvent(r.t.ctx, from, d, func(e stompEvent) bool {
		return e.in && e.f != nil && (e.f.cmd == "STOMP" || e.f.cmd == "CONNECT")
	})
	r.t.Check(ok, "the agent sent no STOMP (or CONNECT) frame to the runner's server within %v", d)
	return e, e.f
}

// subscribed waits for the Agent's SUBSCRIBE at index from or later.
func (r *stompRig) subscribed(from int) *stompFrame {
	e, ok := r.srv.waitEvent(r.t.ctx, from, 20*time.Second, isFrame("SUBSCRIBE", true))
	r.t.Check(ok, "the agent sent no SUBSCRIBE to the runner's STOMP server")
	return e.f
}

func (r *stompRig) do(req *wire.Request) *wire.Msg {
	var m *wire.Msg
	var err error
	for range 10 {
		if m, err = r.ctl.doTo(r.t.ctx, r.dest, req, r.t.r.o.ReplyTimeout); err == nil || !strings.Contains(err.Error(), "no client subscribed") {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	r.t.Check(err == nil, "%s over the runner's STOMP server to %q: %v", describe(req), r.dest, err)
	return m
}

// reconnect cuts the Agent's connection and returns the index of the
// events of the next one, once it subscribed again.
func (r *stompRig) reconnect() int {
	from := r.srv.mark()
	r.srv.cut()
	r.connect(from, 20*time.Second)
	r.subscribed(from)
	return from
}

// agentSend is the Agent's SEND frame at index from or later whose body
// is a Record accepted by match.
func (r *stompRig) agentSend(from int, d time.Duration, match func(*record.Record) bool) (*stompFrame, *record.Record) {
	var rec *record.Record
	e, ok := r.srv.waitEvent(r.t.ctx, from, d, func(e stompEvent) bool {
		if !isFrame("SEND", true)(e) {
			return false
		}
		var x record.Record
		if record.Decode(e.f.body, &x, nil) != nil || !match(&x) {
			return false
		}
		rec = &x
		return true
	})
	if !ok {
		return nil, nil
	}
	return e.f, rec
}

// checkRetry is mqttRig.checkRetry for ServerRetryInitialInterval and
// ServerRetryIntervalMultiplier [R-STOMP.7].
func (r *stompRig) checkRetry(what string, n int, got time.Duration) {
	lo := r.retryMin
	for range n - 1 {
		lo = lo * time.Duration(r.retryMult) / 1000
	}
	hi := lo * time.Duration(r.retryMult) / 1000
	const slack = 500 * time.Millisecond
	r.t.Check(got >= lo-slack && got <= hi+slack, "%s after %v, want %v to %v (ServerRetryInitialInterval %v, ServerRetryIntervalMultiplier %d)",
		what, got.Round(time.Millisecond), lo, hi, r.retryMin, r.retryMult)
}

func section6() map[string]caseFunc {
	m := map[string]caseFunc{}
	m["6.2"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		rig := t.stompSetup(stompOpts{})
		_, f := rig.connect(0, time.Second)
		// [R-STOMP.2] a STOMP frame (CONNECT is tolerated) for STOMP 1.2.
		t.Check(f.cmd == "STOMP", "the session starts with a %s frame, want STOMP", f.cmd)
		v, _ := f.get("accept-version")
		t.Check(slices.Contains(strings.Split(v, ","), "1.2"), "accept-version %q lacks 1.2", v)
		// [R-STOMP.5] host is the VirtualHost; [R-STOMP.3] the credentials.
		h, _ := f.get("host")
		t.Check(h == "tp469", "host header %q, want the VirtualHost tp469", h)
		l, _ := f.get("login")
		pw, _ := f.get("passcode")
		t.Check(l == stompUser && pw == "tp469-pass", "login %q passcode %q, want %s / tp469-pass", l, pw, stompUser)
		// [R-STOMP.4] the Endpoint ID.
		id, _ := f.get("endpoint-id")
		t.Check(id == t.c.agentID, "endpoint-id header %q, want %q", id, t.c.agentID)
		// [R-STOMP.8] a heart-beat header.
		_, ok := f.get("heart-beat")
		t.Check(ok, "the STOMP frame has no heart-beat header")
		s := rig.subscribed(0)
		d, _ := s.get("destination")
		t.Check(d == rig.dest, "SUBSCRIBE to %q, want %q", d, rig.dest)
		t.getResp(rig.do(getReq("Device.DeviceInfo.")))
	}}
	m["6.3"] = caseFunc{wait: 60 * time.Second, run: func(t *T) {
		rig := t.stompSetup(stompOpts{conn: []kv{p("ServerRetryInitialInterval", t.retryTime())}})
		rig.srv.setShape(func(s *stompShape) { s.down = true })
		cut := time.Now()
		rig.srv.cut()
		got := rig.srv.waitAccepts(t.ctx, cut, 2, 3*rig.retryMin*time.Duration(rig.retryMult)/1000+5*time.Second)
		t.Check(len(got) >= 2, "%d connection attempts after the server went down, want 2", len(got))
		rig.checkRetry("the first attempt", 1, got[0].Sub(cut))
		rig.checkRetry("the second attempt", 2, got[1].Sub(got[0]))
		from := rig.srv.mark()
		rig.srv.setShape(func(s *stompShape) { s.down = false })
		rig.connect(from, 30*time.Second)
		rig.subscribed(from)
		t.getResp(rig.do(getReq("Device.STOMP.Connection.")))
	}}
	m["6.4"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		rig := t.stompSetup(stompOpts{})
		from := rig.srv.mark()
		t.getResp(rig.do(getReq("Device.DeviceInfo.")))
		f, _ := rig.agentSend(from, 5*time.Second, isGetResp)
		t.Check(f != nil, "no SEND frame with the GetResp")
		// [R-STOMP.19] content-length, [R-STOMP.20] content-type,
		// [R-STOMP.21] reply-to-dest.
		cl, _ := f.get("content-length")
		t.Check(cl == fmt.Sprint(len(f.body)), "content-length %q for a body of %d bytes", cl, len(f.body))
		ct, _ := f.get("content-type")
		t.Check(ct == "application/vnd.bbf.usp.msg", "content-type %q, want application/vnd.bbf.usp.msg", ct)
		rt, _ := f.get("reply-to-dest")
		t.Check(rt == rig.dest, "reply-to-dest %q, want the agent's destination %q", rt, rig.dest)
	}}
	destCase := func(fromServer bool) func(*T) {
		return func(t *T) {
			o := stompOpts{dest: "/queue/usp.agent.tp469-" + strings.ReplaceAll(t.id, ".", "-") + "-new"}
			if fromServer {
				o = stompOpts{shape: stompShape{subscribeDest: "/queue/usp.agent.tp469-" + strings.ReplaceAll(t.id, ".", "-") + "-server"}}
			}
			rig := t.stompSetup(o)
			// [R-STOMP.12], [R-STOMP.14] subscribe-dest wins over the
			// configured Destination; [R-STOMP.15] without it the
			// configured one is used.
			s := rig.subscribed(0)
			d, _ := s.get("destination")
			t.Check(d == rig.dest, "SUBSCRIBE to %q, want %q", d, rig.dest)
			from := rig.srv.mark()
			t.getResp(rig.do(getReq("Device.LocalAgent.")))
			f, _ := rig.agentSend(from, 5*time.Second, isGetResp)
			t.Check(f != nil, "no SEND frame with the GetResp")
			rt, _ := f.get("reply-to-dest")
			t.Check(rt == rig.dest, "reply-to-dest %q, want %q", rt, rig.dest)
		}
	}
	m["6.5"] = caseFunc{wait: 30 * time.Second, run: destCase(true)}
	m["6.6"] = caseFunc{wait: 30 * time.Second, run: destCase(false)}
	m["6.7"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		rig := t.stompSetup(stompOpts{dest: "-", noWait: true})
		e, _ := rig.connect(0, 20*time.Second)
		// [R-STOMP.16] no destination: the Agent ends the session.
		t.Check(rig.srv.waitClosed(t.ctx, e.conn, 10*time.Second), "the agent kept the session without a destination open")
		_, subscribed := rig.srv.waitEvent(t.ctx, 0, 0, func(x stompEvent) bool { return x.conn == e.conn && isFrame("SUBSCRIBE", true)(x) })
		t.Check(!subscribed, "the agent subscribed without a destination")
	}}
	m["6.8"] = caseFunc{wait: 90 * time.Second, run: func(t *T) {
		// The plan's 15 s / 10 s and 60 s, scaled down to 2 s / 3 s and
		// 8 s unless long waits are enabled.
		out, in, watch := 2000, 3000, 8*time.Second
		if t.r.o.Long {
			out, in, watch = 15000, 10000, 60*time.Second
		}
		t.need("Device.STOMP.Connection.{i}.EnableHeartbeats")
		rig := t.stompSetup(stompOpts{shape: stompShape{heartBeat: fmt.Sprintf("%d,%d", in, out)},
			conn: []kv{p("EnableHeartbeats", "true"), p("OutgoingHeartbeat", fmt.Sprint(out)), p("IncomingHeartbeat", fmt.Sprint(in))}})
		_, f := rig.connect(0, time.Second)
		// [R-STOMP.8], [R-STOMP.9], [R-STOMP.10] the data model's values.
		hb, _ := f.get("heart-beat")
		t.Check(hb == fmt.Sprintf("%d,%d", out, in), "heart-beat header %q, want %d,%d", hb, out, in)
		start := rig.srv.mark()
		time.Sleep(watch)
		// [R-STOMP.11] the Agent sends something at least every
		// negotiated period (the server's sy is the same value).
		rig.srv.mu.Lock()
		var beats []time.Time
		for _, e := range rig.srv.events[start:] {
			if e.in {
				beats = append(beats, e.at)
			}
		}
		rig.srv.mu.Unlock()
		period := time.Duration(out) * time.Millisecond
		t.Check(len(beats) >= int(watch/period)-1, "%d heart-beats or frames in %v, want one every %v", len(beats), watch, period)
		for i := 1; i < len(beats); i++ {
			gap := beats[i].Sub(beats[i-1])
			t.Check(gap <= period*3/2, "%v between two heart-beats, over %v", gap.Round(time.Millisecond), period)
		}
	}}
	m["6.9"] = caseFunc{wait: 90 * time.Second, run: func(t *T) {
		wait := 5 * time.Second
		if t.r.o.Long {
			wait = 60 * time.Second
		}
		rig := t.stompSetup(stompOpts{})
		from := rig.srv.mark()
		t.Check(rig.srv.Send(t.ctx, rig.dest, []byte("not a USP record")) == nil, "the malformed record was not delivered")
		time.Sleep(wait)
		// The Agent ignores it or answers with a USP Record Error; it
		// sends nothing else in answer and goes on working.
		rig.srv.mu.Lock()
		evs := slices.Clone(rig.srv.events[from:])
		rig.srv.mu.Unlock()
		for _, e := range evs {
			if isFrame("SEND", true)(e) {
				var x record.Record
				err := record.Decode(e.f.body, &x, nil)
				t.Check(err == nil, "the agent sent a frame whose body is not a USP Record: %v", err)
				if x.Type == record.TypeNoSessionContext {
					var m wire.Msg
					t.Check(protoUnmarshal(x.Payload, &m) == nil && m.GetBody().GetError() != nil,
						"the agent answered a malformed record with %s, not an Error", brief(&m))
				}
			}
		}
		t.getResp(rig.do(getReq("Device.DeviceInfo.")))
	}}
	m["6.12"] = caseFunc{wait: 60 * time.Second, run: func(t *T) {
		rig := t.stompSetup(stompOpts{})
		from := rig.reconnect()
		s := rig.subscribed(from)
		d, _ := s.get("destination")
		f, rec := rig.agentSend(from, 30*time.Second, func(r *record.Record) bool { return r.Type == record.TypeSTOMPConnect })
		// [R-MTP.6] a STOMPConnectRecord after each connection.
		t.Check(f != nil, "no STOMPConnectRecord within 30 s of the new connection")
		t.Check(rec.STOMP.Version == record.STOMPVersion12, "STOMPConnectRecord version %v, want V1_2", rec.STOMP.Version)
		t.Check(rec.STOMP.SubscribedDestination == d, "STOMPConnectRecord subscribed_destination %q, want the SUBSCRIBE destination %q", rec.STOMP.SubscribedDestination, d)
	}}
	return m
}
