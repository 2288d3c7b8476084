package ipdiag_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/tr181/ipdiag"
	"github.com/uspkit/uspkit/usperr"
)

// TestCancelEveryCommand: every command, held up by a peer that never
// answers, ends within moments of its context's end (the Controller's
// Request.{i}.Cancel()) with 7023 Command canceled, and at the hard time
// cap with 7022.
func TestCancelEveryCommand(t *testing.T) {
	silentUDP, err := net.ListenPacket("udp4", "127.0.0.1:0") // takes datagrams, answers none
	if err != nil {
		t.Fatal(err)
	}
	defer silentUDP.Close()
	udpAddr := silentUDP.LocalAddr().String()
	udpPort := strconv.Itoa(silentUDP.LocalAddr().(*net.UDPAddr).Port)
	silentTCP, err := net.Listen("tcp4", "127.0.0.1:0") // accepts, never speaks nor reads
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	go func() {
		for {
			c, err := silentTCP.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	defer func() {
		silentTCP.Close()
		for _, c := range held {
			c.Close()
		}
	}()
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Write([]byte("x"))
		w.(http.Flusher).Flush()
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer func() { close(stall); srv.Close() }()
	tracePort := 46000 + int(time.Now().UnixNano()%3000)
	traceHold, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(tracePort))
	if err != nil {
		t.Skipf("SKIP: port %d: %v", tracePort, err)
	}
	defer traceHold.Close()
	f := newFixture(t, &ipdiag.Options{TracePort: tracePort})
	capped := newFixture(t, &ipdiag.Options{TracePort: tracePort, MaxDuration: 300 * time.Millisecond})
	cases := []struct {
		name, cmd string
		in        map[string]string
		capped    string // the Status at the hard cap; "": the command fails (7022)
	}{
		{"IPPing", "Device.IP.Diagnostics.IPPing()", map[string]string{"Host": "127.0.0.1", "ProtocolVersion": "IPv4",
			"NumberOfRepetitions": "100000000", "Timeout": "1000", "DataBlockSize": "8"}, ""},
		{"TraceRoute", "Device.IP.Diagnostics.TraceRoute()", map[string]string{"Host": "127.0.0.1", "ProtocolVersion": "IPv4", "Timeout": "60000"}, ""},
		{"Download HTTP", "Device.IP.Diagnostics.DownloadDiagnostics()", map[string]string{"DownloadURL": srv.URL}, "Error_Timeout"},
		{"Download FTP", "Device.IP.Diagnostics.DownloadDiagnostics()", map[string]string{"DownloadURL": "ftp://" + silentTCP.Addr().String() + "/f"}, "Error_Timeout"},
		{"Upload HTTP", "Device.IP.Diagnostics.UploadDiagnostics()", map[string]string{"UploadURL": "http://" + silentTCP.Addr().String() + "/u",
			"TestFileLength": "100000000"}, "Error_Timeout"},
		{"UDPEcho", "Device.IP.Diagnostics.UDPEchoDiagnostics()", map[string]string{"Host": "127.0.0.1", "Port": udpPort, "Timeout": "60000"}, ""},
		{"ServerSelection", "Device.IP.Diagnostics.ServerSelectionDiagnostics()", map[string]string{"ProtocolVersion": "IPv4",
			"Protocol": "UDP Echo", "HostList": udpAddr, "NumberOfRepetitions": "5", "Timeout": "60000"}, ""},
		{"NSLookup", "Device.DNS.Diagnostics.NSLookupDiagnostics()", map[string]string{"HostName": "x.example", "DNSServer": udpAddr,
			"Timeout": "60000", "NumberOfRepetitions": "5"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			start := time.Now()
			out, err := f.run(t, ctx, tc.cmd, tc.in)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("ended %v after it began, cancelled at 300 ms", took)
			}
			if usperr.Code(err) != usperr.CodeCommandCanceled {
				t.Errorf("ended with %v %v, want 7023", out, err)
			}
		})
		// The same with no Cancel(): the hard cap (Options.MaxDuration)
		// ends it with 7022.
		t.Run(tc.name+" capped", func(t *testing.T) {
			start := time.Now()
			out, err := capped.run(t, context.Background(), tc.cmd, tc.in)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("ended %v after it began, capped at 300 ms", took)
			}
			if tc.capped != "" { // transfers have a Status for it
				if err != nil || out["Status"] != tc.capped {
					t.Errorf("ended with %v %v, want Status %s", out, err, tc.capped)
				}
				return
			}
			if usperr.Code(err) != usperr.CodeCommandFailure || !strings.Contains(err.Error(), "time limit") {
				t.Errorf("ended with %v %v, want 7022 for the time limit", out, err)
			}
		})
	}
}

// TestMaxRunning: beyond Options.MaxRunning, a command waits for a
// running one to end before it starts.
func TestMaxRunning(t *testing.T) {
	silent, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	port := strconv.Itoa(silent.LocalAddr().(*net.UDPAddr).Port)
	f := newFixture(t, &ipdiag.Options{MaxRunning: 1})
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := f.run(t, ctx, "Device.IP.Diagnostics.UDPEchoDiagnostics()", map[string]string{"Host": "127.0.0.1", "Port": port, "Timeout": "60000"})
		first <- err
	}()
	time.Sleep(100 * time.Millisecond) // the echo waits for its answer
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	out := f.mustRun(t, "Device.IP.Diagnostics.IPPing()", map[string]string{"Host": "127.0.0.1", "ProtocolVersion": "IPv4",
		"NumberOfRepetitions": "1", "Timeout": "1000", "DataBlockSize": "8"})
	if took := time.Since(start); out["Status"] != "Complete" || took < 400*time.Millisecond {
		t.Errorf("the second command ended after %v (%v), not after the first", took, out)
	}
	if err := <-first; usperr.Code(err) != usperr.CodeCommandCanceled {
		t.Errorf("first: %v", err)
	}
}
