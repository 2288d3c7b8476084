//go:build !usp_device

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/api"
)

// campaignFlags are the flags `usp firmware upgrade` and `usp software
// install` share: where the file is, whom to upgrade, how to roll out.
type campaignFlags struct {
	url, file, group, name     string
	user, pass                 string
	canary, wave, concurrency  int
	canaryPercent, maxFailRate float64
	timeout                    time.Duration
	detach                     bool
	progressEvery              time.Duration
}

func (f *campaignFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "url", "", "the file's `URL` (HTTP or HTTPS), as the agents fetch it")
	fs.StringVar(&f.file, "file", "", "or a local `file` to upload to the controller's file store, which serves it to the agents")
	fs.StringVar(&f.group, "group", "", "instead of AGENT arguments: the registered agents whose Endpoint ID contains `G`, or, as KEY=VALUE, whose Device.DeviceInfo.KEY is VALUE")
	fs.StringVar(&f.name, "name", "", "a label for the campaign")
	fs.StringVar(&f.user, "username", "", "user name the agents fetch the file with")
	fs.StringVar(&f.pass, "password", "", "password the agents fetch the file with")
	fs.IntVar(&f.canary, "canary", 0, "size of the first stage (0: no canary)")
	fs.Float64Var(&f.canaryPercent, "canary-percent", 0, "or the first stage as a percentage of the agents")
	fs.IntVar(&f.wave, "wave", 0, "size of each later stage (0: all the rest at once)")
	fs.IntVar(&f.concurrency, "concurrency", 0, "agents upgraded at once (0: 50)")
	fs.Float64Var(&f.maxFailRate, "max-failure-rate", 0, "pause when more than this share (0-1) of the agents finished since the start or last resume failed (0: never; -1: at the first failure)")
	fs.DurationVar(&f.timeout, "timeout", 0, "how long one agent may take (0: 30m)")
	fs.BoolVar(&f.detach, "detach", false, "print the campaign's ID and return at once instead of following it")
	f.progressEvery = 500 * time.Millisecond
}

// spec builds the campaign from the flags and AGENT arguments; a --file is
// uploaded first.
func (f *campaignFlags) spec(ctx context.Context, c *apiClient, kind string, agents []string) (api.CampaignBody, error) {
	var b api.CampaignBody
	if (f.url == "") == (f.file == "") {
		return b, fmt.Errorf("%w: give --url or --file", errUsage)
	}
	if (len(agents) == 0) == (f.group == "") {
		return b, fmt.Errorf("%w: give AGENT arguments or --group", errUsage)
	}
	b.Kind, b.Name, b.Agents, b.URL, b.Username, b.Password = kind, f.name, agents, f.url, f.user, f.pass
	if f.group != "" {
		sel := &controller.Selector{}
		if k, v, ok := strings.Cut(f.group, "="); ok {
			sel.Info = map[string]string{k: v}
		} else {
			sel.Match = f.group
		}
		b.Selector = sel
	}
	b.Rollout = controller.Rollout{Canary: f.canary, CanaryPercent: f.canaryPercent, Wave: f.wave, Concurrency: f.concurrency,
		MaxFailureRate: f.maxFailRate, Timeout: controller.Duration(f.timeout)}
	if f.file != "" {
		id, err := c.upload(ctx, f.file)
		if err != nil {
			return b, err
		}
		b.File = id
	}
	return b, nil
}

// upload sends a file to the controller's file store and returns its ID.
func (c *apiClient) upload(ctx context.Context, path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(c.server, "/")+"/api/v1/files?name="+url.QueryEscape(filepath.Base(path)), fh)
	if err != nil {
		return "", err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	json.Unmarshal(b, &out)
	if resp.StatusCode != http.StatusCreated {
		return "", &httpError{status: resp.StatusCode, message: cmp(out.Error, strings.TrimSpace(string(b)))}
	}
	return out.ID, nil
}

// subcommand handles the one subcommand of a verb ("firmware upgrade"):
// -h prints the usage, flags given without the subcommand are the
// subcommand's, anything else is a usage error. It returns the arguments
// starting with the subcommand, and done when there is nothing more to do.
func subcommand(e *env, args []string, verb, usage string) ([]string, bool, error) {
	_, sub, _ := strings.Cut(verb, " ")
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintf(e.stdout, "Usage: usp %s %s  (usp %s -h for the flags)\n", verb, usage, verb)
		return nil, true, nil
	}
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		args = append([]string{sub}, args...)
	}
	if len(args) == 0 || args[0] != sub {
		return nil, false, fmt.Errorf("%w: usp %s %s", errUsage, verb, usage)
	}
	return args, false, nil
}

func runFirmware(ctx context.Context, e *env, args []string) error {
	args, done, err := subcommand(e, args, "firmware upgrade", "--url URL|--file FILE [--checksum ALG:HEX] [--activate] AGENT...|--group G")
	if done || err != nil {
		return err
	}
	fs := newFlags(e, "firmware upgrade", "AGENT...")
	mk := clientFlags(fs)
	var cf campaignFlags
	cf.add(fs)
	checksum := fs.String("checksum", "", "the image's checksum as `ALG:HEX` (ALG: SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512); with --file, the file store's SHA-256")
	size := fs.Uint64("size", 0, "the image's size in bytes, handed to Download() as FileSize")
	activate := fs.Bool("activate", false, "activate the image once downloaded (Activate()); the agent reboots into it")
	auto := fs.Bool("auto-activate", false, "let the agent activate the image itself (Download()'s AutoActivate)")
	version := fs.String("version", "", "the SoftwareVersion the upgraded agents report; agents already at it succeed at once")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	b, err := cf.spec(ctx, c, controller.KindFirmware, fs.Args())
	if err != nil {
		return err
	}
	if *checksum != "" {
		alg, sum, ok := strings.Cut(*checksum, ":")
		if !ok || sum == "" {
			return fmt.Errorf("%w: --checksum %q: want ALG:HEX", errUsage, *checksum)
		}
		if b.File != "" {
			return fmt.Errorf("%w: --checksum goes with --url; the file store computes the SHA-256 of --file", errUsage)
		}
		b.CheckSumAlgorithm, b.CheckSum = strings.ToUpper(alg), sum
	}
	b.FileSize, b.Activate, b.AutoActivate, b.Version = *size, *activate, *auto, *version
	return runCampaign(ctx, e, c, &cf, b)
}

func runSoftware(ctx context.Context, e *env, args []string) error {
	args, done, err := subcommand(e, args, "software install", "--url URL|--file FILE AGENT...|--group G")
	if done || err != nil {
		return err
	}
	fs := newFlags(e, "software install", "AGENT...")
	mk := clientFlags(fs)
	var cf campaignFlags
	cf.add(fs)
	uuid := fs.String("uuid", "", "the Deployment Unit's UUID (InstallDU()'s UUID)")
	ee := fs.String("ee", "", "the execution environment to install into (InstallDU()'s ExecutionEnvRef, a Device.SoftwareModules.ExecEnv.{i}. path)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	b, err := cf.spec(ctx, c, controller.KindSoftware, fs.Args())
	if err != nil {
		return err
	}
	b.UUID, b.ExecutionEnvRef = *uuid, *ee
	return runCampaign(ctx, e, c, &cf, b)
}

// runCampaign creates the campaign and follows it to its end.
func runCampaign(ctx context.Context, e *env, c *apiClient, cf *campaignFlags, b api.CampaignBody) error {
	out, err := c.do(ctx, "POST", "/api/v1/campaigns", b)
	if err != nil {
		return err
	}
	var x controller.Campaign
	if err := json.Unmarshal(out, &x); err != nil {
		return err
	}
	if cf.detach {
		if c.json {
			e.stdout.Write(out)
			return nil
		}
		fmt.Fprintf(e.stdout, "campaign %s: %d agents\n", x.ID, x.Counts.Total)
		return nil
	}
	return followCampaign(ctx, e, c, x.ID, cf.progressEvery)
}

// followCampaign shows a campaign's progress until it completes, is
// aborted or pauses: on a terminal a display redrawn in place, else one
// line per change; with --json only the final campaign. It fails (exit
// status 1) unless every agent succeeded.
func followCampaign(ctx context.Context, e *env, c *apiClient, id string, every time.Duration) error {
	tty := isTerminal(e.stdout)
	var prev *controller.Campaign
	drawn := 0
	for {
		out, err := c.do(ctx, "GET", "/api/v1/campaigns/"+url.PathEscape(id), nil)
		if err != nil {
			return err
		}
		var x controller.Campaign
		if err := json.Unmarshal(out, &x); err != nil {
			return err
		}
		switch {
		case c.json:
		case tty:
			drawn = drawCampaign(e.stdout, &x, drawn)
		default:
			printChanges(e.stdout, prev, &x)
		}
		prev = &x
		if x.State != controller.CampaignRunning {
			if c.json {
				e.stdout.Write(out)
			}
			err := campaignOutcome(&x)
			var failed errFailed
			if errors.As(err, &failed) {
				fmt.Fprintf(e.stderr, "usp: campaign %s: %s\n", x.ID, failed.summary)
			}
			return err
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(e.stderr, "campaign %s goes on in the controller (usp campaigns %s)\n", id, id)
			return nil
		case <-time.After(every):
		}
	}
}

func campaignOutcome(x *controller.Campaign) error {
	switch {
	case x.State == controller.CampaignPaused:
		return fmt.Errorf("campaign %s paused: %s (usp campaigns resume %s, or abort)", x.ID, x.Reason, x.ID)
	case x.State == controller.CampaignAborted:
		return fmt.Errorf("campaign %s aborted: %d succeeded, %d failed, %d aborted", x.ID, x.Counts.Succeeded, x.Counts.Failed, x.Counts.Aborted)
	case x.Counts.Failed > 0:
		return errFailed{summary: fmt.Sprintf("%d of %d agents failed", x.Counts.Failed, x.Counts.Total)}
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// printChanges prints one line per target whose state changed since prev,
// and one per change of the campaign's state or stage.
func printChanges(w io.Writer, prev, x *controller.Campaign) {
	if prev == nil {
		fmt.Fprintf(w, "campaign %s: %s of %d agents, stage %d (%d agents)\n", x.ID, x.Spec.Kind, x.Counts.Total, x.Stage, x.StageEnd)
	} else if prev.Stage != x.Stage {
		fmt.Fprintf(w, "stage %d (%d agents)\n", x.Stage, x.StageEnd)
	}
	for i, t := range x.Targets {
		old := ""
		if prev != nil && i < len(prev.Targets) {
			old = prev.Targets[i].State
		}
		if t.State == old || t.State == controller.TargetPending {
			continue
		}
		fmt.Fprintf(w, "%s %s%s\n", t.Agent, t.State, targetDetail(&t))
	}
	if prev == nil || prev.State != x.State {
		line := fmt.Sprintf("campaign %s %s: %d succeeded, %d failed, %d running, %d pending", x.ID, x.State,
			x.Counts.Succeeded, x.Counts.Failed, x.Counts.Running, x.Counts.Pending)
		if x.Reason != "" {
			line += " (" + x.Reason + ")"
		}
		fmt.Fprintln(w, line)
	}
}

func targetDetail(t *controller.Target) string {
	switch {
	case t.State == controller.TargetFailed || t.State == controller.TargetAborted:
		return ": " + t.Reason
	case t.State == controller.TargetSucceeded && t.ToVersion != "":
		return " " + t.FromVersion + " -> " + t.ToVersion
	}
	return ""
}

// maxShown bounds the agents listed in the terminal display.
const maxShown = 12

// drawCampaign redraws the terminal display over the drawn lines of the
// last one and returns how many lines it drew: the state, a bar with the
// counts, and the agents running and failed (newest first, a few).
func drawCampaign(w io.Writer, x *controller.Campaign, drawn int) int {
	var lines []string
	head := fmt.Sprintf("campaign %s  %s  %s  stage %d (%d of %d agents)", x.ID, x.Spec.Kind, x.State, x.Stage, x.StageEnd, x.Counts.Total)
	if x.Reason != "" {
		head += "  " + x.Reason
	}
	lines = append(lines, head, bar(x, 40))
	var shown []controller.Target
	for _, t := range x.Targets {
		if t.State == controller.TargetRunning || t.State == controller.TargetFailed {
			shown = append(shown, t)
		}
	}
	slices.SortStableFunc(shown, func(a, b controller.Target) int { return cmpState(a.State, b.State) })
	for i, t := range shown {
		if i == maxShown {
			lines = append(lines, fmt.Sprintf("  … %d more", len(shown)-maxShown))
			break
		}
		lines = append(lines, fmt.Sprintf("  %-40s %-9s%s", t.Agent, t.State, targetDetail(&t)))
	}
	var sb strings.Builder
	if drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", drawn) // back to the first line drawn
	}
	for _, l := range lines {
		sb.WriteString("\x1b[2K" + l + "\n")
	}
	for range max(0, drawn-len(lines)) {
		sb.WriteString("\x1b[2K\n")
	}
	io.WriteString(w, sb.String())
	return max(drawn, len(lines))
}

func cmpState(a, b string) int {
	rank := func(s string) int {
		if s == controller.TargetRunning {
			return 0
		}
		return 1
	}
	return rank(a) - rank(b)
}

// bar draws the finished share of a campaign and its counts.
func bar(x *controller.Campaign, width int) string {
	n := x.Counts
	done := n.Succeeded + n.Failed + n.Aborted
	fill := 0
	if n.Total > 0 {
		fill = done * width / n.Total
	}
	return fmt.Sprintf("[%s%s] %d/%d  succeeded %d  failed %d  running %d  pending %d (offline %d)",
		strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, n.Total, n.Succeeded, n.Failed, n.Running, n.Pending, n.Offline)
}

// runCampaigns lists campaigns, shows one, or pauses, resumes or aborts
// one: usp campaigns [ID | pause ID | resume ID | abort ID | follow ID].
func runCampaigns(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "campaigns", "[ID | follow ID | pause ID | resume ID | abort ID]")
	mk := clientFlags(fs)
	rate := fs.Float64("max-failure-rate", -2, "with resume: a new maximum failure rate")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	a := fs.Args()
	switch {
	case len(a) == 0:
		b, err := c.do(ctx, "GET", "/api/v1/campaigns", nil)
		if err != nil {
			return err
		}
		if c.json {
			e.stdout.Write(b)
			return nil
		}
		var list struct{ Campaigns []controller.Campaign }
		json.Unmarshal(b, &list)
		for _, x := range list.Campaigns {
			n := x.Counts
			fmt.Fprintf(e.stdout, "%s %s %s %s %d/%d succeeded %d failed %d running %d pending\n", x.ID, x.Created.Format(time.RFC3339), x.Spec.Kind, x.State,
				n.Succeeded, n.Total, n.Failed, n.Running, n.Pending)
		}
		return nil
	case len(a) == 1:
		b, err := c.do(ctx, "GET", "/api/v1/campaigns/"+url.PathEscape(a[0]), nil)
		if err != nil {
			return err
		}
		if c.json {
			e.stdout.Write(b)
			return nil
		}
		var x controller.Campaign
		json.Unmarshal(b, &x)
		printChanges(e.stdout, nil, &x)
		return nil
	case len(a) == 2 && a[0] == "follow":
		return followCampaign(ctx, e, c, a[1], 500*time.Millisecond)
	case len(a) == 2 && (a[0] == "pause" || a[0] == "resume" || a[0] == "abort"):
		var body any
		if a[0] == "resume" && *rate != -2 {
			body = api.ResumeBody{MaxFailureRate: rate}
		}
		b, err := c.do(ctx, "POST", "/api/v1/campaigns/"+url.PathEscape(a[1])+"/"+a[0], body)
		if err != nil {
			return err
		}
		if c.json {
			e.stdout.Write(b)
			return nil
		}
		var x controller.Campaign
		json.Unmarshal(b, &x)
		fmt.Fprintf(e.stdout, "campaign %s %s\n", x.ID, x.State)
		return nil
	}
	return fmt.Errorf("%w: usp campaigns [ID | follow ID | pause ID | resume ID | abort ID]", errUsage)
}
