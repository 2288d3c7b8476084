package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// logConfig is the `log:` section of `usp agent`'s file: where the
// Agent's log goes besides, or instead of, stderr.
type logConfig struct {
	// Syslog sends each record to the local syslog daemon's socket
	// instead of stderr.
	Syslog bool `yaml:"syslog"`
	// Socket is the daemon's socket; "" means /dev/log.
	Socket string `yaml:"socket"`
	// Tag is the program name in each message; "" means the executable's
	// name.
	Tag string `yaml:"tag"`
	// Facility is daemon (the default), user or local0 to local7.
	Facility string `yaml:"facility"`
	// Format is rfc3164 (the default: "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG",
	// which busybox syslogd, rsyslog, syslog-ng and journald all take on
	// their local socket) or rfc5424.
	Format string `yaml:"format"`
}

// syslogFacilities are the facility codes logConfig.Facility takes (RFC
// 5424 section 6.2.1).
var syslogFacilities = map[string]int{"user": 1, "daemon": 3,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23}

// check reports a facility or format the section does not know.
func (c *logConfig) check() error {
	if c == nil {
		return nil
	}
	if _, ok := syslogFacilities[c.Facility]; c.Facility != "" && !ok {
		return fmt.Errorf("log.facility: %q is not daemon, user or local0 to local7", c.Facility)
	}
	if c.Format != "" && c.Format != "rfc3164" && c.Format != "rfc5424" {
		return fmt.Errorf("log.format: %q is not rfc3164 or rfc5424", c.Format)
	}
	return nil
}

// logger returns the Agent's logger at level: to stderr, or with syslog
// on, to the syslog socket (and to stderr while the socket cannot be
// reached); close releases the socket.
func (c *logConfig) logger(stderr io.Writer, level string) (log *slog.Logger, close func()) {
	if c == nil || !c.Syslog {
		return newLogger(stderr, level), func() {}
	}
	h := newSyslogHandler(c, stderr, logLevel(level))
	return slog.New(h), h.out.close
}

// logLevel is the slog level of a log_level value ("" is info).
func logLevel(level string) slog.Level {
	var l slog.Level
	if level == "" || l.UnmarshalText([]byte(strings.ToUpper(level))) != nil {
		return slog.LevelInfo
	}
	return l
}

// maxSyslogMsg bounds one message: local daemons read datagrams of a few
// kilobytes and cut the rest.
const maxSyslogMsg = 4096

// syslogOut is the socket shared by a syslog handler and those derived
// from it (WithAttrs, WithGroup).
type syslogOut struct {
	socket, tag, host string
	facility          int
	rfc5424           bool
	fallback          io.Writer
	pid               int

	mu       sync.Mutex
	buf      bytes.Buffer // the text handler's output for one record
	conn     net.Conn
	stream   bool // conn is a stream socket: messages end with a newline
	lastDial time.Time
}

// syslogHandler formats records as slog's text handler does, without the
// time (the daemon stamps it), and sends each as one message.
type syslogHandler struct {
	text slog.Handler
	out  *syslogOut
}

func newSyslogHandler(c *logConfig, fallback io.Writer, level slog.Level) *syslogHandler {
	o := &syslogOut{socket: c.Socket, tag: c.Tag, facility: syslogFacilities["daemon"], rfc5424: c.Format == "rfc5424",
		fallback: fallback, pid: os.Getpid()}
	if o.socket == "" {
		o.socket = "/dev/log"
	}
	if o.tag == "" {
		o.tag = filepath.Base(os.Args[0])
	}
	if f, ok := syslogFacilities[c.Facility]; ok {
		o.facility = f
	}
	o.host, _ = os.Hostname()
	if o.host == "" {
		o.host = "-"
	}
	text := slog.NewTextHandler(&o.buf, &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
			return slog.Attr{} // the header carries both
		}
		return a
	}})
	return &syslogHandler{text: text, out: o}
}

func (h *syslogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.text.Enabled(ctx, l)
}

func (h *syslogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &syslogHandler{text: h.text.WithAttrs(as), out: h.out}
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	return &syslogHandler{text: h.text.WithGroup(name), out: h.out}
}

// severity is the syslog severity of a level (RFC 5424 section 6.2.1).
func severity(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3 // error
	case l >= slog.LevelWarn:
		return 4 // warning
	case l >= slog.LevelInfo:
		return 6 // informational
	}
	return 7 // debug
}

func (h *syslogHandler) Handle(ctx context.Context, r slog.Record) error {
	o := h.out
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Reset()
	if err := h.text.Handle(ctx, r); err != nil {
		return err
	}
	msg := strings.TrimRight(o.buf.String(), "\n")
	pri := o.facility*8 + severity(r.Level)
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	var line string
	if o.rfc5424 {
		line = fmt.Sprintf("<%d>1 %s %s %s %d - - %s", pri, t.Format(time.RFC3339Nano), o.host, o.tag, o.pid, msg)
	} else {
		line = fmt.Sprintf("<%d>%s %s[%d]: %s", pri, t.Format(time.Stamp), o.tag, o.pid, msg)
	}
	if len(line) > maxSyslogMsg {
		line = line[:maxSyslogMsg]
	}
	if o.send([]byte(line)) {
		return nil
	}
	_, err := fmt.Fprintln(o.fallback, msg)
	return err
}

// send writes one message to the socket, dialling it again (at most once
// a second) after it was lost, as when syslogd restarts; o.mu is held.
func (o *syslogOut) send(b []byte) bool {
	for range 2 {
		if o.conn == nil {
			if time.Since(o.lastDial) < time.Second {
				return false
			}
			o.lastDial = time.Now()
			c, err := net.Dial("unixgram", o.socket)
			o.stream = false
			if err != nil {
				if c, err = net.Dial("unix", o.socket); err != nil {
					return false
				}
				o.stream = true
			}
			o.conn = c
		}
		msg := b
		if o.stream {
			msg = append(b[:len(b):len(b)], '\n')
		}
		if _, err := o.conn.Write(msg); err == nil {
			return true
		}
		o.conn.Close()
		o.conn = nil
		o.lastDial = time.Time{}
	}
	return false
}

func (o *syslogOut) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conn != nil {
		o.conn.Close()
		o.conn = nil
	}
}
