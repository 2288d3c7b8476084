package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// stompServer is the runner's own STOMP 1.2 server for the cases of
// section 6: the Agent connects to it as to a broker, and the runner sees
// every frame and heart-beat and shapes the CONNECTED frame
// (subscribe-dest, heart-beat) or refuses connections. It is also the
// runner's transport to the Agent: Send delivers a MESSAGE to the
// connections subscribed to a destination, and Serve hands over the
// Records the Agent SENDs.
type stompServer struct {
	ln  net.Listener
	log *slog.Logger
	// replyDest is the reply-to-dest of the runner's MESSAGEs.
	replyDest string

	mu      sync.Mutex
	shape   stompShape
	conns   map[int]*stompConn
	nconn   int
	accepts []time.Time
	// handshakes are the TLS versions of the completed handshakes.
	handshakes []uint16
	events     []stompEvent
	changed    chan struct{} // closed and replaced at each event
	h          mtp.Handler
	served     chan struct{} // closed when Serve has set h
	closed     bool
	done       chan struct{}
	wg         sync.WaitGroup
}

// stompShape is how the server answers.
type stompShape struct {
	// subscribeDest, if set, is the subscribe-dest header of CONNECTED.
	subscribeDest string
	// heartBeat is the CONNECTED heart-beat header "sx,sy"; "" is "0,0".
	heartBeat string
	// down closes every new TCP connection at once.
	down bool
}

// stompFrame is one STOMP frame.
type stompFrame struct {
	cmd     string
	headers [][2]string
	body    []byte
}

// get returns the first value of a header.
func (f *stompFrame) get(key string) (string, bool) {
	for _, h := range f.headers {
		if h[0] == key {
			return h[1], true
		}
	}
	return "", false
}

// stompEvent is one frame, or heart-beat, the server read or wrote.
type stompEvent struct {
	at   time.Time
	conn int
	in   bool
	f    *stompFrame // nil for a heart-beat
}

type stompConn struct {
	id   int
	nc   net.Conn
	wmu  sync.Mutex
	subs map[string]string // subscription id → destination
	seq  int
	stop chan struct{} // ends the heart-beat sender
}

// stompMaxFrame bounds a frame's header block and body.
const stompMaxFrame = 8 << 20

// listenSTOMP starts a server on addr, with TLS when tc is not nil.
func listenSTOMP(ctx context.Context, addr string, tc *tls.Config, replyDest string, log *slog.Logger) (*stompServer, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("conformance: stomp server: %w", err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &stompServer{ln: ln, log: log, replyDest: replyDest, conns: map[int]*stompConn{}, changed: make(chan struct{}), done: make(chan struct{}), served: make(chan struct{})}
	s.wg.Go(s.accept)
	return s, nil
}

// Addr is where the server listens.
func (s *stompServer) Addr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

func (s *stompServer) setShape(f func(*stompShape)) {
	s.mu.Lock()
	f(&s.shape)
	s.mu.Unlock()
}

func (s *stompServer) accept() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.accepts = append(s.accepts, time.Now())
		s.signalLocked()
		if s.closed || s.shape.down {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.nconn++
		c := &stompConn{id: s.nconn, nc: nc, subs: map[string]string{}, stop: make(chan struct{})}
		s.conns[c.id] = c
		s.mu.Unlock()
		s.wg.Go(func() { s.serveConn(c) })
	}
}

func (s *stompServer) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *stompServer) record(c *stompConn, in bool, f *stompFrame) {
	s.mu.Lock()
	s.events = append(s.events, stompEvent{at: time.Now(), conn: c.id, in: in, f: f})
	s.signalLocked()
	s.mu.Unlock()
}

func (s *stompServer) write(c *stompConn, f *stompFrame) error {
	b := appendStompFrame(nil, f)
	c.wmu.Lock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(b)
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	s.record(c, false, f)
	return nil
}

// appendStompFrame encodes f: header values escaped (but in CONNECTED),
// content-length given by the caller.
func appendStompFrame(dst []byte, f *stompFrame) []byte {
	dst = append(dst, f.cmd...)
	dst = append(dst, '\n')
	esc := f.cmd != "CONNECTED" && f.cmd != "CONNECT"
	for _, h := range f.headers {
		if esc {
			dst = append(dst, stompEscape(h[0])...)
			dst = append(dst, ':')
			dst = append(dst, stompEscape(h[1])...)
		} else {
			dst = append(dst, h[0]...)
			dst = append(dst, ':')
			dst = append(dst, h[1]...)
		}
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	dst = append(dst, f.body...)
	return append(dst, 0)
}

var stompEscaper = strings.NewReplacer(`\`, `\\`, "\r", `\r`, "\n", `\n`, ":", `\c`)

func stompEscape(s string) string { return stompEscaper.Replace(s) }

// stompUnescape undoes the STOMP 1.2 header escapes; an undefined escape
// is an error.
func stompUnescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			return "", errors.New("stomp: header ends in a backslash")
		}
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		case 'c':
			b.WriteByte(':')
		default:
			return "", fmt.Errorf("stomp: undefined escape \\%c", s[i])
		}
	}
	return b.String(), nil
}

// readStompFrame reads one frame, or one heart-beat (an EOL between
// frames: f is nil). Header blocks and bodies are bounded by max; bad
// input is an error, never a panic.
func readStompFrame(r *bufio.Reader, max int) (*stompFrame, error) {
	line, err := readStompLine(r, max)
	if err != nil {
		return nil, err
	}
	if line == "" {
		return nil, nil // heart-beat
	}
	f := &stompFrame{cmd: line}
	esc := f.cmd != "CONNECT" && f.cmd != "CONNECTED"
	size := len(line)
	for {
		l, err := readStompLine(r, max-size)
		if err != nil {
			return nil, err
		}
		size += len(l) + 1
		if l == "" {
			break
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("stomp: header line without a colon: %q", clipString(l))
		}
		if esc {
			if k, err = stompUnescape(k); err != nil {
				return nil, err
			}
			if v, err = stompUnescape(v); err != nil {
				return nil, err
			}
		}
		f.headers = append(f.headers, [2]string{k, v})
	}
	if cl, ok := f.get("content-length"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(cl))
		if err != nil || n < 0 || n > max {
			return nil, fmt.Errorf("stomp: bad content-length %q", clipString(cl))
		}
		f.body = make([]byte, n)
		if _, err := io.ReadFull(r, f.body); err != nil {
			return nil, err
		}
		nul, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if nul != 0 {
			return nil, errors.New("stomp: no NUL after content-length bytes")
		}
		return f, nil
	}
	var body []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if b == 0 {
			break
		}
		if len(body) == max {
			return nil, fmt.Errorf("stomp: body over %d bytes", max)
		}
		body = append(body, b)
	}
	f.body = body
	return f, nil
}

// readStompLine reads a line ended by LF or CRLF, of at most max bytes.
func readStompLine(r *bufio.Reader, max int) (string, error) {
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			return strings.TrimSuffix(string(b), "\r"), nil
		}
		if len(b) >= max {
			return "", fmt.Errorf("stomp: line over %d bytes", max)
		}
		b = append(b, c)
	}
}

func clipString(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func (s *stompServer) serveConn(c *stompConn) {
	if !s.handshake(c.nc) {
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c.id)
		s.signalLocked()
		s.mu.Unlock()
		return
	}
	defer func() {
		close(c.stop)
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c.id)
		s.signalLocked()
		s.mu.Unlock()
	}()
	r := bufio.NewReader(c.nc)
	_ = c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	var readLimit time.Duration
	for {
		f, err := readStompFrame(r, stompMaxFrame)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("stomp server: connection ended", "conn", c.id, "err", err)
			}
			return
		}
		s.record(c, true, f)
		if f != nil {
			var ok bool
			if ok, readLimit = s.answer(c, f, readLimit); !ok {
				return
			}
		}
		if readLimit > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(readLimit))
		} else {
			_ = c.nc.SetReadDeadline(time.Time{})
		}
	}
}

// answer reacts to one frame; false ends the connection. It returns the
// read time limit the heart-beats set.
func (s *stompServer) answer(c *stompConn, f *stompFrame, limit time.Duration) (bool, time.Duration) {
	s.mu.Lock()
	shape := s.shape
	s.mu.Unlock()
	if r, ok := f.get("receipt"); ok && f.cmd != "CONNECT" && f.cmd != "STOMP" {
		defer func() { _ = s.write(c, &stompFrame{cmd: "RECEIPT", headers: [][2]string{{"receipt-id", r}}}) }()
	}
	switch f.cmd {
	case "STOMP", "CONNECT":
		hb := shape.heartBeat
		if hb == "" {
			hb = "0,0"
		}
		ack := &stompFrame{cmd: "CONNECTED", headers: [][2]string{{"version", "1.2"}, {"heart-beat", hb}, {"server", "uspkit-conformance"}}}
		if shape.subscribeDest != "" {
			ack.headers = append(ack.headers, [2]string{"subscribe-dest", shape.subscribeDest})
		}
		cv, _ := f.get("heart-beat")
		out, in := stompNegotiate(cv, hb)
		if in > 0 {
			limit = 2 * in
		}
		if out > 0 {
			s.wg.Go(func() { s.beat(c, out) })
		}
		return s.write(c, ack) == nil, limit
	case "SUBSCRIBE":
		id, _ := f.get("id")
		dest, _ := f.get("destination")
		s.mu.Lock()
		c.subs[id] = dest
		s.mu.Unlock()
	case "UNSUBSCRIBE":
		id, _ := f.get("id")
		s.mu.Lock()
		delete(c.subs, id)
		s.mu.Unlock()
	case "SEND":
		if h := s.handler(); h != nil {
			from, _ := f.get("reply-to-dest")
			h.HandleRecord(context.Background(), mtp.Inbound{Record: bytes.Clone(f.body), From: mtp.Peer{Address: from}})
		}
	case "DISCONNECT":
		return false, limit
	}
	return true, limit
}

// stompNegotiate returns how often the server sends heart-beats and how
// long it waits for the client's, from the client's header "cx,cy" and
// the server's "sx,sy" (STOMP 1.2, Heart-beating).
func stompNegotiate(client, server string) (out, in time.Duration) {
	parse := func(v string) (int, int) {
		a, b, _ := strings.Cut(v, ",")
		x, _ := strconv.Atoi(strings.TrimSpace(a))
		y, _ := strconv.Atoi(strings.TrimSpace(b))
		return max(x, 0), max(y, 0)
	}
	cx, cy := parse(client)
	sx, sy := parse(server)
	if sx > 0 && cy > 0 {
		out = time.Duration(max(sx, cy)) * time.Millisecond
	}
	if cx > 0 && sy > 0 {
		in = time.Duration(max(cx, sy)) * time.Millisecond
	}
	return out, in
}

// beat sends heart-beats on c every d until the connection ends.
func (s *stompServer) beat(c *stompConn, d time.Duration) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
			c.wmu.Lock()
			_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			_, err := c.nc.Write([]byte{'\n'})
			c.wmu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

// Serve hands the Records the Agent sends to h until ctx ends or the
// server closes.
func (s *stompServer) Serve(ctx context.Context, h mtp.Handler) error {
	s.mu.Lock()
	if s.h == nil {
		close(s.served)
	}
	s.h = h
	s.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-s.done:
	}
	return nil
}

// Send delivers rec as a MESSAGE to each connection subscribed to dest.
func (s *stompServer) Send(ctx context.Context, dest string, rec []byte) error {
	type target struct {
		c   *stompConn
		sub string
	}
	var to []target
	s.mu.Lock()
	for _, c := range s.conns {
		for id, d := range c.subs {
			if d == dest {
				c.seq++
				to = append(to, target{c, id})
				break
			}
		}
	}
	s.mu.Unlock()
	if len(to) == 0 {
		return fmt.Errorf("conformance: stomp server: no client subscribed to %q", dest)
	}
	for _, x := range to {
		f := &stompFrame{cmd: "MESSAGE", headers: [][2]string{{"destination", dest}, {"message-id", fmt.Sprintf("tp469-%d-%d", x.c.id, x.c.seq)},
			{"subscription", x.sub}, {"content-type", "application/vnd.bbf.usp.msg"}, {"content-length", strconv.Itoa(len(rec))},
			{"reply-to-dest", s.replyDest}}, body: rec}
		if err := s.write(x.c, f); err != nil {
			return fmt.Errorf("conformance: stomp server: %w", err)
		}
	}
	return nil
}

// cut closes every connection without a word.
func (s *stompServer) cut() {
	s.mu.Lock()
	var cs []*stompConn
	for _, c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.nc.Close()
	}
}

// Close stops the server and closes every connection.
func (s *stompServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	err := s.ln.Close()
	s.cut()
	s.wg.Wait()
	return err
}

func (s *stompServer) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

// waitEvent returns the first event at index from or later that match
// accepts, waiting up to d.
func (s *stompServer) waitEvent(ctx context.Context, from int, d time.Duration, match func(stompEvent) bool) (stompEvent, bool) {
	return waitRecorded(ctx, &s.mu, &s.events, &s.changed, from, d, match)
}

// waitClosed waits up to d for connection id to end.
func (s *stompServer) waitClosed(ctx context.Context, id int, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		s.mu.Lock()
		_, open := s.conns[id]
		ch := s.changed
		s.mu.Unlock()
		if !open {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (s *stompServer) waitAccepts(ctx context.Context, t time.Time, n int, d time.Duration) []time.Time {
	return waitTimes(ctx, &s.mu, &s.accepts, &s.changed, t, n, d)
}

// isFrame matches the frames of one command, from the Agent when in.
func isFrame(cmd string, in bool) func(stompEvent) bool {
	return func(e stompEvent) bool { return e.in == in && e.f != nil && e.f.cmd == cmd }
}

// handler waits for Serve to give the handler of inbound Records; nil
// once the server is closed.
func (s *stompServer) handler() mtp.Handler {
	select {
	case <-s.served:
	case <-s.done:
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h
}
