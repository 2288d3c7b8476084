package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/uspkit/uspkit/controller"
)

// Gap is the data of a "gap" event of the event stream: the events with
// Seq After+1 to Next-1 are no longer kept (the Controller keeps the
// newest max_events), so the reader cannot have them; Missed counts them,
// of every Agent. Kind is "gap" and Time when it was found, so that a
// reader showing events as they come can show it as one.
type Gap struct {
	Kind   string    `json:"kind"`
	Time   time.Time `json:"time"`
	After  uint64    `json:"after"`
	Next   uint64    `json:"next"`
	Missed uint64    `json:"missed"`
}

// eventStream is one reader of GET /api/v1/events/stream.
type eventStream struct {
	w     io.Writer
	c     *controller.Controller
	agent string
	// last is the highest Seq accounted for (sent, not the reader's
	// Agent, or reported in a gap), of every Agent.
	last uint64
}

// streamEvents sends events as they happen (text/event-stream), each with
// its Seq as id. A reader resuming after a Seq (the Last-Event-ID header
// a reconnecting EventSource sends, or ?after=) first gets the kept
// events after it. A reader that falls behind catches up from the kept
// events; those no longer kept are reported by a "gap" event (see Gap)
// rather than left out in silence, and a reader too slow to take a write
// within streamWriteTimeout is disconnected, to resume with its
// Last-Event-ID.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	after, resume := resumePoint(r)
	ch, lagged, stop := s.opt.Controller.SubscribeLag()
	defer stop()
	// A stream outlives the server's WriteTimeout; each write gets its own
	// deadline instead, so that a reader that stopped reading is dropped.
	rc := http.NewResponseController(w)
	extend := func() { _ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) }
	extend()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	es := &eventStream{w: w, c: s.opt.Controller, agent: r.URL.Query().Get("agent")}
	if resume {
		es.last = after
		es.catchUp()
	} else {
		_, _, es.last = s.opt.Controller.EventsAfter(es.agent, ^uint64(0))
	}
	fl.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keep.C:
			extend()
			io.WriteString(w, ": keep-alive\n\n")
		case <-lagged:
			extend()
			es.catchUp()
		case e := <-ch:
			extend()
			es.take(e)
		}
		fl.Flush()
	}
}

// resumePoint returns the Seq a reader resumes after: its Last-Event-ID
// header, else ?after=.
func resumePoint(r *http.Request) (uint64, bool) {
	for _, v := range []string{r.Header.Get("Last-Event-ID"), r.URL.Query().Get("after")} {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// take passes on an event from the subscription: an event already
// accounted for is dropped, the next one is sent, and one further on
// means events were missed or are still on their way: the reader catches
// up from those kept.
func (es *eventStream) take(e controller.Event) {
	switch {
	case e.Seq <= es.last:
	case e.Seq == es.last+1:
		es.last = e.Seq
		es.send(e)
	default:
		es.catchUp()
	}
}

// catchUp sends the kept events after es.last, after a gap event for
// those no longer kept. A resume point past the newest Seq (a Controller
// whose events were not kept across a restart) starts from now.
func (es *eventStream) catchUp() {
	events, oldest, newest := es.c.EventsAfter(es.agent, es.last)
	if es.last >= newest {
		es.last = newest
		return
	}
	next := oldest
	if next == 0 {
		next = newest + 1
	}
	if next > es.last+1 {
		g := Gap{Kind: "gap", Time: time.Now().UTC(), After: es.last, Next: next, Missed: next - 1 - es.last}
		b, _ := json.Marshal(g)
		fmt.Fprintf(es.w, "id: %d\nevent: gap\ndata: %s\n\n", next-1, b)
	}
	for _, e := range events {
		es.send(e)
	}
	es.last = newest
}

// send writes one event, with its Seq as id.
func (es *eventStream) send(e controller.Event) {
	if es.agent != "" && e.Agent != es.agent {
		return
	}
	b, _ := json.Marshal(e)
	fmt.Fprintf(es.w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Kind, b)
}
