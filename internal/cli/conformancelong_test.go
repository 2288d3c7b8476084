package cli_test

import (
	"cmp"
	"flag"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// longBulkInterval is the bulk data ReportingInterval of the long run in
// seconds: the agent's minimum is 1 s, and the runner uses at least 60 s
// where the plan's waits need it (10.7).
const longBulkInterval = 5

// longMutualTLS is the name of TestConformanceLong's subtest over
// WebSocket with mutual TLS (TestConformanceWebSocketTLS's setup), and
// its section of docs/conformance.md.
const longMutualTLS, longMutualTLSSection = "WebSocket-MutualTLS", "WebSocket with mutual TLS"

// TestConformanceLong runs the whole TP-469 plan with long waits and
// reboots (`usp conformance --long --reboot`) against `usp agent` over
// every MTP TestConformance covers (WebSocket with the agent as server,
// MQTT 5 and 3.1.1 through mosquitto and STOMP through RabbitMQ, each over
// TCP and over TLS) and over WebSocket with mutual TLS, and checks that no
// case fails. A reboot restarts the agent process on its own data
// directory (restart.go), so the cases behind the reboot gate run as they
// would on a device.
//
// A run takes about 25 minutes per MTP and runs only with
// USP_CONFORMANCE_LONG=1: one MTP with -run 'TestConformanceLong/^<name>$',
// or several at once with USP_CONFORMANCE_LONG_PARALLEL=N and go test's
// -parallel N (the long cases mostly wait). Each MTP has its own agent,
// data directory, Endpoint IDs, broker topics or destinations, and
// loopback address for the runner's TraceRoute probes and its own MQTT
// and STOMP servers (longProbeHost); the runner's other servers (its
// bulk data collector, the firmware image server, the WebSocket gate)
// listen on ports the kernel picks. USP_CONFORMANCE_LONG_CASES=PATTERNS
// runs only those cases (usp conformance --run). USP_UPDATE_DOCS=1 writes
// each whole run's long and reboot cases to docs/conformance-long.md.
func TestConformanceLong(t *testing.T) {
	if os.Getenv("USP_CONFORMANCE_LONG") != "1" {
		t.Skip("the long conformance runs take minutes: set USP_CONFORMANCE_LONG=1")
	}
	l := &longRun{cases: os.Getenv("USP_CONFORMANCE_LONG_CASES"), sections: conformanceSections()}
	l.slots = make(chan struct{}, longParallel(t))
	l.bin = buildUSP(t)
	var names []string
	for _, n := range testenv.MTPNames() {
		if l.sections[n] != "" {
			names = append(names, n)
		}
	}
	l.hosts = map[string]net.IP{}
	var ips []net.IP
	for i, n := range append(names, longMutualTLS) {
		l.hosts[n] = longProbeHost(i)
		ips = append(ips, l.hosts[n])
	}
	// The agent trusts the runner's own MQTT and STOMP servers, on every
	// probe address, and its HTTPS collector through its system roots.
	l.mtpCerts = t.TempDir()
	writeMTPCerts(t, l.mtpCerts, ips...)
	t.Setenv("SSL_CERT_FILE", filepath.Join(l.mtpCerts, "ca.pem"))
	testenv.EachMTP(t, func(t *testing.T, m testenv.MTP) {
		l.wait(t)
		if m.AgentListens {
			// A port chosen before the wait may have been taken since.
			port := testenv.FreePort(t)
			m.Addr, m.URL = fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("ws://127.0.0.1:%d%s", port, m.Path)
		}
		e := newMTPEnds(m, longRunnerID(m.Name))
		mtps, ctrls := agentMTPYAML(m, e)
		e2eYAML, e2eArgs := e2eConformance(t, e.agentID, e.ctrlID)
		startAgentProcessWith(t, l.bin, e.agentID, mtps, ctrls+e2eYAML+l.bulkYAML())
		args := append(append(conformanceArgs(t, m, e), e2eArgs...), mtpCertArgs(l.mtpCerts)...)
		// After conformanceArgs' --second-id, which it overrides.
		args = append(args, "--second-id", longSecondID(m.Name))
		l.run(t, m.Name, l.sections[m.Name], args)
	}, names...)
	t.Run(longMutualTLS, func(t *testing.T) {
		l.wait(t)
		e := mtpEnds{agentID: "os::012345-LONGMUTUALTLS", ctrlID: longRunnerID(longMutualTLS)}
		args := webSocketTLSConformance(t, l.bin, l.mtpCerts, e, longSecondID(longMutualTLS), l.bulkYAML())
		l.run(t, longMutualTLS, longMutualTLSSection, args)
	})
}

// longRun is what the subtests of TestConformanceLong share.
type longRun struct {
	bin, mtpCerts string
	// cases, when not empty, are the only cases run (--run).
	cases    string
	sections map[string]string
	// hosts are the subtests' probe addresses (longProbeHost).
	hosts map[string]net.IP
	// slots hold one value per subtest running; its capacity is
	// USP_CONFORMANCE_LONG_PARALLEL.
	slots chan struct{}
	// doc serializes the writes of docs/conformance-long.md.
	doc sync.Mutex
}

// longParallel returns USP_CONFORMANCE_LONG_PARALLEL (1 when unset), the
// number of MTPs TestConformanceLong runs at once; go test's -parallel
// must allow as many.
func longParallel(t *testing.T) int {
	t.Helper()
	v := os.Getenv("USP_CONFORMANCE_LONG_PARALLEL")
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("USP_CONFORMANCE_LONG_PARALLEL=%q: want a number of MTPs, 1 or more", v)
	}
	if f := flag.Lookup("test.parallel"); n > 1 && f != nil {
		if p, _ := strconv.Atoi(f.Value.String()); p < n {
			t.Fatalf("USP_CONFORMANCE_LONG_PARALLEL=%d needs go test -parallel %d or more (it is %d)", n, n, p)
		}
	}
	return n
}

// longProbeHost is the loopback address of the i-th MTP of
// TestConformanceLong, 127.0.0.11 and up: the runner holds the TraceRoute
// probes' UDP ports on it (1.92 holds 33434-33436, so two runs on one
// address would see each other's probes) and its own MQTT and STOMP
// servers listen there. The runs of TestConformance keep 127.0.0.1.
func longProbeHost(i int) net.IP { return net.IPv4(127, 0, 0, byte(11+i)) }

// longRunnerID and longSecondID are the runner's two controllers for the MTP
// name: apart for each MTP, since an MQTT 3.1.1 client's ClientId is its
// Endpoint ID and two clients of one ClientId on the shared mosquitto
// would take each other's session.
func longRunnerID(name string) string { return "proto::uspkit-conformance-" + longIDPart(name) }
func longSecondID(name string) string { return "proto::second-" + longIDPart(name) }

// longIDPart is name in lower case, without what is not a letter or digit.
func longIDPart(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, name)
}

// bulkYAML is the agent's bulk_data section: its minimum reporting
// interval, and the runner's HTTPS collector, which presents the
// certificate the agent trusts for the runner's MQTT and STOMP servers.
func (l *longRun) bulkYAML() string {
	return fmt.Sprintf("bulk_data:\n  min_reporting_interval: 1\n  ca: %s\n", filepath.Join(l.mtpCerts, "ca.pem"))
}

// wait makes t a parallel subtest when more than one MTP runs at once,
// and waits for a slot, held until t ends.
func (l *longRun) wait(t *testing.T) {
	t.Helper()
	if cap(l.slots) > 1 {
		t.Parallel()
	}
	l.slots <- struct{}{}
	t.Cleanup(func() { <-l.slots })
}

// run runs `usp conformance` with args and --long --reboot against the
// agent of the MTP name, checks that no case failed or stayed behind the
// gates the run opens, and records a whole run in docs/conformance-long.md
// under section.
func (l *longRun) run(t *testing.T, name, section string, args []string) {
	t.Helper()
	args = append(args, "--long", "--reboot", "--timeout", "5m", "--probe-host", l.hosts[name].String(),
		"--bulkdata-interval", fmt.Sprint(longBulkInterval),
		"--bulkdata-cert", filepath.Join(l.mtpCerts, "server.pem"), "--bulkdata-key", filepath.Join(l.mtpCerts, "server.key"))
	if l.cases != "" {
		args = append(args, "--run", l.cases)
	}
	start := time.Now()
	r := runConformanceProcess(t, l.bin, args...)
	took := time.Since(start).Round(time.Second)
	if r.Failed != 0 {
		t.Errorf("%d cases failed", r.Failed)
	}
	for _, c := range r.Results {
		if c.Status == "skip" && longGated(c.Reason) {
			t.Errorf("%s skipped behind a gate the run opens: %s", c.ID, c.Reason)
		}
	}
	fmt.Fprintf(os.Stderr, "%s: %d passed, %d failed, %d skipped in %v\n", section, r.Passed, r.Failed, r.Skipped, took)
	if l.cases != "" {
		return
	}
	l.doc.Lock()
	defer l.doc.Unlock()
	writeLongDoc(t, section, r, took, l.order())
}

// order is the sections of docs/conformance-long.md in the order of
// the subtests.
func (l *longRun) order() []string {
	var out []string
	for _, n := range testenv.MTPNames() {
		if s := l.sections[n]; s != "" {
			out = append(out, s)
		}
	}
	return append(out, longMutualTLSSection)
}

// longGated reports whether a skip reason is that of the long-wait or
// reboot gate, which --long --reboot opens.
func longGated(reason string) bool {
	return strings.Contains(reason, "run with long waits") || strings.Contains(reason, "run with reboots")
}

// longDoc is the file the long runs are recorded in, apart from
// docs/conformance.md so that its regeneration is untouched.
const longDoc = "../../docs/conformance-long.md"

// writeLongDoc records, with USP_UPDATE_DOCS=1, the run's counts and the
// results of its long and reboot cases (those the default run skips
// behind the gates) in the section of docs/conformance-long.md for the
// MTP. The other sections are kept, in the order order gives (those it
// does not name last), under longDocHeader.
func writeLongDoc(t *testing.T, section string, r report, took time.Duration, order []string) {
	t.Helper()
	if os.Getenv("USP_UPDATE_DOCS") != "1" {
		return
	}
	gated := defaultGatedCases(section)
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\nWhole plan with `--long --reboot --bulkdata-interval %d`, run on %s: **%d passed, %d failed, %d skipped** in %d s.\n\n",
		section, longBulkInterval, time.Now().UTC().Format(time.DateOnly), r.Passed, r.Failed, r.Skipped, int(took.Seconds()))
	b.WriteString("### Long and reboot cases\n\n| Case | Title | Tag | Result | Reason |\n|---|---|---|---|---|\n")
	for _, c := range r.Results {
		if !gated[c.ID] {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", c.ID, strings.ReplaceAll(c.Title, "|", "\\|"), c.Tag, c.Status, strings.ReplaceAll(c.Reason, "|", "\\|"))
	}
	doc, _ := os.ReadFile(longDoc) // none yet: the header and this section
	if err := os.WriteFile(longDoc, []byte(mergeLongDoc(string(doc), section, b.String(), order)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mergeLongDoc returns docs/conformance-long.md with the text body as its
// section named section: the sections of doc are kept, in the order
// order gives (those it does not name last, as they were), under
// longDocHeader.
func mergeLongDoc(doc, section, body string, order []string) string {
	names, sections := splitLongDoc(doc)
	if _, ok := sections[section]; !ok {
		names = append(names, section)
	}
	sections[section] = body
	rank := func(s string) int {
		if i := slices.Index(order, s); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(rank(a), rank(b)) })
	text := longDocHeader
	for _, n := range names {
		text += "\n" + strings.TrimRight(sections[n], "\n") + "\n"
	}
	return text
}

// splitLongDoc returns the "## " sections of docs/conformance-long.md, by
// name, and their names in the order they come.
func splitLongDoc(text string) (names []string, sections map[string]string) {
	sections = map[string]string{}
	parts := strings.Split("\n"+text, "\n## ")
	for _, p := range parts[1:] {
		name, _, _ := strings.Cut(p, "\n")
		names = append(names, name)
		sections[name] = "## " + p
	}
	return names, sections
}

const longDocHeader = `# TP-469 long and reboot cases

The default conformance runs (docs/conformance.md) skip the cases that
wait for more than 20 seconds or reboot the agent. TestConformanceLong
(internal/cli/conformancelong_test.go) runs the whole plan with
` + "`--long --reboot`" + ` against ` + "`usp agent`" + ` over every MTP
TestConformance covers and over WebSocket with mutual TLS; each section
below gives the run's counts and the cases that the default run skips
behind those gates. A run takes about 25 minutes per MTP. Regenerate
one MTP (its subtest name anchored: STOMP and MQTT5 also match the TLS
subtests) with:

    USP_CONFORMANCE_LONG=1 USP_UPDATE_DOCS=1 go test ./internal/cli -run 'TestConformanceLong/^<MTP>$' -count=1 -timeout 70m -v

where <MTP> is WebSocket-AgentServer, MQTT5, MQTT311, MQTT5-TLS,
MQTT311-TLS, STOMP, STOMP-TLS or WebSocket-MutualTLS; or several at once,
each with its own agent, ports and probe address:

    USP_CONFORMANCE_LONG=1 USP_CONFORMANCE_LONG_PARALLEL=8 USP_UPDATE_DOCS=1 go test ./internal/cli -run '^TestConformanceLong$' -parallel 8 -count=1 -timeout 120m -v

The nightly CI stage, [.ci/nightly](../.ci/nightly), runs all eight at once
(about 25 minutes on 2 cores: the long cases mostly wait), with the
firmware, section 8, qemu and whole-plan conformance tests, and fails on
any failed case.
`

// defaultGatedCases returns the cases that the section of
// docs/conformance.md for the MTP skips behind the long-wait or reboot
// gate.
func defaultGatedCases(section string) map[string]bool {
	out := map[string]bool{}
	doc, err := os.ReadFile("../../docs/conformance.md")
	if err != nil {
		return out
	}
	text := string(doc)
	start := strings.Index(text, "## "+section+"\n")
	if start < 0 {
		return out
	}
	text = text[start+3:]
	if end := strings.Index(text, "\n## "); end >= 0 {
		text = text[:end]
	}
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Split(line, " | ")
		if len(f) < 5 || !strings.HasPrefix(f[0], "| ") {
			continue
		}
		id, status, reason := strings.TrimPrefix(f[0], "| "), f[3], strings.Join(f[4:], " | ")
		if status == "skip" && longGated(reason) {
			out[id] = true
		}
	}
	return out
}

// TestMergeLongDoc checks how a run's section goes into
// docs/conformance-long.md: it replaces the section of its name or is
// added in the subtests' order, the other sections are kept, and the
// header is longDocHeader whatever the file had.
func TestMergeLongDoc(t *testing.T) {
	order := []string{"A", "B", "C"}
	sec := func(name, body string) string { return "## " + name + "\n\n" + body + "\n" }
	for _, c := range []struct {
		name, doc, section string
		want               []string
	}{
		{"empty file", "", "B", []string{sec("B", "new")}},
		{"added in order", "# old header\n\n" + sec("A", "a") + "\n" + sec("C", "c"), "B",
			[]string{sec("A", "a"), sec("B", "new"), sec("C", "c")}},
		{"replaced", longDocHeader + "\n" + sec("A", "a") + "\n" + sec("B", "b\n\n### sub\n\nx"), "B",
			[]string{sec("A", "a"), sec("B", "new")}},
		{"reordered, unknown last", longDocHeader + "\n" + sec("Z", "z") + "\n" + sec("C", "c"), "A",
			[]string{sec("A", "new"), sec("C", "c"), sec("Z", "z")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := mergeLongDoc(c.doc, c.section, sec(c.section, "new"), order)
			if want := longDocHeader + "\n" + strings.Join(c.want, "\n"); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestLongRunApart checks what keeps TestConformanceLong's MTPs apart
// when they run at once: each has its own probe address, inside the
// loopback network and apart from TestConformance's 127.0.0.1, and its
// own runner Endpoint IDs (an MQTT 3.1.1 ClientId).
func TestLongRunApart(t *testing.T) {
	names := append(slices.Collect(maps.Keys(conformanceSections())), longMutualTLS)
	hosts, ids := map[string]bool{}, map[string]bool{}
	for i, n := range names {
		h := longProbeHost(i)
		if !h.IsLoopback() || h.Equal(net.IPv4(127, 0, 0, 1)) || hosts[h.String()] {
			t.Errorf("%s: probe address %v", n, h)
		}
		hosts[h.String()] = true
		for _, id := range []string{longRunnerID(n), longSecondID(n)} {
			if ids[id] {
				t.Errorf("%s: Endpoint ID %s taken", n, id)
			}
			ids[id] = true
		}
	}
}
