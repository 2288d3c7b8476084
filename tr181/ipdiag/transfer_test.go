package ipdiag_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func parseTime(t testing.TB, out map[string]string, name string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, out[name])
	if err != nil || v.Year() < 2000 {
		t.Fatalf("%s = %q", name, out[name])
	}
	return v
}

// checkTimes: TCP open request ≤ response ≤ ROM ≤ BOM ≤ EOM (TR-143).
func checkTimes(t testing.TB, out map[string]string, prefix string) {
	t.Helper()
	names := []string{"TCPOpenRequestTime", "TCPOpenResponseTime", "ROMTime", "BOMTime", "EOMTime"}
	var prev time.Time
	for _, n := range names {
		v := parseTime(t, out, prefix+n)
		if v.Before(prev) {
			t.Errorf("%s%s %v is before the time before it %v", prefix, n, v, prev)
		}
		prev = v
	}
}

func TestDownloadDiagnostics(t *testing.T) {
	const size = 3 << 20
	body := strings.Repeat("x", size)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/file": // in 16 pieces 5 ms apart, so that connections overlap
			w.Header().Set("Content-Length", strconv.Itoa(size))
			for i := range 16 {
				io.WriteString(w, body[i*size/16:(i+1)*size/16])
				w.(http.Flusher).Flush()
				time.Sleep(5 * time.Millisecond)
			}
		case "/short": // announces more than it sends
			w.Header().Set("Content-Length", "1000")
			io.WriteString(w, "abc")
		case "/slow":
			time.Sleep(200 * time.Millisecond)
			io.WriteString(w, "x")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler()) // a certificate the host does not trust
	defer tlsSrv.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedURL := "http://" + closed.Addr().String() + "/file"
	closed.Close()
	f := newFixture(t, nil)
	cases := []struct {
		name, url, conns, status string
		lo                       bool // on Device.IP.Interface.1, the loopback interface
	}{
		{"one connection", srv.URL + "/file", "", "Complete", false},
		{"three connections", srv.URL + "/file", "3", "Complete", false},
		{"on an interface", srv.URL + "/file", "2", "Complete", true},
		{"not found", srv.URL + "/nothing", "", "Error_TransferFailed", false},
		{"short body", srv.URL + "/short", "", "Error_IncorrectSize", false},
		{"refused", closedURL, "", "Error_InitConnectionFailed", false},
		{"untrusted certificate", tlsSrv.URL + "/file", "", "Error_InitConnectionFailed", false},
		{"unresolvable", "http://no-such-host.invalid/file", "", "Error_CannotResolveHostName", false},
		{"neither HTTP nor FTP", "gopher://127.0.0.1/file", "", "Error_Other", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]string{"DownloadURL": tc.url, "EnablePerConnectionResults": "true"}
			if tc.conns != "" {
				in["NumberOfConnections"] = tc.conns
			}
			if tc.lo {
				in["Interface"] = "Device.IP.Interface.1."
			}
			out := f.mustRun(t, "Device.IP.Diagnostics.DownloadDiagnostics()", in)
			if out["Status"] != tc.status {
				t.Fatalf("Status %q, want %q: %v", out["Status"], tc.status, out)
			}
			if tc.status != "Complete" {
				return
			}
			n := 1
			if tc.conns != "" {
				n = atoi(t, tc.conns)
			}
			// The HTTP transaction's bytes, headers included.
			if got := atoi(t, out["TestBytesReceived"]); got <= n*size || got > n*(size+1024) {
				t.Errorf("TestBytesReceived %d, want the payload %d and its headers", got, n*size)
			}
			// The IP layer's, read from the interface's counters; 0
			// without an Interface.
			rx, tx := atoi(t, out["TotalBytesReceived"]), atoi(t, out["TotalBytesSent"])
			if tc.lo && (rx < n*size*3/4 || tx < n*size*3/4) || !tc.lo && (rx != 0 || tx != 0) {
				t.Errorf("TotalBytesReceived %d TotalBytesSent %d (Interface %v)", rx, tx, tc.lo)
			}
			full, period := atoi(t, out["TestBytesReceivedUnderFullLoading"]), atoi(t, out["PeriodOfFullLoading"])
			if full <= 0 || full > atoi(t, out["TestBytesReceived"]) || period <= 0 {
				t.Errorf("TestBytesReceivedUnderFullLoading %d PeriodOfFullLoading %d", full, period)
			}
			checkTimes(t, out, "")
			if n > 1 {
				for i := 1; i <= n; i++ {
					p := "PerConnectionResult." + strconv.Itoa(i) + "."
					checkTimes(t, out, p)
					if got := atoi(t, out[p+"TestBytesReceived"]); got <= size || got > size+1024 {
						t.Errorf("%sTestBytesReceived %d", p, got)
					}
				}
			} else if _, ok := out["PerConnectionResult.1.ROMTime"]; ok {
				t.Error("per-connection results for one connection")
			}
		})
	}
}

// TestDownloadTimeBased: with TimeBasedTestDuration the download stops
// after that many seconds from its BOM, and completes.
func TestDownloadTimeBased(t *testing.T) {
	var stop atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 32<<10)
		for i := 0; i < 1000 && !stop.Load(); i++ {
			if _, err := w.Write(b); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond)
		}
	}))
	defer func() { stop.Store(true); srv.Close() }()
	f := newFixture(t, nil)
	start := time.Now()
	out := f.mustRun(t, "Device.IP.Diagnostics.DownloadDiagnostics()", map[string]string{"DownloadURL": srv.URL, "TimeBasedTestDuration": "1"})
	if out["Status"] != "Complete" {
		t.Fatalf("%v", out)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a 1 s time-based test took %v", took)
	}
	bom, eom := parseTime(t, out, "BOMTime"), parseTime(t, out, "EOMTime")
	if d := eom.Sub(bom); d < time.Second || d > 1500*time.Millisecond {
		t.Errorf("EOM-BOM %v, want 1 s", d)
	}
}

func TestUploadDiagnostics(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			http.Error(w, "PUT only", http.StatusMethodNotAllowed)
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		got.Add(n)
		if r.URL.Path == "/deny" {
			http.Error(w, "no", http.StatusForbidden)
		}
	}))
	defer srv.Close()
	f := newFixture(t, nil)
	out := f.mustRun(t, "Device.IP.Diagnostics.UploadDiagnostics()", map[string]string{"UploadURL": srv.URL + "/up", "TestFileLength": "1000000",
		"NumberOfConnections": "2", "EnablePerConnectionResults": "true"})
	if sent := atoi(t, out["TestBytesSent"]); out["Status"] != "Complete" || sent <= 2000000 || sent > 2002048 || got.Load() != 2000000 {
		t.Fatalf("server got %d: %v", got.Load(), out)
	}
	if sent := atoi(t, out["PerConnectionResult.2.TestBytesSent"]); sent <= 1000000 || sent > 1001024 {
		t.Errorf("%v", out)
	}
	checkTimes(t, out, "")
	out = f.mustRun(t, "Device.IP.Diagnostics.UploadDiagnostics()", map[string]string{"UploadURL": srv.URL + "/deny", "TestFileLength": "10"})
	if out["Status"] != "Error_NoTransferComplete" {
		t.Errorf("refused upload: %v", out)
	}
}

// TestIncrementalResult: a 3 s time-based download measured in 1 s
// intervals from 1 s after its BOM has 2 IncrementalResult rows, 1 s
// each, with the test bytes of each interval and, on an Interface, the
// IP-layer bytes (TR-143 section 4.3).
func TestIncrementalResult(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: waits 3 s (-short)")
	}
	var stop atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 16<<10)
		for i := 0; i < 2000 && !stop.Load(); i++ {
			if _, err := w.Write(b); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(2 * time.Millisecond)
		}
	}))
	defer func() { stop.Store(true); srv.Close() }()
	f := newFixture(t, nil)
	out := f.mustRun(t, "Device.IP.Diagnostics.DownloadDiagnostics()", map[string]string{"DownloadURL": srv.URL, "Interface": "Device.IP.Interface.1.",
		"TimeBasedTestDuration": "3", "TimeBasedTestMeasurementInterval": "1", "TimeBasedTestMeasurementOffset": "1", "NumberOfConnections": "2"})
	if out["Status"] != "Complete" || out["IncrementalResult.3.StartTime"] != "" {
		t.Fatalf("%v", out)
	}
	bom := parseTime(t, out, "BOMTime")
	var sum int
	for i, p := range []string{"IncrementalResult.1.", "IncrementalResult.2."} {
		start, end := parseTime(t, out, p+"StartTime"), parseTime(t, out, p+"EndTime")
		if want := bom.Add(time.Duration(i+1) * time.Second); !start.Equal(want) || end.Sub(start) != time.Second {
			t.Errorf("%s %v to %v, want from %v for 1 s", p, start, end, want)
		}
		n := atoi(t, out[p+"TestBytesReceived"])
		if n <= 0 || atoi(t, out[p+"TotalBytesReceived"]) < n/2 {
			t.Errorf("%s TestBytesReceived %d TotalBytesReceived %s", p, n, out[p+"TotalBytesReceived"])
		}
		sum += n
	}
	if sum >= atoi(t, out["TestBytesReceived"]) {
		t.Errorf("2 s of intervals hold %d bytes, the 3 s test %s", sum, out["TestBytesReceived"])
	}
}
