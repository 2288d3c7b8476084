package cli

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// listenSyslog listens on a unixgram socket in a temporary directory, as
// a local syslog daemon does on /dev/log, and returns its path and the
// messages it receives.
func listenSyslog(t *testing.T, path string) <-chan string {
	t.Helper()
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 16<<10)
		for {
			n, err := ln.Read(b)
			if err != nil {
				return
			}
			ch <- string(b[:n])
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done; os.Remove(path) })
	return ch
}

func recv(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no syslog message")
	}
	return ""
}

func TestSyslogFormats(t *testing.T) {
	tests := []struct {
		name   string
		conf   logConfig
		level  string
		log    func(c *logConfig, stderr *bytes.Buffer)
		wantRE string
	}{
		{"RFC3164Info", logConfig{Tag: "usp-agent"}, "info", nil,
			`^<30>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d usp-agent\[\d+\]: msg=hello k=v$`},
		{"RFC3164Local3Error", logConfig{Tag: "ua", Facility: "local3"}, "info", nil,
			`^<155>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d ua\[\d+\]: msg=hello k=v$`},
		{"RFC5424Warn", logConfig{Tag: "usp-agent", Format: "rfc5424"}, "info", nil,
			`^<28>1 \d{4}-\d\d-\d\dT\S+ \S+ usp-agent \d+ - - msg=hello k=v$`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "log")
			ch := listenSyslog(t, sock)
			tc.conf.Syslog, tc.conf.Socket = true, sock
			if err := tc.conf.check(); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			log, closeLog := tc.conf.logger(&stderr, tc.level)
			defer closeLog()
			log.Debug("filtered out") // under the level: nothing sent
			switch {
			case strings.Contains(tc.name, "Error"):
				log.Error("hello", "k", "v")
			case strings.Contains(tc.name, "Warn"):
				log.Warn("hello", "k", "v")
			default:
				log.Info("hello", "k", "v")
			}
			m := recv(t, ch)
			if !regexp.MustCompile(tc.wantRE).MatchString(m) {
				t.Errorf("message %q does not match %s", m, tc.wantRE)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr got %q", stderr.String())
			}
		})
	}
}

// TestSyslogReconnects: a syslog daemon that restarts (its socket
// recreated) gets the messages after it; while it is away they go to
// stderr.
func TestSyslogReconnects(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "log")
	var stderr bytes.Buffer
	c := &logConfig{Syslog: true, Socket: sock, Tag: "t"}
	log, closeLog := c.logger(&stderr, "info")
	defer closeLog()
	log.With("conn", 1).Info("before the daemon") // no socket yet: stderr
	if !strings.Contains(stderr.String(), "before the daemon") || !strings.Contains(stderr.String(), "conn=1") {
		t.Fatalf("stderr %q", stderr.String())
	}
	ch := listenSyslog(t, sock)
	time.Sleep(1100 * time.Millisecond) // past the redial interval
	log.WithGroup("g").Info("first", "a", 1)
	if m := recv(t, ch); !strings.HasSuffix(m, "msg=first g.a=1") {
		t.Errorf("got %q", m)
	}
}

func TestLogConfigCheck(t *testing.T) {
	tests := []struct {
		conf *logConfig
		ok   bool
	}{
		{nil, true},
		{&logConfig{Syslog: true}, true},
		{&logConfig{Facility: "local7", Format: "rfc5424"}, true},
		{&logConfig{Facility: "kern"}, false},
		{&logConfig{Format: "json"}, false},
	}
	for _, tc := range tests {
		if err := tc.conf.check(); (err == nil) != tc.ok {
			t.Errorf("check(%+v) = %v, want ok %v", tc.conf, err, tc.ok)
		}
	}
}

func TestSyslogLongMessageCut(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	ch := listenSyslog(t, sock)
	log, closeLog := (&logConfig{Syslog: true, Socket: sock}).logger(&bytes.Buffer{}, "info")
	defer closeLog()
	log.Info(strings.Repeat("x", 3*maxSyslogMsg))
	if m := recv(t, ch); len(m) != maxSyslogMsg {
		t.Errorf("message of %d bytes, want cut to %d", len(m), maxSyslogMsg)
	}
}
