//go:build !usp_device

package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/uspkit/uspkit/controller/api"
	"github.com/uspkit/uspkit/mtp"
)

// followIdle is how long `usp events --follow` waits for a line of the
// stream (the API sends a keep-alive every 15 s) before it takes the
// connection for dead and reconnects.
const followIdle = 45 * time.Second

// followRetry is the back-off between reconnections of the event stream.
func followRetry() *mtp.Retry {
	return &mtp.Retry{MinWait: 250 * time.Millisecond, Multiplier: 2000, MaxWait: 10 * time.Second}
}

// errStreamFatal is what reconnecting would not mend: the API refused the
// credentials, or the URL is not one.
var errStreamFatal = errors.New("events")

// errStreamIdle ends a connection that stayed silent past followIdle.
var errStreamIdle = fmt.Errorf("no data for %v", followIdle)

// followEvents prints the API's event stream until ctx ends. When the
// connection ends (the Controller restarts, the network fails) it
// reconnects with back-off (at the address in the data directory's
// api.url when the server was found there) and resumes after the last
// event it printed
// (Last-Event-ID), so that none is printed twice or left out; the ids the
// Controller no longer keeps come as a gap event, printed as one line (as
// an object with --json). It returns an error only when the API refuses
// the credentials; ctx ending is a normal stop.
func (c *apiClient) followEvents(ctx context.Context, e *env, print func([]byte)) error {
	retry := followRetry()
	last := ""
	for {
		got, err := c.streamEvents(ctx, e, &last, print)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errStreamFatal) {
			return err
		}
		if got {
			retry.Reset()
		}
		wait := retry.Next()
		if err == nil {
			err = errors.New("stream ended")
		}
		fmt.Fprintf(e.stderr, "events: %v; reconnecting in %v\n", err, wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// streamEvents reads the event stream once, resuming after *last when
// set, and keeps *last at the id of the last event printed. got reports
// whether the API answered with the stream.
func (c *apiClient) streamEvents(ctx context.Context, e *env, last *string, print func([]byte)) (got bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if c.serverFile != "" { // a restarted Controller may listen elsewhere
		if b, err := os.ReadFile(c.serverFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			c.server = string(bytes.TrimSpace(b))
		}
	}
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(c.server, "/")+"/api/v1/events/stream", nil)
	if err != nil {
		return false, fmt.Errorf("%w: %w", errStreamFatal, err) // a bad --server does not get better
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	if *last != "" {
		req.Header.Set("Last-Event-ID", *last)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		return false, fmt.Errorf("%w: not authorized (HTTP %d)", errStreamFatal, resp.StatusCode)
	default:
		return false, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	// A connection that stays silent past followIdle is dead.
	idle := time.AfterFunc(followIdle, func() { cancel(errStreamIdle) })
	defer idle.Stop()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var id, kind string
	var data []string
	for sc.Scan() {
		idle.Reset(followIdle)
		line := sc.Text()
		if line == "" { // the end of an event
			if len(data) > 0 {
				c.printStreamEvent(e, kind, []byte(strings.Join(data, "\n")), print)
			}
			if id != "" {
				*last = id
			}
			id, kind, data = "", "", nil
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id = value
		case "event":
			kind = value
		case "data":
			data = append(data, value)
		}
	}
	if errors.Is(context.Cause(ctx), errStreamIdle) {
		return true, errStreamIdle
	}
	return true, sc.Err()
}

// printStreamEvent prints one event of the stream: a gap as a line of
// its own (its object with --json), others with print.
func (c *apiClient) printStreamEvent(e *env, kind string, data []byte, print func([]byte)) {
	if kind != "gap" {
		print(data)
		return
	}
	if c.json {
		fmt.Fprintf(e.stdout, "%s\n", data)
		return
	}
	var g api.Gap
	if json.Unmarshal(data, &g) != nil {
		fmt.Fprintf(e.stdout, "gap %s\n", data)
		return
	}
	fmt.Fprintf(e.stdout, "%d %s - gap events %d to %d are no longer kept (%d missed)\n",
		g.Next-1, g.Time.Format(time.RFC3339), g.After+1, g.Next-1, g.Missed)
}
