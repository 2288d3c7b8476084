package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/api"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// streamRig is a Controller keeping maxEvents events behind the API, and
// a function making it record n "notify" events of about 4 KiB each, as
// if the Agent at the other end of its pipe sent n ValueChange Notifies.
func streamRig(t *testing.T, maxEvents int) (*httptest.Server, *controller.Controller, func(n int)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ctrlEnd, agentEnd := mtptest.NewPipe(ctrlID, agentID, nil)
	c, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, MTPs: []controller.MTP{{Protocol: "UDS", Transport: ctrlEnd}},
		RequestTimeout: 100 * time.Millisecond, Admission: controller.AdmitAll, MaxEvents: maxEvents})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { c.Run(ctx); done <- struct{}{} }()
	go func() {
		agentEnd.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {}))
		done <- struct{}{}
	}()
	srv := httptest.NewServer(api.New(api.Options{Controller: c, Tokens: api.NewTokens(map[string]api.Role{viewer: api.Viewer})}))
	t.Cleanup(func() { srv.Close(); cancel(); <-done; <-done })
	rec, _ := record.NewWebSocketConnect(ctrlID, agentID).MarshalBinary()
	agentEnd.Send(ctx, ctrlID, rec)
	value := strings.Repeat("x", 4096)
	sent := 0
	notify := func(n int) {
		t.Helper()
		_, _, start := c.EventsAfter("", ^uint64(0))
		for range n {
			sent++
			m := &wire.Msg{Header: &wire.Header{MsgId: fmt.Sprint("n", sent), MsgType: wire.Header_NOTIFY},
				Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{ReqType: &wire.Request_Notify{Notify: &wire.Notify{
					SubscriptionId: "s", Notification: &wire.Notify_ValueChange_{ValueChange: &wire.Notify_ValueChange{ParamPath: "Device.X", ParamValue: value}}}}}}}}
			payload, _ := proto.Marshal(m)
			b, _ := record.NewNoSession(ctrlID, agentID, payload).MarshalBinary()
			for try := 0; ; try++ { // the pipe holds a few Records: wait for room
				err := agentEnd.Send(ctx, ctrlID, b)
				if err == nil {
					break
				}
				if try == 10000 {
					t.Fatal(err)
				}
				time.Sleep(time.Millisecond)
			}
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, _, seq := c.EventsAfter("", ^uint64(0)); seq >= start+uint64(n) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d notifies did not all become events", n)
			}
		}
	}
	return srv, c, notify
}

// sse is one event read from a stream.
type sse struct {
	id         uint64
	kind, data string
}

// openStream starts GET /api/v1/events/stream with the given extra
// header (name: value) and returns its reader.
func openStream(t *testing.T, srv *httptest.Server, query, header string) *bufio.Reader {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/events/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+viewer)
	if k, v, ok := strings.Cut(header, ": "); ok {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	// A small buffer, so that the reader reads slowly from the socket.
	return bufio.NewReaderSize(resp.Body, 512)
}

// readEvents reads events until one has id at least upTo; comments
// (keep-alives) are skipped; pause is spent before each event.
func readEvents(t *testing.T, r *bufio.Reader, upTo uint64, pause time.Duration) []sse {
	t.Helper()
	var out []sse
	var cur sse
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if cur.kind == "" {
				continue
			}
			out = append(out, cur)
			if cur.id >= upTo {
				return out
			}
			cur = sse{}
			time.Sleep(pause)
		case strings.HasPrefix(line, "id: "):
			cur.id, _ = strconv.ParseUint(line[4:], 10, 64)
		case strings.HasPrefix(line, "event: "):
			cur.kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	t.Fatalf("no event %d within a minute (%d read)", upTo, len(out))
	return nil
}

// contiguous checks that events carry ids from first on, one by one.
func contiguous(t *testing.T, evs []sse, first uint64) {
	t.Helper()
	for i, e := range evs {
		if e.id != first+uint64(i) {
			t.Fatalf("event %d has id %d (%s), want %d", i, e.id, e.kind, first+uint64(i))
		}
	}
}

// TestStreamSlowReader: a reader that stops reading while 2,000 events
// of 4 KiB happen (far more than the socket buffers and the subscription
// hold), then reads slowly, misses none: every event comes, in order,
// each with its Seq as id.
func TestStreamSlowReader(t *testing.T) {
	srv, c, notify := streamRig(t, 10000)
	notify(1)
	r := openStream(t, srv, "", "")
	_, _, start := c.EventsAfter("", ^uint64(0))
	notify(2000)
	time.Sleep(500 * time.Millisecond)
	evs := readEvents(t, r, start+2000, 0)
	contiguous(t, evs, start+1)
	for _, e := range evs {
		if e.kind != "notify" {
			t.Fatalf("event %d is %q", e.id, e.kind)
		}
	}
}

// TestStreamGap: when a slow reader falls behind further than the events
// kept (max_events 100), it gets a "gap" event saying which ids it cannot
// have, then the kept events, in order.
func TestStreamGap(t *testing.T) {
	srv, c, notify := streamRig(t, 100)
	r := openStream(t, srv, "", "")
	_, _, start := c.EventsAfter("", ^uint64(0))
	notify(2000)
	end := start + 2000
	evs := readEvents(t, r, end, time.Millisecond)
	gaps := 0
	want := start + 1
	for _, e := range evs {
		if e.kind == "gap" {
			var g api.Gap
			if err := json.Unmarshal([]byte(e.data), &g); err != nil {
				t.Fatal(err)
			}
			if g.After != want-1 || g.Next <= want || g.Missed != g.Next-1-g.After || e.id != g.Next-1 {
				t.Fatalf("gap %+v (id %d) after id %d", g, e.id, want-1)
			}
			gaps++
			want = g.Next
			continue
		}
		if e.id != want {
			t.Fatalf("event id %d, want %d", e.id, want)
		}
		want++
	}
	if gaps == 0 {
		t.Error("no gap event though most events were no longer kept")
	}
}

// TestStreamLastEventID: a reader reconnecting with Last-Event-ID (as an
// EventSource does) gets the kept events after it, then live ones; one
// whose Last-Event-ID is older than the events kept gets a gap first.
func TestStreamLastEventID(t *testing.T) {
	srv, c, notify := streamRig(t, 50)
	notify(60)
	_, _, newest := c.EventsAfter("", 0)
	r := openStream(t, srv, "", fmt.Sprintf("Last-Event-ID: %d", newest-10))
	notify(5)
	evs := readEvents(t, r, newest+5, 0)
	contiguous(t, evs, newest-9)

	_, oldest, _ := c.EventsAfter("", 0)
	r = openStream(t, srv, "?after=1", fmt.Sprintf("Last-Event-ID: %d", oldest-5)) // the header wins
	evs = readEvents(t, r, oldest, 0)
	var g api.Gap
	if len(evs) != 2 || evs[0].kind != "gap" || json.Unmarshal([]byte(evs[0].data), &g) != nil || g.After != oldest-5 || g.Next != oldest || evs[1].id != oldest {
		t.Fatalf("resuming before the oldest kept event: %+v", evs)
	}
}
