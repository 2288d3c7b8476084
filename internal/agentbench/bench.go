package agentbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/wire"
)

// Target is one Agent to measure, reached over MQTT or WebSocket.
type Target struct {
	// Name labels the target's rows.
	Name string
	// EndpointID is the Agent's Endpoint ID.
	EndpointID string
	// PID is the Agent's process on this machine, for CPU time and RSS;
	// 0 leaves them out.
	PID int
	// MQTT or WebSocket says how to reach the Agent; exactly one is set.
	MQTT      *MQTTTarget
	WebSocket *WebSocketTarget
}

// MQTTTarget is an Agent behind an MQTT broker.
type MQTTTarget struct {
	// URL is the broker, tcp://host:port.
	URL string
	// V311 speaks MQTT 3.1.1; false speaks 5.0.
	V311 bool
	// AgentTopic is the Topic the Agent subscribes to.
	AgentTopic string
	// ControllerTopic is the load client's own Topic; "" means
	// "usp/controller/agentbench".
	ControllerTopic string
	// Username and Password log the load client in, when set.
	Username, Password string
}

// WebSocketTarget is an Agent reached over WebSocket: a WebSocket server
// at URL, or a WebSocket client that dials the load client at Listen.
type WebSocketTarget struct {
	// URL is the Agent's ws:// URL.
	URL string
	// Listen, when set, makes the load client a WebSocket server on this
	// host:port that the Agent connects to (any path); URL is then unused.
	Listen string
}

// Options bound and shape a run; nil means defaults.
type Options struct {
	// ControllerID is the load client's Endpoint ID: a Controller the
	// Agent knows with the right to Add, Set, Delete and Operate. ""
	// means "proto::agentbench".
	ControllerID string
	// Workloads are the names (see Workloads) to run; nil means all.
	Workloads []string
	// InFlight are the numbers of requests kept in flight; nil means 1,
	// 8 and 64.
	InFlight []int
	// Requests bounds each cell's requests; 0 means 2,000.
	Requests int
	// Duration bounds each cell's time; 0 means 3 seconds.
	Duration time.Duration
	// Rounds repeats every cell, interleaving the targets each time; 0
	// means 1.
	Rounds int
	// Timeout bounds one request; 0 means 10 seconds.
	Timeout time.Duration
	// Logger receives the transports' log lines; nil discards them.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.ControllerID == "" {
		c.ControllerID = "proto::agentbench"
	}
	if c.Workloads == nil {
		c.Workloads = Workloads
	}
	if c.InFlight == nil {
		c.InFlight = []int{1, 8, 64}
	}
	if c.Requests == 0 {
		c.Requests = 2000
	}
	if c.Duration == 0 {
		c.Duration = 3 * time.Second
	}
	if c.Rounds == 0 {
		c.Rounds = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Result is one cell: one target, workload, number in flight and round.
type Result struct {
	Target   string
	Workload string
	InFlight int
	Round    int
	// Requests were answered successfully; Errors were not (Error
	// messages, failures, timeouts).
	Requests, Errors int
	Elapsed          time.Duration
	P50, P99         time.Duration
	// CPU is the Agent process's CPU time over the cell; zero without a
	// PID. It is the sum of its threads' run times (schedstat, to the
	// nanosecond) where the kernel has them, else User + System.
	CPU time.Duration
	// User and System split the CPU time: in user space and in the kernel
	// (system calls, and the network stack's work on the process's
	// behalf). They come from clock ticks: 10 ms resolution each, so a
	// cell needs some hundreds of milliseconds of CPU for a useful split.
	User, System time.Duration
	// Voluntary and Involuntary are the Agent's context switches over the
	// cell, summed over its threads; zero without a PID.
	Voluntary, Involuntary int64
	// RSS is the Agent's VmRSS after the cell, in KiB; zero without a PID.
	RSS int
	// FirstErr is the first error seen, if any.
	FirstErr string
}

// PerSecond is the rate of successful requests.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// CPUPerRequest is the Agent's CPU time per successful request.
func (r Result) CPUPerRequest() time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Requests)
}

// UserPerRequest and SystemPerRequest split CPUPerRequest.
func (r Result) UserPerRequest() time.Duration   { return perRequest(r.User, r.Requests) }
func (r Result) SystemPerRequest() time.Duration { return perRequest(r.System, r.Requests) }

// SwitchesPerRequest are the Agent's voluntary and involuntary context
// switches per successful request.
func (r Result) SwitchesPerRequest() (voluntary, involuntary float64) {
	if r.Requests == 0 {
		return 0, 0
	}
	return float64(r.Voluntary) / float64(r.Requests), float64(r.Involuntary) / float64(r.Requests)
}

func perRequest(d time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return d / time.Duration(n)
}

// Report is a whole run.
type Report struct {
	Results []Result
	// IdleRSS and AfterRSS are each target's VmRSS in KiB before the first
	// request and after the last cell (and a second's rest), by Name.
	IdleRSS, AfterRSS map[string]int
}

// conn is one target with its connected client.
type conn struct {
	Target
	t  mtp.Transport
	c  *client
	st *state
}

// Run measures every target, interleaved cell by cell, and returns the
// results. It stops early, with what it has, when ctx is done.
func Run(ctx context.Context, targets []Target, o *Options) (*Report, error) {
	opt := o.withDefaults()
	var wls []workload
	for _, n := range opt.Workloads {
		w, err := workloadByName(n)
		if err != nil {
			return nil, err
		}
		wls = append(wls, w)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var conns []*conn
	var wg sync.WaitGroup
	defer func() {
		for _, c := range conns {
			c.t.Close()
		}
		wg.Wait()
	}()
	rep := &Report{IdleRSS: map[string]int{}, AfterRSS: map[string]int{}}
	for i, tg := range targets {
		c, err := dial(ctx, tg, &opt, i, &wg)
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
		if tg.PID != 0 {
			rep.IdleRSS[tg.Name], _ = procRSS(tg.PID)
		}
		if err := c.st.setup(ctx, c.c); err != nil {
			return nil, fmt.Errorf("%s: %w", tg.Name, err)
		}
	}
	for _, w := range wls {
		for _, n := range opt.InFlight {
			for r := range opt.Rounds {
				for _, c := range conns {
					if ctx.Err() != nil {
						return rep, ctx.Err()
					}
					rep.Results = append(rep.Results, c.cell(ctx, w, n, r, &opt))
				}
			}
		}
	}
	for _, c := range conns {
		cctx, ccancel := context.WithTimeout(ctx, opt.Timeout)
		c.st.cleanup(cctx, c.c)
		ccancel()
	}
	time.Sleep(time.Second)
	for _, c := range conns {
		if c.PID != 0 {
			rep.AfterRSS[c.Name], _ = procRSS(c.PID)
		}
	}
	return rep, nil
}

// dial connects the load client to tg and waits until a request is
// answered.
func dial(ctx context.Context, tg Target, o *Options, i int, wg *sync.WaitGroup) (*conn, error) {
	c := &conn{Target: tg, st: &state{nonce: strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + strconv.Itoa(i), ctrlID: o.ControllerID}}
	up := make(chan struct{}, 1)
	onState := func(_ context.Context, _ mtp.Peer, s mtp.State, _ error) {
		if s == mtp.StateUp {
			select {
			case up <- struct{}{}:
			default:
			}
		}
	}
	wait := o.Timeout
	switch {
	case tg.MQTT != nil:
		topic := tg.MQTT.ControllerTopic
		if topic == "" {
			topic = "usp/controller/agentbench"
		}
		v := mqtt.V5
		if tg.MQTT.V311 {
			v = mqtt.V311
		}
		c.t = mqtt.NewClient(&mqtt.Options{URL: tg.MQTT.URL, Version: v, EndpointID: o.ControllerID, ClientID: "agentbench-" + c.st.nonce,
			Username: tg.MQTT.Username, Password: tg.MQTT.Password, Topic: topic, MinWait: 100 * time.Millisecond, OnState: onState,
			Logger: o.Logger})
		c.c = newClient(c.t, tg.MQTT.AgentTopic, o.ControllerID, tg.EndpointID)
	case tg.WebSocket != nil:
		var addr string
		var err error
		if c.t, addr, wait, err = webSocketTransport(ctx, tg, o, onState); err != nil {
			return nil, err
		}
		c.c = newClient(c.t, addr, o.ControllerID, tg.EndpointID)
	default:
		return nil, fmt.Errorf("agentbench: target %q: neither MQTT nor WebSocket", tg.Name)
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.t.Serve(ctx, c.c) }()
	select {
	case <-up:
	case <-time.After(wait):
		c.t.Close()
		return nil, fmt.Errorf("agentbench: %s: not connected after %v", tg.Name, wait)
	}
	// The first request also waits for the Agent's own connection.
	deadline := time.Now().Add(o.Timeout)
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		typ, req, _ := get("Device.LocalAgent.EndpointID")
		_, err := c.c.do(rctx, typ, req)
		cancel()
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.t.Close()
			return nil, fmt.Errorf("agentbench: %s: no answer: %w", tg.Name, err)
		}
	}
}

// cell runs one workload with n requests in flight.
func (c *conn) cell(ctx context.Context, w workload, n, round int, o *Options) Result {
	res := Result{Target: c.Name, Workload: w.name, InFlight: n, Round: round}
	if w.name == "delete" {
		c.fillRows(ctx, o)
	}
	var next, errs atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, n)
	p0, err0 := c.proc()
	start := time.Now()
	deadline := start.Add(o.Duration)
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= o.Requests || time.Now().After(deadline) || ctx.Err() != nil {
					return
				}
				typ, req, ok := w.build(c.st, i)
				if !ok {
					return
				}
				rctx, cancel := context.WithTimeout(ctx, o.Timeout)
				t0 := time.Now()
				r, err := c.c.do(rctx, typ, req)
				d := time.Since(t0)
				cancel()
				if err == nil {
					err = failure(r)
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				if w.done != nil {
					w.done(c.st, r)
				}
				lat[g] = append(lat[g], d)
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if p1, err := c.proc(); err == nil && err0 == nil {
		d := p1.sub(p0)
		res.User, res.System, res.CPU = d.User, d.System, d.User+d.System
		if p0.Run > 0 && d.Run > 0 {
			res.CPU = d.Run
		}
		res.Voluntary, res.Involuntary = d.Voluntary, d.Involuntary
	}
	if c.PID != 0 {
		res.RSS, _ = procRSS(c.PID)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	res.Requests, res.Errors = len(all), int(errs.Load())
	if len(all) > 0 {
		res.P50, res.P99 = all[len(all)/2], all[min(len(all)-1, len(all)*99/100)]
	}
	if s, ok := firstErr.Load().(string); ok {
		res.FirstErr = s
	}
	return res
}

// fillRows adds Subscription rows, untimed, until the "delete" workload
// has a full cell's worth (o.Requests) or 4 × o.Duration have passed.
func (c *conn) fillRows(ctx context.Context, o *Options) {
	deadline := time.Now().Add(4 * o.Duration)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				c.st.mu.Lock()
				enough := len(c.st.rows) >= o.Requests
				c.st.mu.Unlock()
				if enough {
					return
				}
				rctx, cancel := context.WithTimeout(ctx, o.Timeout)
				r, err := c.c.do(rctx, wire.Header_ADD, addSubscription(c.st.nextID()))
				cancel()
				if err != nil {
					return
				}
				if p := addedPath(r); p != "" {
					c.st.mu.Lock()
					c.st.rows = append(c.st.rows, p)
					c.st.mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
}

func (c *conn) proc() (procSample, error) {
	if c.PID == 0 {
		return procSample{}, errors.New("agentbench: no pid")
	}
	return readProc(c.PID)
}

// Print writes the results as an aligned table, then the RSS figures.
func Print(w io.Writer, rep *Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tworkload\tin flight\tround\trequests\terrors\treq/s\tp50\tp99\tCPU/req\tuser/req\tsys/req\tvcsw/req\tivcsw/req\tRSS KiB\t")
	for _, r := range rep.Results {
		v, iv := r.SwitchesPerRequest()
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t%d\t\n", r.Target, r.Workload, r.InFlight, r.Round, r.Requests, r.Errors,
			r.PerSecond(), round(r.P50), round(r.P99), round(r.CPUPerRequest()), round(r.UserPerRequest()), round(r.SystemPerRequest()), v, iv, r.RSS)
	}
	tw.Flush()
	for _, r := range rep.Results {
		if r.FirstErr != "" {
			fmt.Fprintf(w, "%s %s %d: first error: %s\n", r.Target, r.Workload, r.InFlight, r.FirstErr)
		}
	}
	for name, idle := range rep.IdleRSS {
		fmt.Fprintf(w, "%s: RSS %d KiB idle, %d KiB after the run\n", name, idle, rep.AfterRSS[name])
	}
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= 10*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}
