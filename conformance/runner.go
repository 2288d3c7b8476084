package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// Options configure a run.
type Options struct {
	// AgentID is the Endpoint ID of the Agent under test.
	AgentID string
	// ControllerID is the runner's Endpoint ID; the Agent must trust it
	// with full access.
	ControllerID string
	// Transport reaches the Agent; Run serves and closes it. AgentAddr is
	// the Agent's address on it.
	Transport mtp.Transport
	AgentAddr string
	// WebSocket, when the Agent is reached over WebSocket, lets the cases
	// of section 7 open connections of their own; nil skips them.
	WebSocket *WebSocketSetup
	// Discovery, if set, lets the cases of section 8 reach the Agent's mDNS
	// and DHCP lease; nil skips them.
	Discovery *DiscoverySetup
	// BulkData configures the collector of the section 10 cases; nil
	// means the zero BulkDataSetup.
	BulkData *BulkDataSetup
	// Firmware is the image the firmware cases of section 9 (9.3 to 9.8)
	// serve; nil skips them.
	Firmware *FirmwareSetup
	// E2E, if set, gives the runner the certificates of TLS12 E2E
	// sessions (section 3, 2.7, 2.8); nil skips the cases that need them.
	E2E *E2ESetup
	// Second, if set, is a second Controller for the cases that need one;
	// the Agent need not know it.
	Second *Peer
	// CaseTimeout bounds each case; 0 means 60 seconds (cases with long
	// waits extend it).
	CaseTimeout time.Duration
	// ReplyTimeout bounds the wait for each response; 0 means 10 seconds.
	ReplyTimeout time.Duration
	// Long runs the cases that wait for more than 20 seconds.
	Long bool
	// Reboot runs the cases that reboot the Agent; it must come back on the
	// same transport.
	Reboot bool
	// ProbeHost is an IP address of the runner's host that the Agent
	// reaches; case 1.92 has the Agent trace the route to it and watches
	// the probes arrive, and the runner's own MQTT and STOMP servers
	// (sections 6 and 11, 4.1) listen on it. "" means 127.0.0.1 (an Agent
	// on the same host).
	ProbeHost string
	// MTPTLS, if set, lets the runner's own MQTT and STOMP servers speak
	// TLS (4.1, 6.11, 11.3); nil skips those cases.
	MTPTLS *MTPTLSSetup
	// AltCert, if set, is the alternate certificate of case 9.2
	// (Device.LocalAgent.AddCertificate()); nil skips the case.
	AltCert *AltCertSetup
	// ExpiredCert tells that the runner's Controller certificate (the
	// Transport's) has expired and the Agent has no absolute time: the
	// setup of 2.6, which is skipped without it.
	ExpiredCert bool
	// ValueChangeWait bounds the wait for a ValueChange Notify after the
	// change that triggers it. TP-469 sets no limit ("Allow the EUT to
	// send a Notify message") and an Agent may detect changes by polling
	// (OB-USP-Agent polls every 15 s by default), so the wait is long;
	// the result's Note tells how long the Notify took. 0 means
	// DefaultValueChangeWait.
	ValueChangeWait time.Duration
	// Logger receives progress lines; nil discards them.
	Logger *slog.Logger
}

// DefaultValueChangeWait is Options.ValueChangeWait when it is 0: several
// polling periods of a polling Agent.
const DefaultValueChangeWait = 60 * time.Second

// Peer is a Controller endpoint: its ID, its transport, and the Agent's
// address on it.
type Peer struct {
	ID        string
	Transport mtp.Transport
	AgentAddr string
}

// Status is a case's outcome.
type Status string

// Outcomes.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is the outcome of one case.
type Result struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Tag    string `json:"tag"`
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Note records what the runner measured that the verdict allows for,
	// such as how long a ValueChange Notify took.
	Note     string        `json:"note,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Match returns a filter for Run that accepts case ids matching any of the
// comma-separated glob patterns ("1.*,2.1"); "" accepts all.
func Match(patterns string) func(id string) bool {
	if patterns == "" {
		return func(string) bool { return true }
	}
	ps := strings.Split(patterns, ",")
	return func(id string) bool {
		for _, p := range ps {
			if ok, _ := path.Match(strings.TrimSpace(p), id); ok {
				return true
			}
		}
		return false
	}
}

// ErrNoAgent is returned by Run when the Agent does not answer a first Get.
var ErrNoAgent = errors.New("conformance: the agent does not answer")

// Run runs the cases whose id match accepts, in plan order, and returns a
// result for each.
func Run(ctx context.Context, o Options, match func(id string) bool) ([]Result, error) {
	if o.CaseTimeout <= 0 {
		o.CaseTimeout = 60 * time.Second
	}
	if o.ReplyTimeout <= 0 {
		o.ReplyTimeout = 10 * time.Second
	}
	if o.ValueChangeWait <= 0 {
		o.ValueChangeWait = DefaultValueChangeWait
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if match == nil {
		match = Match("")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.WebSocket != nil && o.WebSocket.Gate != nil {
		defer o.WebSocket.Gate.Close()
	}
	r := &runner{o: o}
	r.primary = newClient(ctx, o.Logger, o.ControllerID, o.AgentID, o.Transport, o.AgentAddr)
	r.primary.sign = o.E2E.signer()
	defer r.primary.close()
	if o.Second != nil {
		r.second = newClient(ctx, o.Logger, o.Second.ID, o.AgentID, o.Second.Transport, o.Second.AgentAddr)
		r.second.sign = o.E2E.signer()
		defer r.second.close()
	}
	if err := r.primary.ping(ctx, o.ReplyTimeout*3); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoAgent, err)
	}
	var out []Result
	for _, c := range Cases() {
		if !match(c.ID) {
			continue
		}
		res := r.runCase(ctx, c)
		o.Logger.Info("case", "id", res.ID, "status", res.Status, "reason", res.Reason, "took", res.Duration)
		out = append(out, res)
		if ctx.Err() != nil {
			break
		}
	}
	return out, nil
}

type runner struct {
	o       Options
	primary *client
	second  *client
}

// runCase runs one case in its own goroutine, so that Fatalf can end it.
func (r *runner) runCase(ctx context.Context, c Case) (res Result) {
	res = Result{ID: c.ID, Title: c.Title, Tag: c.Tag}
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	if c.run == nil {
		res.Status, res.Reason = Skip, c.skip
		return res
	}
	timeout := r.o.CaseTimeout + c.wait
	if c.valueChange {
		timeout += r.o.ValueChangeWait
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := &T{ctx: cctx, r: r, c: r.primary, id: c.ID}
	r.primary.drain()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer t.runCleanups()
		defer func() {
			if v := recover(); v != nil {
				t.status, t.reason = Fail, fmt.Sprintf("panic: %v", v)
			}
		}()
		c.run(t)
	}()
	select {
	case <-done:
	case <-cctx.Done():
		t.mu.Lock()
		if t.status == "" {
			t.status, t.reason = Fail, fmt.Sprintf("timed out after %v", timeout)
		}
		t.mu.Unlock()
		<-done
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	res.Status, res.Reason, res.Note = t.status, t.reason, t.note
	if res.Status == "" {
		res.Status = Pass
	}
	return res
}

// T is the state of one running case.
type T struct {
	ctx context.Context
	r   *runner
	c   *client
	id  string

	mu       sync.Mutex
	note     string
	status   Status
	reason   string
	cleanups []func()
}

// Fatalf fails the case and ends it.
func (t *T) Fatalf(format string, args ...any) {
	t.mu.Lock()
	if t.status == "" {
		t.status, t.reason = Fail, fmt.Sprintf(format, args...)
	}
	t.mu.Unlock()
	runtime.Goexit()
}

// Skipf skips the case and ends it.
func (t *T) Skipf(format string, args ...any) {
	t.mu.Lock()
	if t.status == "" {
		t.status, t.reason = Skip, fmt.Sprintf(format, args...)
	}
	t.mu.Unlock()
	runtime.Goexit()
}

// Check fails the case unless ok.
func (t *T) Check(ok bool, format string, args ...any) {
	if !ok {
		t.Fatalf(format, args...)
	}
}

// Cleanup registers f to run when the case ends, last first.
func (t *T) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (t *T) runCleanups() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		func() {
			defer func() { _ = recover() }()
			t.cleanups[i]()
		}()
	}
}

// Do sends a request from the primary Controller and returns the reply:
// a response or an Error.
func (t *T) Do(req *wire.Request) *wire.Msg { return t.DoAs(t.c, req) }

// DoAs sends a request from the given Controller.
func (t *T) DoAs(c *client, req *wire.Request) *wire.Msg {
	m, err := c.do(t.ctx, req, t.r.o.ReplyTimeout)
	if err != nil {
		t.Fatalf("%s: %v", describe(req), err)
	}
	return m
}

// NoReply sends a request and checks that nothing answers it within d.
func (t *T) NoReply(req *wire.Request, d time.Duration) {
	if m, err := t.c.do(t.ctx, req, d); err == nil {
		t.Fatalf("%s: unexpected reply %v", describe(req), m)
	}
}

// Notify waits up to d for a Notify that match accepts (nil: any),
// answering it with a NotifyResp when asked to; it returns nil on timeout.
func (t *T) Notify(d time.Duration, match func(*wire.Notify) bool) *wire.Msg {
	return t.c.notification(t.ctx, d, match, true)
}

// client is one Controller endpoint of the runner.
type client struct {
	log     *slog.Logger
	id      string
	agentID string
	tr      mtp.Transport
	addr    string
	seq     atomic.Uint64
	cancel  context.CancelFunc
	done    chan struct{}

	mu      sync.Mutex
	waiting map[string]chan *wire.Msg
	notifs  []*wire.Msg
	notifc  chan struct{}
	ackOff  bool
	// tap, when set, receives the session_context and disconnect
	// Records from the Agent (section3.go).
	tap chan *record.Record
	// sign, when set, signs the Records sent (e2esetup.go).
	sign func(*record.Record)
}

func newClient(ctx context.Context, log *slog.Logger, id, agentID string, tr mtp.Transport, addr string) *client {
	ctx, cancel := context.WithCancel(ctx)
	c := &client{log: log, id: id, agentID: agentID, tr: tr, addr: addr, cancel: cancel, done: make(chan struct{}),
		waiting: map[string]chan *wire.Msg{}, notifc: make(chan struct{}, 1)}
	go func() {
		defer close(c.done)
		if err := tr.Serve(ctx, mtp.HandlerFunc(c.handle)); err != nil {
			log.Warn("transport stopped", "controller", id, "err", err)
		}
	}()
	return c
}

func (c *client) close() {
	c.cancel()
	c.tr.Close()
	<-c.done
}

// handle files an inbound Record: responses by msg_id, notifications in a
// queue. Records for other endpoints, or from others, are ignored.
func (c *client) handle(ctx context.Context, in mtp.Inbound) {
	var rec record.Record
	if err := record.Decode(in.Record, &rec, nil); err != nil {
		c.log.Warn("bad record from agent", "err", err)
		return
	}
	if rec.ToID != c.id || rec.FromID != c.agentID {
		return
	}
	if rec.Type == record.TypeSessionContext || rec.Type == record.TypeDisconnect {
		c.mu.Lock()
		tap := c.tap
		c.mu.Unlock()
		if tap != nil {
			// The Record's bytes may be in a buffer the transport reuses:
			// the case keeps a copy.
			for i, pl := range rec.Session.Payload {
				rec.Session.Payload[i] = bytes.Clone(pl)
			}
			rec.MACSignature, rec.SenderCert = bytes.Clone(rec.MACSignature), bytes.Clone(rec.SenderCert)
			select {
			case tap <- &rec:
			default:
			}
		}
		return
	}
	if rec.Type != record.TypeNoSessionContext {
		return
	}
	var m wire.Msg
	if err := proto.Unmarshal(rec.Payload, &m); err != nil {
		c.log.Warn("bad msg from agent", "err", err)
		return
	}
	if m.GetBody().GetRequest().GetNotify() != nil {
		c.mu.Lock()
		c.notifs = append(c.notifs, &m)
		c.mu.Unlock()
		select {
		case c.notifc <- struct{}{}:
		default:
		}
		return
	}
	c.mu.Lock()
	ch := c.waiting[m.GetHeader().GetMsgId()]
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- &m:
		default:
		}
	}
}

// drain forgets queued notifications, between cases.
func (c *client) drain() {
	c.mu.Lock()
	c.notifs = nil
	c.mu.Unlock()
}

func (c *client) send(ctx context.Context, m *wire.Msg) error {
	payload, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return c.sendRecord(ctx, record.NewNoSession(c.agentID, c.id, payload))
}

func (c *client) sendRecord(ctx context.Context, rec *record.Record) error {
	c.seal(rec)
	b, err := rec.MarshalBinary()
	if err != nil {
		return err
	}
	return c.tr.Send(ctx, c.addr, b)
}

func (c *client) do(ctx context.Context, req *wire.Request, timeout time.Duration) (*wire.Msg, error) {
	return c.doTo(ctx, c.addr, req, timeout)
}

// doTo sends a request to addr on the client's transport and waits for
// the response.
func (c *client) doTo(ctx context.Context, addr string, req *wire.Request, timeout time.Duration) (*wire.Msg, error) {
	id := fmt.Sprintf("%s-%d", strings.ReplaceAll(c.id, ":", ""), c.seq.Add(1))
	ch := make(chan *wire.Msg, 1)
	c.mu.Lock()
	c.waiting[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
	}()
	m := &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.RequestMsgType(req)}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}}
	payload, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	rec := record.NewNoSession(c.agentID, c.id, payload)
	c.seal(rec)
	b, err := rec.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if err := c.tr.Send(ctx, addr, b); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("no reply within %v", timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ping checks that the Agent answers, retrying while the transport comes
// up.
func (c *client) ping(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if _, err = c.do(ctx, getReq("Device.LocalAgent.EndpointID"), time.Second); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return err
}

func (c *client) notification(ctx context.Context, d time.Duration, match func(*wire.Notify) bool, ack bool) *wire.Msg {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i, m := range c.notifs {
			n := m.GetBody().GetRequest().GetNotify()
			if match == nil || match(n) {
				c.notifs = append(c.notifs[:i:i], c.notifs[i+1:]...)
				ackOff := c.ackOff
				c.mu.Unlock()
				if ack && !ackOff && n.GetSendResp() {
					c.ack(ctx, m)
				}
				return m
			}
		}
		c.mu.Unlock()
		select {
		case <-c.notifc:
		case <-deadline.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

func (c *client) ack(ctx context.Context, m *wire.Msg) {
	n := m.GetBody().GetRequest().GetNotify()
	resp := &wire.Msg{Header: &wire.Header{MsgId: m.GetHeader().GetMsgId(), MsgType: wire.Header_NOTIFY_RESP},
		Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{RespType: &wire.Response_NotifyResp{
			NotifyResp: &wire.NotifyResp{SubscriptionId: n.GetSubscriptionId()}}}}}}
	if err := c.send(ctx, resp); err != nil {
		c.log.Warn("NotifyResp not sent", "err", err)
	}
}

func describe(req *wire.Request) string {
	s := fmt.Sprint(req)
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
