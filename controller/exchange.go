package controller

import (
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
// receive paths do not wait on the Controller's.
type exchanges struct {
	mu     sync.Mutex
	agents map[string]*exchangeRing
}

// exchangeRing is one Agent's Records, oldest first.
type exchangeRing struct {
	entries []exchangeEntry
	bytes   int
	last    time.Time
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
		x.agents = map[string]*exchangeRing{}
	}
	r := x.agents[agent]
	if r == nil {
		if len(x.agents) >= exchangeAgents {
			x.evictLocked()
		}
		r = &exchangeRing{}
		x.agents[agent] = r
	}
	r.last = now
	r.entries = append(r.entries, e)
	r.bytes += len(e.raw)
	for len(r.entries) > ExchangeRecords || (r.bytes > exchangeBytes && len(r.entries) > 1) {
		r.bytes -= len(r.entries[0].raw)
		r.entries[0] = exchangeEntry{}
		r.entries = r.entries[1:]
	}
}

// evictLocked forgets the Agent least recently active.
func (x *exchanges) evictLocked() {
	var oldest string
	var at time.Time
	for id, r := range x.agents {
		if oldest == "" || r.last.Before(at) {
			oldest, at = id, r.last
		}
	}
	delete(x.agents, oldest)
}

// forget drops an Agent's Records.
func (x *exchanges) forget(agent string) {
	x.mu.Lock()
	delete(x.agents, agent)
	x.mu.Unlock()
}

// list returns up to n of an Agent's Records, newest first.
func (x *exchanges) list(agent string, n int) []exchangeEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	r := x.agents[agent]
	if r == nil {
		return nil
	}
	out := make([]exchangeEntry, 0, min(n, len(r.entries)))
	for i := len(r.entries) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, r.entries[i])
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
