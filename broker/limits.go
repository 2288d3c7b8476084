package broker

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// loginThrottle is a token bucket of failed logins per source address
// (IPv4 address, IPv6 /64): each failure takes a token, tokens come back
// at a steady rate, and an address with none left is blocked: its new
// connections are closed at accept, before any TLS or MQTT work. Safe for
// concurrent use.
type loginThrottle struct {
	burst float64       // tokens of a full bucket
	every time.Duration // one token comes back per every

	mu sync.Mutex
	m  map[netip.Prefix]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// maxThrottled bounds the addresses the throttle remembers; beyond it,
// full buckets are forgotten first, and a new address is not tracked
// while every remembered one is still short of tokens.
const maxThrottled = 1 << 16

func newLoginThrottle(burst int, window time.Duration) *loginThrottle {
	return &loginThrottle{burst: float64(burst), every: window / time.Duration(burst), m: map[netip.Prefix]*bucket{}}
}

// sourceKey is the throttled unit for a remote address: the IPv4
// address, or the /64 of an IPv6 address. ok is false for addresses that
// are not IP (a Unix socket, say).
func sourceKey(remote string) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Prefix{}, false
	}
	a := ap.Addr().Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}

// refill brings b up to date; mu must be held.
func (t *loginThrottle) refill(b *bucket, now time.Time) {
	b.tokens = min(t.burst, b.tokens+float64(now.Sub(b.at))/float64(t.every))
	b.at = now
}

// blocked reports whether remote has no failed logins left.
func (t *loginThrottle) blocked(remote string, now time.Time) bool {
	k, ok := sourceKey(remote)
	if !ok {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.m[k]
	if !ok {
		return false
	}
	t.refill(b, now)
	return b.tokens < 1
}

// fail takes a token from remote's bucket.
func (t *loginThrottle) fail(remote string, now time.Time) {
	k, ok := sourceKey(remote)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.m[k]
	if !ok {
		if len(t.m) >= maxThrottled && !t.pruneLocked(now) {
			return
		}
		b = &bucket{tokens: t.burst, at: now}
		t.m[k] = b
	}
	t.refill(b, now)
	b.tokens = max(0, b.tokens-1)
}

// pruneLocked forgets the addresses whose bucket is full again; false if
// none was.
func (t *loginThrottle) pruneLocked(now time.Time) bool {
	n := len(t.m)
	for k, b := range t.m {
		if t.refill(b, now); b.tokens >= t.burst {
			delete(t.m, k)
		}
	}
	return len(t.m) < n
}

// logSummary rate-limits a kind of log line: the first event of each
// interval is logged in full, the others only counted; a summary line
// per interval then gives the count. Safe for concurrent use.
type logSummary struct {
	log   *slog.Logger
	msg   string // of the summary line
	level slog.Level

	mu      sync.Mutex
	logged  bool  // one event logged in full this interval
	dropped int64 // events not logged this interval
	sources map[string]struct{}
}

// maxSummarySources bounds the distinct sources one summary counts.
const maxSummarySources = 1 << 12

func newLogSummary(log *slog.Logger, level slog.Level, msg string) *logSummary {
	return &logSummary{log: log, msg: msg, level: level, sources: map[string]struct{}{}}
}

// event reports whether the caller should log this event in full; else
// it is counted for the summary.
func (s *logSummary) event(source string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.logged {
		s.logged = true
		return true
	}
	s.dropped++
	if len(s.sources) < maxSummarySources {
		s.sources[source] = struct{}{}
	}
	return false
}

// flush writes the summary of the interval just ended, if any event was
// left out, and starts a new one.
func (s *logSummary) flush(interval time.Duration) {
	s.mu.Lock()
	n, srcs := s.dropped, len(s.sources)
	s.logged, s.dropped = false, 0
	if srcs > 0 {
		s.sources = map[string]struct{}{}
	}
	s.mu.Unlock()
	if n > 0 {
		s.log.Log(context.Background(), s.level, s.msg, "suppressed", n, "sources", srcs, "interval", interval)
	}
}

// summaries are the Broker's rate-limited log lines.
type summaries struct {
	refused   *logSummary // failed logins
	throttled *logSummary // connections closed at accept
	denied    *logSummary // ACL and reply-to denials
	limited   *logSummary // retained and queue limits
}

func newSummaries(log *slog.Logger) *summaries {
	return &summaries{
		refused:   newLogSummary(log, slog.LevelWarn, "connects refused (summary)"),
		throttled: newLogSummary(log, slog.LevelWarn, "connections from throttled addresses closed (summary)"),
		denied:    newLogSummary(log, slog.LevelWarn, "ACL denials (summary)"),
		limited:   newLogSummary(log, slog.LevelWarn, "broker limits applied (summary)"),
	}
}

func (s *summaries) flush(interval time.Duration) {
	for _, l := range []*logSummary{s.refused, s.throttled, s.denied, s.limited} {
		l.flush(interval)
	}
}

// summarize flushes the log summaries every LogInterval until the
// Broker closes.
func (b *Broker) summarize() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.LogInterval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			b.sum.flush(b.cfg.LogInterval)
			return
		case <-t.C:
			b.sum.flush(b.cfg.LogInterval)
		}
	}
}

// throttled reports whether a new connection from remote must be closed
// at once, because its address used up its failed logins.
func (b *Broker) throttled(remote net.Addr) bool {
	if b.throttle == nil || remote == nil {
		return false
	}
	r := remote.String()
	if !b.throttle.blocked(r, time.Now()) {
		return false
	}
	atomic.AddInt64(&b.stats.throttled, 1)
	if b.sum.throttled.event(r) {
		b.log.Warn("connection closed: too many failed logins from this address", "remote", r)
	}
	return true
}

// loginFailed counts a refused CONNECT against its source address and
// logs it, rate-limited.
func (b *Broker) loginFailed(log *slog.Logger, remote string, err error) {
	b.authFailed(log, remote, "connect refused", err)
}

// authFailed counts a failed authentication (a refused CONNECT, a failed
// TLS handshake) against its source address and logs it as msg,
// rate-limited.
func (b *Broker) authFailed(log *slog.Logger, remote, msg string, err error) {
	atomic.AddInt64(&b.stats.refused, 1)
	if b.throttle != nil {
		b.throttle.fail(remote, time.Now())
	}
	if b.sum.refused.event(remote) {
		log.Warn(msg, "reason", err)
	}
}

// retainAllowed decides whether a retained PUBLISH may be stored. Under
// USPPolicy no USP topic keeps retained messages: a USP Record is for
// the endpoint it is addressed to now, and a stored one would reach every
// later subscriber. Other topics keep at most MaxRetained messages and
// MaxRetainedBytes of payload; a PUBLISH beyond them is delivered but
// not stored. An empty payload (which deletes) is always allowed.
func (b *Broker) retainAllowed(pk *packets.Packet) (bool, string) {
	if len(pk.Payload) == 0 {
		return true, ""
	}
	if b.cfg.USPPolicy && (topicMatch(b.cfg.agentPrefix, pk.TopicName) || topicMatch(b.cfg.controllerPrefix, pk.TopicName)) {
		return false, "USP topics keep no retained messages"
	}
	n, size := 0, int64(len(pk.Payload))
	for t, p := range b.srv.Topics.Retained.GetAll() {
		if t == pk.TopicName || strings.HasPrefix(t, "$") { // replaced, or the broker's own $SYS
			continue
		}
		n++
		size += int64(len(p.Payload))
	}
	switch {
	case n+1 > b.cfg.MaxRetained:
		return false, "MaxRetained reached"
	case size > b.cfg.MaxRetainedBytes:
		return false, "MaxRetainedBytes reached"
	}
	return true, ""
}

// trimQueue keeps the QoS 1 and 2 messages waiting for one client (sent
// but not acknowledged, or held while it is offline) within
// SessionQueueBytes, dropping the oldest. SessionQueue, the count limit,
// is mochi's own (Capabilities.MaximumInflight).
func (b *Broker) trimQueue(cl *mqtt.Client) {
	all := cl.State.Inflight.GetAll(false)
	var size int64
	for _, p := range all {
		if p.FixedHeader.Type == packets.Publish {
			size += int64(len(p.Payload) + len(p.TopicName))
		}
	}
	dropped := 0
	for _, p := range all { // oldest first
		if size <= b.cfg.SessionQueueBytes {
			break
		}
		if p.FixedHeader.Type != packets.Publish {
			continue
		}
		if cl.State.Inflight.Delete(p.PacketID) {
			cl.State.Inflight.IncreaseSendQuota()
			atomic.AddInt64(&b.srv.Info.Inflight, -1)
			size -= int64(len(p.Payload) + len(p.TopicName))
			dropped++
		}
	}
	if dropped > 0 {
		atomic.AddInt64(&b.stats.queueDropped, int64(dropped))
		if b.sum.limited.event(cl.ID) {
			b.log.Warn("session queue over SessionQueueBytes: oldest messages dropped", "client", cl.ID,
				"dropped", dropped, "limit", b.cfg.SessionQueueBytes)
		}
	}
}

// stats count what the limits did.
type stats struct {
	refused, throttled, denied, retainDropped, queueDropped, slow int64
}

// Stats are counters of what the Broker's limits did since it started.
type Stats struct {
	LoginsRefused  int64 // CONNECTs refused by authentication, and failed TLS handshakes
	Throttled      int64 // connections closed at accept for failed logins
	Denied         int64 // SUBSCRIBEs and PUBLISHes refused by the ACL
	RetainDropped  int64 // retained PUBLISHes delivered but not stored
	QueueDropped   int64 // queued messages dropped over SessionQueueBytes
	RetainedStored int64 // retained messages stored now
	SlowConsumers  int64 // clients disconnected after WriteTimeout
}

// Stats reports what the Broker's limits did.
func (b *Broker) Stats() Stats {
	return Stats{
		LoginsRefused:  atomic.LoadInt64(&b.stats.refused),
		Throttled:      atomic.LoadInt64(&b.stats.throttled),
		Denied:         atomic.LoadInt64(&b.stats.denied),
		RetainDropped:  atomic.LoadInt64(&b.stats.retainDropped),
		QueueDropped:   atomic.LoadInt64(&b.stats.queueDropped),
		RetainedStored: int64(b.retainedCount()),
		SlowConsumers:  atomic.LoadInt64(&b.stats.slow),
	}
}

// retainedCount is the number of retained messages clients stored (not
// counting the broker's $SYS topics).
func (b *Broker) retainedCount() int {
	n := 0
	for t := range b.srv.Topics.Retained.GetAll() {
		if !strings.HasPrefix(t, "$") {
			n++
		}
	}
	return n
}
