package ipdiag

import (
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// countConn counts the bytes a TCP connection carries, HTTP headers
// included, and keeps a timeline of the test direction's count (received
// for a download, sent for an upload) to tell the bytes of the period of
// full loading.
type countConn struct {
	net.Conn
	x    *xfer
	down bool
	now  func() time.Time
}

func (c *countConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		total := c.x.rx.Add(uint64(n))
		if c.down {
			c.x.sample(c.now(), total)
		}
	}
	return n, err
}

// Write counts before it writes: the peer may answer (and the test end)
// before a Write that completed returns.
func (c *countConn) Write(b []byte) (int, error) {
	total := c.x.tx.Add(uint64(len(b)))
	if !c.down {
		c.x.sample(c.now(), total)
	}
	n, err := c.Conn.Write(b)
	if n < len(b) {
		c.x.tx.Add(^uint64(len(b) - n - 1)) // take back what was not written
	}
	return n, err
}

// sampleEvery is the resolution of a connection's byte timeline: a test
// of 10 minutes keeps at most 60,000 samples.
const sampleEvery = 10 * time.Millisecond

type sample struct {
	t time.Time
	n uint64
}

// sample notes that count bytes had gone by at t.
func (x *xfer) sample(t time.Time, count uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if n := len(x.samples); n > 0 && t.Sub(x.samples[n-1].t) < sampleEvery {
		x.samples[n-1].n = count
		return
	}
	x.samples = append(x.samples, sample{t, count})
}

// between returns the bytes of the test direction that went by from a
// to b.
func (x *xfer) between(a, b time.Time) uint64 {
	if !b.After(a) {
		return 0
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	at := func(t time.Time) uint64 {
		var n uint64
		for _, s := range x.samples {
			if s.t.After(t) {
				break
			}
			n = s.n
		}
		return n
	}
	return at(b) - at(a)
}

// ifCounters are an interface's byte counters (what Stats.BytesReceived
// and Stats.BytesSent show) at one moment.
type ifCounters struct {
	ok     bool
	rx, tx uint64
}

// sysNet is where the host's interface statistics are read.
const sysNet = "/sys/class/net/"

func readCounters(ifname string) ifCounters {
	if ifname == "" || strings.ContainsAny(ifname, "/") || ifname == "." || ifname == ".." {
		return ifCounters{}
	}
	read := func(name string) (uint64, bool) {
		b, err := os.ReadFile(sysNet + ifname + "/statistics/" + name)
		if err != nil {
			return 0, false
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return n, err == nil
	}
	rx, ok1 := read("rx_bytes")
	tx, ok2 := read("tx_bytes")
	return ifCounters{ok: ok1 && ok2, rx: rx, tx: tx}
}

// delta is what the counters moved from a to b: zeros when either was not
// read (TR-181: without an Interface the IP-layer totals cannot be
// determined and SHOULD be 0).
func delta(a, b ifCounters) (rx, tx uint64) {
	if !a.ok || !b.ok || b.rx < a.rx || b.tx < a.tx {
		return 0, 0
	}
	return b.rx - a.rx, b.tx - a.tx
}
