package controller

import (
	"container/list"
	"encoding/json"
	"sync"
	"time"

	"github.com/uspkit/uspkit/record"
)

// Bounds of the exchange log (Controller.Exchange): the Records kept per
// Agent, the bytes kept per Agent, the Agents whose Records are kept (the
// least recently active is forgotten first) and the largest Record kept
// whole; a larger one is kept as its size only.
const (
	ExchangeRecords   = 50
	exchangeBytes     = 256 << 10
	exchangeAgents    = 256
	exchangeMaxRecord = 64 << 10
)

// Exchanged is one Record the Controller sent to or received from an
// Agent, for troubleshooting.
type Exchanged struct {
	Time time.Time `json:"time"`
	// Direction is "sent" or "received".
	Direction string `json:"direction"`
	// MTP names the transport the Record went over, when known.
	MTP string `json:"mtp,omitempty"`
	// Size is the Record's size in bytes.
	Size int `json:"size"`
	// Record is the Record in protobuf JSON with its plaintext Msg
	// decoded inline (record.Record.MarshalJSON); absent when the Record
	// was over the size kept or could not be rendered (Error says why).
	Record json.RawMessage `json:"record,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// exchanges keeps the last Records exchanged with each Agent. Its zero
// value is ready to use; it has a lock of its own so that the send and
// receive paths do not wait on the Controller's. The Agents' rings are in
// least-recently-used order, so that making room for a new Agent costs
// the same with many Agents as with few.
type exchanges struct {
	mu     sync.Mutex
	agents map[string]*list.Element // of *exchangeRing
	lru    list.List                // front: most recently active
}

// exchangeRing is one Agent's Records: a circular buffer, oldest at start.
type exchangeRing struct {
	agent   string
	entries []exchangeEntry
	start   int
	n       int
	bytes   int
}

type exchangeEntry struct {
	at        time.Time
	direction string
	mtp       string
	size      int
	raw       []byte // the encoded Record; nil when over exchangeMaxRecord
}

// add keeps a copy of the encoded Record b.
func (x *exchanges) add(agent, direction, mtpName string, b []byte, now time.Time) {
	e := exchangeEntry{at: now, direction: direction, mtp: mtpName, size: len(b)}
	if len(b) <= exchangeMaxRecord {
		// An MTP may reuse its read buffer: copy.
		e.raw = append([]byte(nil), b...)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.agents == nil {
		x.agents = map[string]*list.Element{}
	}
	var r *exchangeRing
	if el := x.agents[agent]; el != nil {
		x.lru.MoveToFront(el)
		r = el.Value.(*exchangeRing)
	} else {
		if x.lru.Len() >= exchangeAgents {
			// Forget the least recently active Agent; reuse its buffer.
			old := x.lru.Back()
			r = old.Value.(*exchangeRing)
			delete(x.agents, r.agent)
			x.lru.Remove(old)
			clear(r.entries)
			*r = exchangeRing{entries: r.entries}
		} else {
			r = &exchangeRing{}
		}
		r.agent = agent
		x.agents[agent] = x.lru.PushFront(r)
	}
	r.push(e)
}

// push appends e, dropping the oldest entries over the bounds.
func (r *exchangeRing) push(e exchangeEntry) {
	for r.n > 0 && (r.n == ExchangeRecords || r.bytes+len(e.raw) > exchangeBytes) {
		r.bytes -= len(r.entries[r.start].raw)
		r.entries[r.start] = exchangeEntry{}
		r.start = (r.start + 1) % len(r.entries)
		r.n--
	}
	if r.n == len(r.entries) { // grow (up to ExchangeRecords), oldest first
		grown := make([]exchangeEntry, min(max(2*len(r.entries), 8), ExchangeRecords))
		for i := range r.n {
			grown[i] = r.entries[(r.start+i)%len(r.entries)]
		}
		r.entries, r.start = grown, 0
	}
	r.entries[(r.start+r.n)%len(r.entries)] = e
	r.n++
	r.bytes += len(e.raw)
}

// forget drops an Agent's Records.
func (x *exchanges) forget(agent string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if el := x.agents[agent]; el != nil {
		x.lru.Remove(el)
		delete(x.agents, agent)
	}
}

// list returns up to n of an Agent's Records, newest first.
func (x *exchanges) list(agent string, n int) []exchangeEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	el := x.agents[agent]
	if el == nil {
		return nil
	}
	r := el.Value.(*exchangeRing)
	out := make([]exchangeEntry, 0, min(n, r.n))
	for i := r.n - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, r.entries[(r.start+i)%len(r.entries)])
	}
	return out
}

// Exchange returns up to n (at most ExchangeRecords; n <= 0 means all
// kept) of the last Records the Controller sent to and received from an
// Agent, newest first, each decoded as JSON. It is for troubleshooting:
// the Records are kept in memory only, for the ExchangeRecords most recent
// of each of the most recently active Agents.
func (c *Controller) Exchange(agent string, n int) []Exchanged {
	if n <= 0 || n > ExchangeRecords {
		n = ExchangeRecords
	}
	entries := c.xchg.list(agent, n)
	out := make([]Exchanged, 0, len(entries))
	for _, e := range entries {
		x := Exchanged{Time: e.at, Direction: e.direction, MTP: e.mtp, Size: e.size}
		if e.raw == nil {
			x.Error = "record over the size kept"
		} else {
			var rec record.Record
			err := record.Decode(e.raw, &rec, nil)
			if err == nil {
				x.Record, err = rec.MarshalJSON()
			}
			if err != nil {
				x.Record, x.Error = nil, err.Error()
			}
		}
		out = append(out, x)
	}
	return out
}
