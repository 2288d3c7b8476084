package agentbench

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name         string
		line         string
		user, system time.Duration
		wantErr      bool
	}{
		{"plain", "42 (obuspa) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 1 1 1", 2500 * time.Millisecond, 750 * time.Millisecond, false},
		{"spaces and parentheses in the name", "42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0", 70 * time.Millisecond, 30 * time.Millisecond, false},
		{"no name", "42 S 1", 0, 0, true},
		{"short", "42 (x) S 1 2 3", 0, 0, true},
		{"not a number", "42 (x) S 1 42 42 0 -1 0 0 0 0 0 u s 0 0", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, s, err := parseStat(42, []byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if u != tt.user || s != tt.system {
				t.Errorf("user %v system %v, want %v %v", u, s, tt.user, tt.system)
			}
		})
	}
}

func TestParseSwitches(t *testing.T) {
	tests := []struct {
		name   string
		status string
		v, iv  int64
	}{
		{"both", "Name:\tusp\nVmRSS:\t 100 kB\nvoluntary_ctxt_switches:\t1234\nnonvoluntary_ctxt_switches:\t56\n", 1234, 56},
		{"missing", "Name:\tusp\n", 0, 0},
		{"garbage", "voluntary_ctxt_switches:\tmany\nnonvoluntary_ctxt_switches:\t7", 0, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, iv := parseSwitches([]byte(tt.status))
			if v != tt.v || iv != tt.iv {
				t.Errorf("got %d %d, want %d %d", v, iv, tt.v, tt.iv)
			}
		})
	}
}

// TestReadProcSelf samples this process around a busy loop (up to 2 s,
// until a clock tick lands in it) and a series of sleeps: user time and
// voluntary switches must grow.
func TestReadProcSelf(t *testing.T) {
	p0, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	x := 0
	for time.Now().Before(deadline) {
		for range 1 << 20 {
			x++
		}
		if p, err := readProc(os.Getpid()); err == nil && p.User > p0.User {
			break
		}
	}
	runtime.KeepAlive(x)
	for range 20 {
		time.Sleep(time.Millisecond)
	}
	p1, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	d := p1.sub(p0)
	if d.User <= 0 {
		t.Errorf("user time did not grow over up to 2 s of busy loop: %+v", d)
	}
	if _, err := os.Stat("/proc/self/schedstat"); err == nil && d.Run+10*time.Millisecond < d.User {
		t.Errorf("threads' run time %v below the user time %v", d.Run, d.User)
	}
	if d.System < 0 || d.Involuntary < 0 {
		t.Errorf("negative delta: %+v", d)
	}
	if d.Voluntary <= 0 {
		t.Errorf("no voluntary context switch over 20 sleeps: %+v", d)
	}
}

func TestResultPerRequest(t *testing.T) {
	r := Result{Requests: 1000, CPU: 30 * time.Millisecond, User: 10 * time.Millisecond, System: 20 * time.Millisecond,
		Voluntary: 2500, Involuntary: 100}
	if got := r.CPUPerRequest(); got != 30*time.Microsecond {
		t.Errorf("CPUPerRequest = %v", got)
	}
	if got := r.UserPerRequest(); got != 10*time.Microsecond {
		t.Errorf("UserPerRequest = %v", got)
	}
	if got := r.SystemPerRequest(); got != 20*time.Microsecond {
		t.Errorf("SystemPerRequest = %v", got)
	}
	if v, iv := r.SwitchesPerRequest(); v != 2.5 || iv != 0.1 {
		t.Errorf("SwitchesPerRequest = %v %v", v, iv)
	}
	var zero Result
	if zero.UserPerRequest() != 0 || zero.SystemPerRequest() != 0 {
		t.Error("a cell without requests has a per-request time")
	}
	if v, iv := zero.SwitchesPerRequest(); v != 0 || iv != 0 {
		t.Error("a cell without requests has switches per request")
	}
	var b strings.Builder
	Print(&b, &Report{Results: []Result{r}})
	for _, col := range []string{"user/req", "sys/req", "vcsw/req", "ivcsw/req", "10µs", "20µs", "2.50", "0.10"} {
		if !strings.Contains(b.String(), col) {
			t.Errorf("table has no %q:\n%s", col, b.String())
		}
	}
}

func TestParseSchedstat(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"30887261 17181258 113\n", 30887261},
		{"", 0},
		{"x 1 2", 0},
		{"-5 1 2", 0},
	}
	for _, tt := range tests {
		if got := parseSchedstat([]byte(tt.in)); got != tt.want {
			t.Errorf("parseSchedstat(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
