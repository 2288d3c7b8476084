package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/wire"
)

// Traffic of TestFault: faultWriters goroutines, each sending a Set every
// faultPace and waiting at most faultWait for its SetResp, each Set to
// an instance of its own out of faultPool.
const (
	faultWriters = 4
	faultPace    = 40 * time.Millisecond
	faultWait    = 2 * time.Second
	faultPool    = 400
	// faultAfter is how many Sets must be acknowledged after the agent's
	// return for traffic to count as flowing again.
	faultAfter = 40
)

// TestFault SIGKILLs the broker between `usp agent` and a Controller
// while Sets are in flight, and restarts it on the same port. The agent
// must wait as its back-off says between attempts and be back within one
// wait of the broker's return ([R-MQTT.10], [R-MQTT.33], [R-STOMP.7]),
// the back-off's parameters read from its data model before the fault.
// Every Set whose SetResp the Controller received must be in the agent's
// data model when read back, and Sets must be acknowledged again after
// the agent's return.
func TestFault(t *testing.T) {
	bin := buildUSP(t)
	testenv.EachMTP(t, func(t *testing.T, m testenv.MTP) { brokerFault(t, bin, m) }, "MQTT5", "MQTT311", "STOMP")
}

func brokerFault(t *testing.T, bin string, m testenv.MTP) {
	begin := time.Now()
	agentLog := &lineLog{}
	c, e := startPair(t, bin, m, agentLog)
	defer func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", agentLog)
		}
	}()
	prefix := strings.ToLower(m.Protocol) + ": "
	agentLog.wait(t, begin, prefix+"connected", 5*time.Second)
	paths := addSubscriptions(t, c, e.agentID, faultPool)
	retry := agentRetry(t, c, e.agentID, m.Protocol)

	// Traffic: each writer takes the next instance and Sets its
	// NotifExpiration, noting when the SetResp came.
	var next atomic.Int64
	var mu sync.Mutex
	acked := map[int]time.Time{}
	var unanswered atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range faultWriters {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(faultPace):
				}
				i := int(next.Add(1)) - 1
				if i >= len(paths) {
					return
				}
				if setNotifExpiration(c, e.agentID, paths[i], faultValue(i)) {
					mu.Lock()
					acked[i] = time.Now()
					mu.Unlock()
				} else {
					unanswered.Add(1)
				}
			}
		})
	}
	var once sync.Once
	halt := func() { once.Do(func() { close(stop) }); wg.Wait() }
	defer halt()
	countAcked := func(from, to time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, at := range acked {
			if !at.Before(from) && at.Before(to) {
				n++
			}
		}
		return n
	}

	time.Sleep(time.Second)
	killed := time.Now()
	m.Broker.Kill(t)
	down := agentLog.wait(t, killed, prefix+"not connected; retrying", 10*time.Second)
	t.Logf("agent saw the failure %v after SIGKILL", down.logged.Sub(killed).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	m.Broker.Restart(t)
	listening := time.Now()
	up := agentLog.wait(t, listening, prefix+"connected", retry.within(3)+10*time.Second)
	t.Logf("broker listening again %v after SIGKILL; agent connected %v after SIGKILL, %v after the broker listened",
		listening.Sub(killed).Round(time.Millisecond), up.logged.Sub(killed).Round(time.Millisecond), up.logged.Sub(listening).Round(time.Millisecond))
	checkAgentBackoff(t, retry, agentLog.since(killed, prefix+"not connected; retrying"), listening, up.logged)

	for deadline := time.Now().Add(30 * time.Second); countAcked(up.at, time.Now()) < faultAfter; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) || int(next.Load()) >= len(paths) {
			halt()
			t.Fatalf("%d Sets acknowledged since the agent's return, want %d", countAcked(up.at, time.Now()), faultAfter)
		}
	}
	halt()
	end := time.Now()
	before, during, after := countAcked(begin, killed), countAcked(killed, up.at), countAcked(up.at, end.Add(time.Second))
	t.Logf("Sets acknowledged before SIGKILL %d, during the outage %d, after the agent's return %d; %d unanswered in %v",
		before, during, after, unanswered.Load(), faultWait)

	got := readNotifExpirations(t, c, e.agentID)
	lost := 0
	for i := range acked {
		if v := got[paths[i]]; v != faultValue(i) {
			lost++
			if lost <= 5 {
				t.Errorf("%s NotifExpiration is %q, acknowledged %s", paths[i], v, faultValue(i))
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged Sets lost", lost, len(acked))
	}
	t.Logf("all %d acknowledged Sets read back; %v in all", len(acked), time.Since(begin).Round(time.Millisecond))
}

// backoff is the agent's reconnect back-off: m, k and the cap of
// mtp.Retry, and where they come from.
type backoff struct {
	retry  mtp.Retry
	max    time.Duration // 0: none
	source string
}

// rangeOf returns the wait range of the n-th retry.
func (b backoff) rangeOf(n int) (lo, hi time.Duration) {
	lo, hi = b.retry.Range(n)
	if b.max > 0 {
		lo, hi = min(lo, b.max), min(hi, b.max)
	}
	return lo, hi
}

// within returns the longest time that n retries can take.
func (b backoff) within(n int) time.Duration {
	var d time.Duration
	for i := 1; i <= n; i++ {
		_, hi := b.rangeOf(i)
		d += hi
	}
	return d
}

// agentRetry reads the agent's retry parameters for its one connection
// over protocol (MQTT.Client.{i}.ConnectRetry* [R-MQTT.10],
// STOMP.Connection.{i}.ServerRetry* [R-STOMP.7]); an agent whose data
// model has no such table uses the defaults of mtp.Retry.
func agentRetry(t *testing.T, c *controller.Controller, agentID, protocol string) backoff {
	t.Helper()
	table, names := "Device.MQTT.Client.*.", [3]string{"ConnectRetryTime", "ConnectRetryIntervalMultiplier", "ConnectRetryMaxInterval"}
	if protocol == "STOMP" {
		table, names = "Device.STOMP.Connection.*.", [3]string{"ServerRetryInitialInterval", "ServerRetryIntervalMultiplier", "ServerRetryMaxInterval"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Do(ctx, agentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{table}}}})
	if err != nil {
		t.Fatal(err)
	}
	rp := r.GetBody().GetResponse().GetGetResp().GetReqPathResults()
	if len(rp) != 1 || rp[0].GetErrCode() != 0 || len(rp[0].GetResolvedPathResults()) == 0 {
		return backoff{source: "the defaults of mtp.Retry (the agent has no " + strings.TrimSuffix(table, "*.") + ")"}
	}
	res := rp[0].GetResolvedPathResults()
	if len(res) != 1 {
		t.Fatalf("%d instances of %s, want 1", len(res), table)
	}
	var v [3]uint64
	for i, n := range names {
		if v[i], err = strconv.ParseUint(res[0].GetResultParams()[n], 10, 32); err != nil {
			t.Fatalf("%s%s: %v", res[0].GetResolvedPath(), n, err)
		}
	}
	return backoff{retry: mtp.Retry{MinWait: time.Duration(v[0]) * time.Second, Multiplier: uint32(v[1])},
		max:    time.Duration(v[2]) * time.Second,
		source: fmt.Sprintf("%s %s=%d, %s=%d, %s=%d", res[0].GetResolvedPath(), names[0], v[0], names[1], v[1], names[2], v[2])}
}

// checkAgentBackoff checks each retry the agent logged against its
// back-off: its wait is in the range of its attempt, the next attempt (or
// the connection) came no sooner than that wait, and the connection came
// at the end of the last wait, within that wait of the broker's return.
func checkAgentBackoff(t *testing.T, b backoff, retries []logLine, listening, up time.Time) {
	t.Helper()
	if len(retries) == 0 {
		t.Fatal("the agent logged no retry")
	}
	const slack = 100 * time.Millisecond
	var desc []string
	for i, r := range retries {
		n, w, err := retryFields(r.text)
		if err != nil {
			t.Fatalf("%v: %s", err, r.text)
		}
		lo, hi := b.rangeOf(i + 1)
		if n != i+1 || w < lo || w > hi {
			t.Errorf("retry %d: attempt %d wait %v, want attempt %d in [%v, %v]", i+1, n, w, i+1, lo, hi)
		}
		end := up
		if i+1 < len(retries) {
			end = retries[i+1].logged
		}
		if took := end.Sub(r.logged); took < w-slack || (i+1 == len(retries) && took > w+time.Second) {
			t.Errorf("retry %d waited %v, logged wait %v", i+1, took.Round(time.Millisecond), w.Round(time.Millisecond))
		}
		desc = append(desc, fmt.Sprintf("%d: %v in [%v, %v]", n, w.Round(time.Millisecond), lo, hi))
	}
	t.Logf("agent retries (attempt: wait in range), back-off from %s: %s", b.source, strings.Join(desc, "; "))
	if _, last, _ := retryFields(retries[len(retries)-1].text); up.Sub(listening) > last+time.Second {
		t.Errorf("the agent came back %v after the broker, more than its last wait %v and a second", up.Sub(listening), last)
	}
}

var retryRE = regexp.MustCompile(`attempt=(\d+) wait=(\S+)`)

// retryFields reads attempt and wait from a retry line of the agent's
// log (log/slog's text format).
func retryFields(line string) (int, time.Duration, error) {
	m := retryRE.FindStringSubmatch(line)
	if m == nil {
		return 0, 0, fmt.Errorf("no attempt and wait")
	}
	n, _ := strconv.Atoi(m[1])
	w, err := time.ParseDuration(m[2])
	return n, w, err
}

func faultValue(i int) string { return strconv.Itoa(100000 + i) }

// addSubscriptions adds n disabled Subscriptions, in Adds of 50, and
// returns their instance paths.
func addSubscriptions(t *testing.T, c *controller.Controller, agentID string, n int) []string {
	t.Helper()
	var paths []string
	for len(paths) < n {
		var objs []*wire.Add_CreateObject
		for i := len(paths); i < min(n, len(paths)+50); i++ {
			objs = append(objs, &wire.Add_CreateObject{ObjPath: "Device.LocalAgent.Subscription.", ParamSettings: []*wire.Add_CreateParamSetting{
				{Param: "ID", Value: fmt.Sprintf("fault-%d", i), Required: true},
				{Param: "NotifType", Value: "ValueChange", Required: true},
				{Param: "ReferenceList", Value: "Device.LocalAgent.SoftwareVersion", Required: true}}})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err := c.Do(ctx, agentID, &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: objs}}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		res := r.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()
		if len(res) != len(objs) {
			t.Fatalf("add: %v", r)
		}
		for _, o := range res {
			p := o.GetOperStatus().GetOperSuccess().GetInstantiatedPath()
			if p == "" {
				t.Fatalf("add: %v", o)
			}
			paths = append(paths, p)
		}
	}
	return paths
}

// setNotifExpiration Sets path's NotifExpiration and reports whether the
// agent acknowledged it with a successful SetResp within faultWait.
func setNotifExpiration(c *controller.Controller, agentID, path, value string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), faultWait)
	defer cancel()
	r, err := c.Do(ctx, agentID, &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: path,
		ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "NotifExpiration", Value: value, Required: true}}}}}}})
	if err != nil {
		return false
	}
	res := r.GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()
	return len(res) == 1 && res[0].GetOperStatus().GetOperSuccess() != nil
}

// readNotifExpirations returns NotifExpiration of every Subscription by
// instance path.
func readNotifExpirations(t *testing.T, c *controller.Controller, agentID string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Do(ctx, agentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.Subscription.*.NotifExpiration"}}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, rp := range r.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		if rp.GetErrCode() != 0 {
			t.Fatalf("get: %v", rp)
		}
		for _, res := range rp.GetResolvedPathResults() {
			got[res.GetResolvedPath()] = res.GetResultParams()["NotifExpiration"]
		}
	}
	return got
}

// lineLog keeps the lines written to it, each with the time it arrived
// and the time it says it was logged, for reading a process's log
// (log/slog's text format) as it runs.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []logLine
}

type logLine struct {
	at     time.Time // when it arrived
	logged time.Time // its time= field, else at
	text   string
}

var timeRE = regexp.MustCompile(`^time=(\S+)`)

func (l *lineLog) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		ln := logLine{at: now, logged: now, text: string(l.partial[:i])}
		if m := timeRE.FindStringSubmatch(ln.text); m != nil {
			if t, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
				ln.logged = t
			}
		}
		l.lines = append(l.lines, ln)
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// since returns the lines holding msg="substr" that arrived at from or
// later.
func (l *lineLog) since(from time.Time, substr string) []logLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logLine
	for _, ln := range l.lines {
		if !ln.at.Before(from) && strings.Contains(ln.text, `msg="`+substr+`"`) {
			out = append(out, ln)
		}
	}
	return out
}

// wait returns the first line holding msg="substr" that arrived at from
// or later, waiting for it up to timeout.
func (l *lineLog) wait(t *testing.T, from time.Time, substr string, timeout time.Duration) logLine {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		if got := l.since(from, substr); len(got) > 0 {
			return got[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the agent's log within %v of %v", substr, timeout, from.Format("15:04:05.000"))
		}
	}
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, ln := range l.lines {
		fmt.Fprintf(&b, "%s %s\n", ln.at.Format("15:04:05.000"), ln.text)
	}
	return b.String()
}
