package ipdiag_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestUnprivileged runs the package's own test binary without CAP_NET_RAW
// (setpriv), here and in a network namespace whose
// net.ipv4.ping_group_range lets every group open ping sockets: IPPing()
// works, and IPv4PingSupported says so, only where ping sockets are
// allowed; TraceRoute() works anyway.
func TestUnprivileged(t *testing.T) {
	if os.Getenv("USP_IPDIAG_UNPRIVILEGED") == "1" {
		unprivileged(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("SKIP: dropping CAP_NET_RAW is tested from root")
	}
	setpriv := testenv.LookPath(t, "setpriv", "util-linux", "/usr/bin", "/bin")
	child := []string{setpriv, "--bounding-set", "-net_raw", "--inh-caps", "-net_raw", os.Args[0], "-test.run=^TestUnprivileged$", "-test.v"}
	run := func(t *testing.T, argv []string) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "USP_IPDIAG_UNPRIVILEGED=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestUnprivileged") {
			t.Fatalf("the run without CAP_NET_RAW: %v\n%s", err, out)
		}
		t.Logf("%s", out)
	}
	t.Run("here", func(t *testing.T) { run(t, child) })
	t.Run("ping sockets allowed", func(t *testing.T) {
		r := newRouted(t)
		if err := r.exec(t, r.A, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"); err != nil {
			t.Skipf("SKIP: %v", err)
		}
		run(t, append([]string{r.ip, "netns", "exec", r.A}, child...))
	})
}

// unprivileged is TestUnprivileged in the process without CAP_NET_RAW.
func unprivileged(t *testing.T) {
	pingOK := pingGroupAllows(t, os.Getgid())
	t.Logf("ping sockets allowed to group %d: %v", os.Getgid(), pingOK)
	f := newFixture(t, nil)
	if got := f.get(t, "Device.IP.Diagnostics.")["IPv4PingSupported"]; got != strconv.FormatBool(pingOK) {
		t.Errorf("IPv4PingSupported %s", got)
	}
	want := "Error_Internal"
	if pingOK {
		want = "Complete"
	}
	ping := f.mustRun(t, "Device.IP.Diagnostics.IPPing()", map[string]string{"Host": "127.0.0.1", "ProtocolVersion": "IPv4",
		"NumberOfRepetitions": "1", "Timeout": "1000", "DataBlockSize": "8"})
	if ping["Status"] != want {
		t.Errorf("IPPing: %v, want Status %s", ping, want)
	}
	trace := f.mustRun(t, "Device.IP.Diagnostics.TraceRoute()", map[string]string{"Host": "127.0.0.1", "ProtocolVersion": "IPv4",
		"NumberOfTries": "1", "Timeout": "1000"})
	if trace["Status"] != "Complete" || trace["RouteHops.1.HostAddress"] != "127.0.0.1" {
		t.Errorf("TraceRoute without privileges: %v", trace)
	}
}

func pingGroupAllows(t *testing.T, gid int) bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		t.Fatalf("ping_group_range %q", b)
	}
	lo, _ := strconv.Atoi(f[0])
	hi, _ := strconv.Atoi(f[1])
	return lo <= gid && gid <= hi
}
