package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/uspkit/uspkit/internal/testenv"
)

// Tokens of the web UI test, one per role, written to the data directory
// before `usp up` starts.
const (
	uiAdminToken    = "webui-admin-token-0123456789"
	uiOperatorToken = "webui-operator-token-0123456789"
	uiViewerToken   = "webui-viewer-token-0123456789"
)

// browser is a headless Chromium driven over the DevTools protocol, with
// what it requested and the JavaScript errors it saw.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	requests []string
	errors   []string
}

// Void is the action type of steps that return nothing.
type step = chromedp.Action[chromedp.Void]

// startBrowser starts Debian's chromium (at path) headless with a fresh
// profile, no outside network and a 1280×800 window.
func startBrowser(t *testing.T, path, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		// Nothing but loopback resolves: the page must need no other host.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base}
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.requests = append(b.requests, e.Request.URL)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			// Exceptions, the page's console.error and the browser's
			// security errors (a Content-Security-Policy violation); not
			// its log of refused requests, some of which the test makes
			// on purpose.
			if m.IsException() || m.Type == "error" && (m.Source == "" || m.Source == "security" || m.Source == "javascript") {
				b.mu.Lock()
				b.errors = append(b.errors, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// run runs steps within d; on failure it saves a screenshot in the test's
// artifact directory, logs its path and fails the test.
func (b *browser) run(name string, d time.Duration, steps ...step) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (screenshot %s)", name, err, b.screenshot(name))
	}
}

// into runs a with a value and stores it in *dst.
func into[T any](dst *T, a chromedp.Action[T]) step {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*dst = v
		return chromedp.Void{}, err
	}
}

// screenshot saves the page as a PNG in the test's artifact directory
// (kept with go test -artifacts) and returns its path.
func (b *browser) screenshot(name string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "none: " + err.Error()
	}
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(name))
	path := filepath.Join(b.t.ArtifactDir(), clean+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "none: " + err.Error()
	}
	return path
}

// login logs in with token and waits for the role badge.
func (b *browser) login(token, role string) {
	b.t.Helper()
	b.run("login as "+role, 20*time.Second,
		chromedp.Navigate(b.base+"/#/fleet"),
		chromedp.WaitVisible(chromedp.ID("token")))
	b.checkNames("the login page")
	b.run("login as "+role, 20*time.Second,
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("login")),
		waitText("#who", "role: "+role))
}

// waitText waits until the text of the element sel contains want.
func waitText(sel, want string) step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		var last string
		for {
			s, err := chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel))(ctx, t)
			if err == nil && strings.Contains(s, want) {
				return nil
			}
			last = s
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: text %q, want %q: %w", sel, last, want, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// waitTrue waits until the JavaScript expression is true.
func waitTrue(expr string) step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, t)
			if err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// checkNames fails the test for each control of the page shown that has
// no accessible name: no aria-label, no label, no text.
func (b *browser) checkNames(where string) {
	b.t.Helper()
	var unnamed []string
	b.run("accessible names", 10*time.Second, into(&unnamed, chromedp.Evaluate[[]string](`[...document.querySelectorAll('button, input, select, textarea')].filter(e =>
		!(e.getAttribute('aria-label') || (e.id && document.querySelector('label[for="' + CSS.escape(e.id) + '"]')) || e.closest('label') || (e.textContent || '').trim() || e.type === 'hidden'))
		.map(e => e.outerHTML.slice(0, 80))`)))
	if len(unnamed) > 0 {
		b.t.Errorf("%s: controls without an accessible name: %v", where, unnamed)
	}
}

// fill replaces the text of the input sel by typing v over it.
func fill(sel, v string) step {
	return chromedp.Steps(
		chromedp.Focus(chromedp.CSS(sel)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(e => (e.select(), true))(document.querySelector(%q))`, sel))(ctx, t)
			return err
		}),
		chromedp.SendKeys(chromedp.CSS(sel), v))
}

// count stores the number of elements matching sel in *n.
func count(sel string, n *int) step {
	return into(n, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
}

// TestWebUI drives the controller's web UI, served by `usp up --lab` with
// a simulated fleet, in headless Chromium: a viewer sees no write
// controls and the API refuses its writes; an operator filters the fleet,
// browses the local agent's data model to a parameter, edits it and reads
// it back, watches it and sees a ValueChange arrive live, runs IPPing()
// and sees its OperationComplete, reads the raw exchange and the charts,
// and runs a job over a group when the controller has the fleet API.
// With USP_UPDATE_DOCS=1 it writes docs/webui-agent.png.
func TestWebUI(t *testing.T) {
	// Skipped loudly without chromium (failed with USP_REQUIRE_EXTERNAL=1).
	chromium := testenv.LookPath(t, "chromium", "chromium")
	bin := buildUSP(t)
	data := t.TempDir()
	tokens, _ := json.Marshal(map[string]string{uiAdminToken: "admin", uiOperatorToken: "operator", uiViewerToken: "viewer"})
	if err := os.WriteFile(filepath.Join(data, "tokens.json"), tokens, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "admin.token"), []byte(uiAdminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	up := startUSP(t, bin, "up", "--lab", "--data", data, "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
	base := up.lines["api"]
	agentID := strings.Fields(up.lines["agent"])[0]
	const n = 12
	sim := exec.Command(bin, "sim", "--n", fmt.Sprint(n), "--ws", strings.Fields(up.lines["websocket"])[0], "--controller", strings.Fields(up.lines["controller"])[0],
		"--prefix", "os::012345-UISIM", "--bulkdata", base, "--bulkdata-key", filepath.Join(data, "bulkdata.key"), "--bulkdata-interval", "500ms")
	sim.Stderr = os.Stderr
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sim.ProcessState == nil {
			interrupt(sim, 10*time.Second)
		}
	})
	api := &restAPI{base: base, token: uiAdminToken}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body := api.call(t, "GET", "/api/v1/agents?online=true&q=UISIM", nil)
		var list struct{ Total int }
		json.Unmarshal([]byte(body), &list)
		if list.Total == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d simulated agents online", list.Total, n)
		}
	}

	// The page and its assets carry a Content-Security-Policy of 'self'.
	for _, p := range []string{"/", "/ui/js/app.js", "/ui/style.css"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != 200 || !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "http") {
			t.Errorf("GET %s: %d, CSP %q", p, resp.StatusCode, csp)
		}
	}

	b := startBrowser(t, chromium, base)
	agentURL := base + "/#/agent/" + agentID

	// A viewer: browses the data model read-only, no write control
	// anywhere, and the API refuses a write made with its token from the
	// page.
	b.login(uiViewerToken, "viewer")
	var writes int
	var refused float64
	viewerNode := func(p string) string { return fmt.Sprintf(`#dm-tree button.node[data-path=%q]`, p) }
	b.run("viewer's agent page", 20*time.Second,
		chromedp.Navigate(agentURL),
		chromedp.WaitVisible(chromedp.ID("dm-viewer")),
		chromedp.Click(chromedp.CSS(viewerNode("Device."))),
		chromedp.Click(chromedp.CSS(viewerNode("Device.DeviceInfo."))),
		chromedp.WaitVisible(chromedp.CSS(`#dm-detail td.value[data-path="Device.DeviceInfo.Manufacturer"]`)),
		chromedp.Sleep(300*time.Millisecond),
		count(".write", &writes),
		into(&refused, chromedp.Evaluate[float64](fmt.Sprintf(`fetch('/api/v1/agents/%s/set', {method: 'POST', headers: {Authorization: 'Bearer ' + sessionStorage.getItem('uspkit.token'), 'Content-Type': 'application/json'},
			body: JSON.stringify({objects: [{path: 'Device.IP.Diagnostics.UDPEchoConfig.', params: {UDPPort: '5'}}]})}).then(r => r.status)`, agentID), chromedp.EvalAwaitPromise)))
	if writes != 0 {
		t.Errorf("a viewer sees %d write controls on the agent page", writes)
	}
	for _, page := range []string{"#/fleet", "#/groups", "#/jobs"} {
		b.run("viewer's "+page, 20*time.Second, chromedp.Navigate(base+"/"+page), chromedp.WaitVisible(chromedp.CSS("main h1")), chromedp.Sleep(300*time.Millisecond),
			count(".write", &writes))
		if writes != 0 {
			t.Errorf("a viewer sees %d write controls on %s", writes, page)
		}
	}
	if refused != http.StatusForbidden {
		t.Errorf("a viewer's Set from the page: HTTP %v, want 403", refused)
	}
	b.run("log out", 10*time.Second, chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("token")))

	// An operator filters the fleet.
	b.login(uiOperatorToken, "operator")
	var rows int
	b.run("filter the fleet", 20*time.Second,
		chromedp.Navigate(base+"/#/fleet"),
		chromedp.WaitVisible(chromedp.ID("agents")),
		chromedp.SendKeys(chromedp.ID("f-q"), "UISIM1"),
		chromedp.Click(chromedp.ID("filter")),
		waitTrue(`(document.querySelector("#agents caption")||{}).textContent === "3 agents"`), // UISIM1, UISIM10, UISIM11
		count("#agents tbody tr", &rows))
	if rows != 3 {
		t.Errorf("filtered fleet: %d rows, want 3", rows)
	}
	b.checkNames("the fleet page")
	// Pages of 5, and sorting by Endpoint ID the other way.
	var first string
	b.run("fleet pages and sort", 20*time.Second,
		chromedp.Navigate(base+"/#/fleet?q=UISIM&limit=5"),
		waitText("#page-range", "1–5 of 12"),
		chromedp.Click(chromedp.ID("page-next")),
		waitText("#page-range", "6–10 of 12"),
		count("#agents tbody tr", &rows),
		chromedp.Click(chromedp.CSS(`a[aria-label="Sort by Endpoint ID"]`)),
		waitTrue(`(document.querySelector("th[aria-sort=descending]")||{}).textContent?.includes("Endpoint ID")`),
		waitText("#page-range", "1–5 of 12"),
		into(&first, chromedp.Evaluate[string](`document.querySelector("#agents tbody a.agent-link").textContent`)))
	if rows != 5 || first != "os::012345-UISIM9" {
		t.Errorf("page 2: %d rows; sorted by Endpoint ID descending, first %q, want os::012345-UISIM9", rows, first)
	}

	// Open the local agent and browse to a parameter.
	param := "Device.IP.Diagnostics.UDPEchoConfig.UDPPort"
	node := func(p string) string { return fmt.Sprintf(`#dm-tree button.node[data-path=%q]`, p) }
	valueCell := fmt.Sprintf(`#dm-detail td.value[data-path=%q]`, param)
	b.run("browse to "+param, 40*time.Second,
		chromedp.Navigate(base+"/#/fleet?q="+strings.TrimPrefix(agentID, "os::")),
		chromedp.WaitVisible(chromedp.CSS("a.agent-link")),
		chromedp.Click(chromedp.CSS("a.agent-link")),
		waitText("#agent-id", agentID),
		chromedp.Click(chromedp.CSS(node("Device."))),
		chromedp.Click(chromedp.CSS(node("Device.IP."))),
		chromedp.Click(chromedp.CSS(node("Device.IP.Diagnostics."))),
		chromedp.Click(chromedp.CSS(node("Device.IP.Diagnostics.UDPEchoConfig."))),
		chromedp.WaitVisible(chromedp.CSS(valueCell)))

	// Edit it: a value that is not an unsignedInt is refused in the page,
	// a good one is set and read back.
	var invalid string
	b.run("edit "+param, 30*time.Second,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label="Edit %s"]`, param))),
		chromedp.WaitVisible(chromedp.CSS(valueCell+" input")),
		fill(valueCell+" input", "-5"),
		chromedp.Click(chromedp.CSS(valueCell+` button[type="submit"]`)),
		into(&invalid, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-invalid")`, valueCell+" input"))),
		fill(valueCell+" input", "777"),
		chromedp.Click(chromedp.CSS(valueCell+` button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(valueCell+`[data-saved="true"]`)),
		waitText(valueCell, "777"))
	if invalid != "true" {
		t.Errorf("-5 as an unsignedInt: aria-invalid %q", invalid)
	}
	api.usp(t, agentID, "get", map[string]any{"paths": []string{param}}, `"UDPPort":"777"`)

	// Watch it: a ValueChange subscription; a change made elsewhere
	// arrives in the live events.
	b.run("watch "+param, 20*time.Second,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label="Watch %s for value changes"]`, param))),
		waitText("#subs", param),
		waitText("#events-state", "live"))
	api.usp(t, agentID, "set", map[string]any{"objects": []map[string]any{{"path": "Device.IP.Diagnostics.UDPEchoConfig.", "params": map[string]string{"UDPPort": "778"}}}}, "778")
	b.run("ValueChange arrives", 20*time.Second, waitText("#events", "ValueChange "+param+" = 778"))

	// Pause holds events back until resumed.
	api.usp(t, agentID, "set", map[string]any{"objects": []map[string]any{{"path": "Device.IP.Diagnostics.UDPEchoConfig.", "params": map[string]string{"UDPPort": "779"}}}}, "779")
	b.run("pause", 20*time.Second, waitText("#events", "= 779"), chromedp.Click(chromedp.ID("events-pause")), waitText("#events-state", "paused"))
	api.usp(t, agentID, "set", map[string]any{"objects": []map[string]any{{"path": "Device.IP.Diagnostics.UDPEchoConfig.", "params": map[string]string{"UDPPort": "780"}}}}, "780")
	var paused string
	b.run("paused", 20*time.Second, waitText("#events-state", "waiting)"), into(&paused, chromedp.TextContent(chromedp.ID("events"))))
	if strings.Contains(paused, "= 780") {
		t.Errorf("a paused list shows a new event")
	}
	b.run("resume", 20*time.Second, chromedp.Click(chromedp.ID("events-pause")), waitText("#events", "= 780"))

	// Add an instance to a writable table, then delete it.
	subs := "Device.LocalAgent.Subscription."
	var added string
	b.run("add an instance", 30*time.Second,
		chromedp.Click(chromedp.CSS(node("Device.LocalAgent."))),
		chromedp.Click(chromedp.CSS(node(subs))),
		chromedp.WaitVisible(chromedp.ID("dm-add-params")),
		chromedp.SendKeys(chromedp.ID("dm-add-params"), "ID=ui-added\nNotifType=ValueChange\nReferenceList=Device.DeviceInfo.UpTime"),
		chromedp.Click(chromedp.ID("dm-add")),
		waitText("#status", "Added "+subs),
		into(&added, chromedp.Evaluate[string](`document.getElementById("status").textContent.replace("Added ", "")`)),
		waitText("#dm-instances", subs))
	code, body := api.call(t, "POST", "/api/v1/agents/"+agentID+"/get", map[string]any{"paths": []string{added + "ID"}})
	if code != 200 || !strings.Contains(body, "ui-added") {
		t.Fatalf("the added instance %s: %d %s", added, code, body)
	}
	b.run("delete the instance", 30*time.Second,
		into(new(bool), chromedp.Evaluate[bool](`window.confirm = () => true, true`)),
		chromedp.Click(chromedp.CSS(node(added))),
		chromedp.WaitVisible(chromedp.ID("dm-delete")),
		chromedp.Click(chromedp.ID("dm-delete")),
		waitText("#status", "Deleted "+added))
	if code, body := api.call(t, "POST", "/api/v1/agents/"+agentID+"/instances", map[string]any{"paths": []string{subs}}); code != 200 || strings.Contains(body, `"`+added+`"`) {
		t.Errorf("after the delete: %d %s", code, body)
	}

	// Run an asynchronous command and see its OperationComplete.
	ping := "Device.IP.Diagnostics.IPPing()"
	b.run("run "+ping, 60*time.Second,
		chromedp.Click(chromedp.CSS(node("Device.IP.Diagnostics."))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label="Run %s…"]`, ping))),
		chromedp.SendKeys(chromedp.CSS(`form[aria-label="Run `+ping+`"] input[name="Host"]`), "127.0.0.1"),
		chromedp.SendKeys(chromedp.CSS(`form[aria-label="Run `+ping+`"] input[name="ProtocolVersion"]`), "IPv4"),
		chromedp.SendKeys(chromedp.CSS(`form[aria-label="Run `+ping+`"] input[name="NumberOfRepetitions"]`), "2"),
		chromedp.SendKeys(chromedp.CSS(`form[aria-label="Run `+ping+`"] input[name="Timeout"]`), "1000"),
		chromedp.SendKeys(chromedp.CSS(`form[aria-label="Run `+ping+`"] input[name="DataBlockSize"]`), "64"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label="Run %s now"]`, ping))),
		waitText(".op-done", ping+" complete"),
		waitText(".op-done", "SuccessCount"))
	var succ string
	b.run("ping output", 10*time.Second, into(&succ, chromedp.Evaluate[string](`[...document.querySelectorAll('.op-done tr')].map(r => r.textContent).join('|')`)))
	if !strings.Contains(succ, "SuccessCount2") {
		t.Errorf("IPPing() output %q, want SuccessCount 2", succ)
	}
	b.checkNames("the agent page with a command's form open")

	// The raw exchange shows the Records of what was just done.
	b.run("exchange", 20*time.Second, chromedp.Click(chromedp.ID("exchange-load")), waitText("#exchange", "OPERATE"))

	// The editor's check of each TR-106 type, in the page's own module.
	checks := []struct {
		typ, value string
		valid      bool
	}{
		{"boolean", "true", true}, {"boolean", "0", true}, {"boolean", "yes", false},
		{"int", "-2147483648", true}, {"int", "2147483648", false}, {"int", "1.5", false},
		{"unsignedInt", "4294967295", true}, {"unsignedInt", "4294967296", false}, {"unsignedInt", "-1", false},
		{"long", "-9223372036854775808", true}, {"long", "9223372036854775808", false},
		{"unsignedLong", "18446744073709551615", true}, {"unsignedLong", "18446744073709551616", false},
		{"decimal", "-1.25", true}, {"decimal", "1e3", false},
		{"dateTime", "2026-01-31T12:00:00Z", true}, {"dateTime", "0001-01-01T00:00:00Z", true}, {"dateTime", "2026-01-31T12:00:00.123456+01:00", true},
		{"dateTime", "2026-13-01T00:00:00Z", false}, {"dateTime", "yesterday", false},
		{"hexBinary", "00ff", true}, {"hexBinary", "0f0", false},
		{"base64", "AAEC", true}, {"base64", "AAE", false},
		{"string", "anything at all", true},
	}
	for _, c := range checks {
		var why string
		b.run("type check", 10*time.Second, into(&why, chromedp.Evaluate[string](
			fmt.Sprintf(`import('/ui/js/usp.js').then(m => m.checkValue(%q, %q))`, c.typ, c.value), chromedp.EvalAwaitPromise)))
		if (why == "") != c.valid {
			t.Errorf("%s %q: valid %v (%q), want %v", c.typ, c.value, why == "", why, c.valid)
		}
	}

	// Tag the agent; the fleet filters by tag.
	b.run("tags", 30*time.Second,
		fill("#tags-input", "lab, webui"),
		chromedp.Click(chromedp.ID("tags-save")),
		waitText("#agent-tags", "saved"),
		chromedp.Navigate(base+"/#/fleet?tag=webui"),
		waitTrue(`(document.querySelector("#agents caption")||{}).textContent === "1 agent"`),
		waitText("#agents tbody", agentID),
		waitText("#agents tbody", "webui"),
		chromedp.Navigate(agentURL),
		chromedp.WaitVisible(chromedp.ID("dm-tree")))

	if os.Getenv("USP_UPDATE_DOCS") == "1" {
		var png []byte
		b.run("docs screenshot", 20*time.Second,
			chromedp.Click(chromedp.CSS(node("Device."))),
			chromedp.Click(chromedp.CSS(node("Device.IP."))),
			chromedp.Click(chromedp.CSS(node("Device.IP.Diagnostics."))),
			chromedp.Click(chromedp.CSS(node("Device.IP.Diagnostics.UDPEchoConfig."))),
			chromedp.WaitVisible(chromedp.CSS(valueCell)),
			chromedp.EmulateViewport(1280, 760),
			into(new(bool), chromedp.Evaluate[bool](`window.scrollTo(0, document.getElementById("h-dm").getBoundingClientRect().top + window.scrollY - 12), true`)),
			chromedp.Sleep(200*time.Millisecond),
			into(&png, chromedp.CaptureScreenshot()),
			chromedp.EmulateViewport(1280, 800))
		if err := os.WriteFile("../../docs/webui-agent.png", png, 0o644); err != nil {
			t.Error(err)
		}
	}

	// The tree by keyboard: right expands, down moves, Enter opens.
	var focused string
	b.run("tree by keyboard", 30*time.Second,
		chromedp.Navigate(agentURL),
		chromedp.WaitVisible(chromedp.CSS(node("Device."))),
		chromedp.Focus(chromedp.CSS(node("Device."))),
		chromedp.KeyEvent(kb.ArrowRight),
		chromedp.WaitVisible(chromedp.CSS(node("Device.DeviceInfo."))),
		chromedp.KeyEvent(kb.ArrowDown),
		into(&focused, chromedp.Evaluate[string](`document.activeElement.dataset.path || ""`)),
		chromedp.KeyEvent(kb.Enter),
		waitTrue(`(document.getElementById("dm-object")||{}).textContent === document.activeElement.dataset.path`))
	if !strings.HasPrefix(focused, "Device.") || focused == "Device." {
		t.Errorf("ArrowDown from Device. focused %q, want its first child", focused)
	}

	// Phone width: the agent page fits without sideways scrolling.
	var wide bool
	b.run("phone width", 20*time.Second,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(agentURL),
		chromedp.WaitVisible(chromedp.ID("dm-tree")),
		into(&wide, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)))
	shot := b.screenshot("phone") // kept with go test -artifacts
	if wide {
		t.Errorf("the agent page is wider than a 390 px screen (screenshot %s)", shot)
	}
	b.run("desktop width", 10*time.Second, chromedp.EmulateViewport(1280, 800))

	// Every control has an accessible name.
	b.checkNames("the agent page")

	// The charts page plots the controller's figures.
	b.run("charts", 20*time.Second, chromedp.Navigate(base+"/#/charts"), chromedp.WaitVisible(chromedp.CSS("#chart-online svg path.series")),
		waitText("#figures", "Online"))
	b.checkNames("the charts page")

	// The fleet's events page: a change on the local agent arrives live,
	// with a link to the agent.
	b.run("events page", 20*time.Second, chromedp.Navigate(base+"/#/events"), waitText("#events-state", "live"))
	api.usp(t, agentID, "set", map[string]any{"objects": []map[string]any{{"path": "Device.IP.Diagnostics.UDPEchoConfig.", "params": map[string]string{"UDPPort": "781"}}}}, "781")
	b.run("fleet event arrives", 20*time.Second, waitText("#events", "= 781"),
		waitTrue(fmt.Sprintf(`[...document.querySelectorAll("#events a")].some(a => a.textContent === %q)`, agentID)))
	b.checkNames("the events page")

	// A simulated agent's Bulk Data reports are plotted on its page.
	b.run("telemetry chart", 30*time.Second,
		chromedp.Navigate(base+"/#/agent/"+url.PathEscape("os::012345-UISIM0")),
		chromedp.WaitVisible(chromedp.CSS("#telemetry svg .series")),
		waitTrue(`document.querySelectorAll("#tel-param option").length > 0`))

	webUIJob(t, b, api)

	// Agents going offline turn offline in the list shown, without a
	// reload; an offline agent's page reads nothing by itself.
	b.run("fleet before", 20*time.Second,
		chromedp.Navigate(base+"/#/fleet?q=UISIM1"),
		waitTrue(`(document.querySelector("#agents caption")||{}).textContent === "3 agents"`),
		waitTrue(`document.querySelectorAll("#agents .badge.on").length === 3`),
		waitText("#fleet-live", "live"))
	if err, inTime := interrupt(sim, 10*time.Second); !inTime {
		t.Errorf("usp sim did not stop: %v", err)
	}
	b.run("fleet after", 30*time.Second,
		waitTrue(`document.querySelectorAll("#agents .badge.off").length === 3`),
		chromedp.Click(chromedp.CSS("a.agent-link")),
		waitText("#agent-state", "offline"),
		waitText("#subs", "offline"))

	b.mu.Lock()
	defer b.mu.Unlock()
	for _, u := range b.requests {
		if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("request to another origin: %s", u)
		}
	}
	for _, e := range b.errors {
		t.Errorf("JavaScript: %s", e)
	}
}

// TestControllerServesWebUI: `usp controller` serves the web UI at / of its
// API address, with the Content-Security-Policy, next to the API.
func TestControllerServesWebUI(t *testing.T) {
	bin := buildUSP(t)
	dir := t.TempDir()
	ctl := startConfigured(t, bin, "controller", dir, "ctl.yaml", fmt.Sprintf(embeddedFleetController, filepath.Join(dir, "ctl")))
	api := apiOf(t, ctl)
	for _, tc := range []struct {
		path, want string
		csp        bool
	}{{"/", `src="/ui/js/app.js"`, true}, {"/ui/js/agent.js", "export async function agentPage", true}, {"/healthz", "ok", false}} {
		resp, err := http.Get(api.base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), tc.want) || (resp.Header.Get("Content-Security-Policy") != "") != tc.csp {
			t.Errorf("GET %s: %d, CSP %q, %.80q", tc.path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"), b)
		}
	}
	if code, body := api.call(t, "GET", "/api/v1/whoami", nil); code != 200 || !strings.Contains(body, `"admin"`) {
		t.Errorf("whoami: %d %s", code, body)
	}
}

// webUIJob creates a group of the simulated agents in the UI, starts a job
// over it and waits until every agent is done. It is skipped, saying so,
// when the controller has no groups API.
func webUIJob(t *testing.T, b *browser, api *restAPI) {
	if code, _ := api.call(t, "GET", "/api/v1/groups", nil); code == http.StatusNotFound {
		t.Log("SKIP job over a group: GET /api/v1/groups answers 404 (no fleet API in this controller)")
		return
	}
	b.run("create a group", 30*time.Second,
		chromedp.Navigate(b.base+"/#/groups"),
		chromedp.WaitVisible(chromedp.ID("g-name")),
		chromedp.SendKeys(chromedp.ID("g-name"), "uisim"),
		chromedp.SendKeys(chromedp.ID("g-q"), "UISIM"),
		chromedp.Click(chromedp.ID("g-create")),
		chromedp.WaitVisible(chromedp.Search(`//table[@id="groups"]//a[text()="uisim"]`)),
		chromedp.Click(chromedp.Search(`//table[@id="groups"]//a[text()="uisim"]`)),
		chromedp.WaitVisible(chromedp.ID("job-form")),
		chromedp.WaitVisible(chromedp.CSS("#group-members li")))
	b.checkNames("a group's page")
	b.run("start a job", 30*time.Second,
		chromedp.SendKeys(chromedp.ID("j-path"), "Device.DeviceInfo.SoftwareVersion"),
		chromedp.Click(chromedp.ID("j-start")),
		chromedp.WaitVisible(chromedp.ID("job-progress")))
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, waitTrue(`(p => p && p.value > 0 && p.value === p.max)(document.getElementById('job-progress'))`),
		waitText("#job-state", "completed"), waitText("#job-results", "UISIM"))
	if err != nil {
		_, jobs := api.call(t, "GET", "/api/v1/jobs", nil)
		t.Fatalf("job completes: %v (screenshot %s); the API's jobs: %s", err, b.screenshot("job"), jobs)
	}
	var members int
	b.run("jobs page", 20*time.Second, chromedp.Navigate(b.base+"/#/jobs"), waitText("#jobs", "completed"), waitText("#jobs", "12 of 12 done"),
		chromedp.WaitVisible(chromedp.ID("j-group")))
	b.checkNames("the jobs page")
	b.run("group members", 20*time.Second, chromedp.Navigate(b.base+"/#/groups"), chromedp.WaitVisible(chromedp.ID("groups")),
		chromedp.Click(chromedp.Search(`//table[@id="groups"]//a[text()="uisim"]`)), chromedp.WaitVisible(chromedp.CSS("#group-members li")),
		count("#group-members li", &members))
	if members != 12 {
		t.Errorf("group uisim (Endpoint ID contains UISIM): %d members, want 12", members)
	}
	// A job on agents picked in the fleet list.
	b.run("job on selected agents", 60*time.Second,
		chromedp.Navigate(b.base+"/#/fleet?q=UISIM1"),
		waitTrue(`(document.querySelector("#agents caption")||{}).textContent === "3 agents"`),
		chromedp.Click(chromedp.ID("select-all")),
		chromedp.Click(chromedp.ID("job-selected")),
		chromedp.WaitVisible(chromedp.ID("j-path")),
		chromedp.SendKeys(chromedp.ID("j-path"), "Device.DeviceInfo.SoftwareVersion"),
		chromedp.Click(chromedp.ID("j-start")),
		chromedp.WaitVisible(chromedp.ID("job-progress")),
		waitText("#job-state", "completed"),
		waitText(".progress-text", "3 of 3 done, 0 failed"))
}
