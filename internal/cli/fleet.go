//go:build !usp_device

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/api"
)

// searchFlags are the filters of `usp agents` and of a dynamic group.
type searchFlags struct {
	q, model, version, online, tag, group string
	seenBefore, seenAfter, param, value   string
	sort, order                           string
	limit, offset                         int
}

func (f *searchFlags) add(fs *flag.FlagSet, paging bool) {
	fs.StringVar(&f.q, "q", "", "Endpoint ID contains `TEXT`")
	fs.StringVar(&f.model, "model", "", "Device.DeviceInfo.ModelName is `M`")
	fs.StringVar(&f.version, "version", "", "Device.DeviceInfo.SoftwareVersion is `V`")
	fs.StringVar(&f.online, "online", "", "online state (`true` or false)")
	fs.StringVar(&f.tag, "tag", "", "carries tag `T`")
	fs.StringVar(&f.group, "group", "", "member of group `ID`")
	fs.StringVar(&f.seenBefore, "seen-before", "", "last heard from before `TIME` (RFC 3339)")
	fs.StringVar(&f.seenAfter, "seen-after", "", "last heard from after `TIME` (RFC 3339)")
	fs.StringVar(&f.param, "param", "", "a Device.DeviceInfo parameter `NAME` (Manufacturer, ModelName, SoftwareVersion, ProvisioningCode, SerialNumber…) whose value is --value")
	fs.StringVar(&f.value, "value", "", "the value of --param")
	if paging {
		fs.StringVar(&f.sort, "sort", "", "order by `KEY`: id (default), model, version, last_seen or online")
		fs.StringVar(&f.order, "order", "", "asc (default) or desc")
		fs.IntVar(&f.limit, "limit", 0, "at most `N` agents (0: the API's 100)")
		fs.IntVar(&f.offset, "offset", 0, "skip `N` agents")
	}
}

// query returns the URL query of the flags.
func (f *searchFlags) query() string {
	v := url.Values{}
	for k, s := range map[string]string{"q": f.q, "model": f.model, "version": f.version, "online": f.online, "tag": f.tag, "group": f.group,
		"seen_before": f.seenBefore, "seen_after": f.seenAfter, "param": f.param, "value": f.value, "sort": f.sort, "order": f.order} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.limit > 0 {
		v.Set("limit", strconv.Itoa(f.limit))
	}
	if f.offset > 0 {
		v.Set("offset", strconv.Itoa(f.offset))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// filter returns the flags as a group's filter.
func (f *searchFlags) filter() (*controller.AgentFilter, error) {
	x := &controller.AgentFilter{Q: f.q, Model: f.model, Version: f.version, Tag: f.tag, Group: f.group, Param: f.param, Value: f.value}
	if f.online != "" {
		b, err := strconv.ParseBool(f.online)
		if err != nil {
			return nil, fmt.Errorf("%w: --online %q: want true or false", errUsage, f.online)
		}
		x.Online = &b
	}
	for _, t := range []struct {
		s  string
		to *time.Time
	}{{f.seenBefore, &x.SeenBefore}, {f.seenAfter, &x.SeenAfter}} {
		if t.s != "" {
			at, err := time.Parse(time.RFC3339, t.s)
			if err != nil {
				return nil, fmt.Errorf("%w: %q: want an RFC 3339 time", errUsage, t.s)
			}
			*t.to = at
		}
	}
	return x, nil
}

// parseAll parses flags that may come before, between and after the
// positional arguments, and returns those.
func parseAll(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for range len(args) + 1 {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return pos, nil
}

// agentsQuery reads the search flags of `usp agents` and returns the
// path to list.
func agentsQuery(e *env, args []string) (*apiClient, string, error) {
	fs := newFlags(e, "agents", "")
	mk := clientFlags(fs)
	var sf searchFlags
	sf.add(fs, true)
	if err := parse(fs, args); err != nil {
		return nil, "", err
	}
	if fs.NArg() > 0 {
		return nil, "", fmt.Errorf("%w: usp agents takes flags only (got %q)", errUsage, fs.Arg(0))
	}
	c, err := mk()
	if err != nil {
		return nil, "", err
	}
	return c, "/api/v1/agents" + sf.query(), nil
}

// listAgents lists agents: `usp agents [filters]`; it returns false when
// the list was printed as JSON.
func listAgents(ctx context.Context, e *env, args []string, list any) (bool, error) {
	c, path, err := agentsQuery(e, args)
	if err != nil {
		return false, err
	}
	b, err := c.do(ctx, "GET", path, nil)
	if err != nil {
		return false, err
	}
	if c.json {
		_, err := e.stdout.Write(b)
		return false, err
	}
	return true, json.Unmarshal(b, list)
}

// tagsSuffix is the end of an agent's line in `usp agents`.
func tagsSuffix(a *controller.Agent) string {
	if len(a.Tags) == 0 {
		return ""
	}
	return " tags=" + strings.Join(a.Tags, ",")
}

// runTag: usp tag AGENT [TAG...] replaces an agent's tags (none clears
// them).
func runTag(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "tag", "AGENT [TAG...]")
	mk := clientFlags(fs)
	pos, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return fmt.Errorf("%w: usp tag AGENT [TAG...]", errUsage)
	}
	c, err := mk()
	if err != nil {
		return err
	}
	tags := pos[1:]
	if tags == nil {
		tags = []string{}
	}
	b, err := c.do(ctx, "PUT", "/api/v1/agents/"+url.PathEscape(pos[0])+"/tags", api.TagsBody{Tags: tags})
	if err != nil {
		return err
	}
	if c.json {
		_, err := e.stdout.Write(b)
		return err
	}
	var a controller.Agent
	json.Unmarshal(b, &a)
	fmt.Fprintf(e.stdout, "%s tags=%s\n", a.ID, strings.Join(a.Tags, ","))
	return nil
}

// runGroups: usp groups [create|delete|members].
func runGroups(ctx context.Context, e *env, args []string) error {
	const usage = "[create [--id ID] --name NAME (AGENT... | FILTER FLAGS) | delete ID | members ID]"
	fs := newFlags(e, "groups", usage)
	mk := clientFlags(fs)
	id := fs.String("id", "", "with create: the group's `ID` (default: generated)")
	name := fs.String("name", "", "with create: the group's `NAME`")
	var sf searchFlags
	sf.add(fs, true)
	pos, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	verb := ""
	if len(pos) > 0 {
		verb = pos[0]
	}
	switch {
	case verb == "" || verb == "list":
		b, err := c.do(ctx, "GET", "/api/v1/groups", nil)
		if err != nil || c.json {
			e.stdout.Write(b)
			return err
		}
		var list struct{ Groups []controller.Group }
		json.Unmarshal(b, &list)
		for _, g := range list.Groups {
			fmt.Fprintf(e.stdout, "%s %q %s\n", g.ID, g.Name, groupDetail(&g))
		}
		return nil
	case verb == "create":
		g := api.GroupBody{ID: *id, Name: *name}
		if len(pos) > 1 {
			g.Static = pos[1:]
		} else if g.Filter, err = sf.filter(); err != nil {
			return err
		}
		b, err := c.do(ctx, "POST", "/api/v1/groups", g)
		if err != nil || c.json {
			e.stdout.Write(b)
			return err
		}
		json.Unmarshal(b, &g)
		fmt.Fprintf(e.stdout, "group %s created: %s\n", g.ID, groupDetail(&g))
		return nil
	case verb == "delete" && len(pos) == 2:
		if _, err := c.do(ctx, "DELETE", "/api/v1/groups/"+url.PathEscape(pos[1]), nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "group %s deleted\n", pos[1])
		return nil
	case verb == "members" && len(pos) == 2:
		b, err := c.do(ctx, "GET", "/api/v1/groups/"+url.PathEscape(pos[1])+"/agents"+sf.query(), nil)
		if err != nil || c.json {
			e.stdout.Write(b)
			return err
		}
		var list struct {
			Agents []controller.Agent
			Total  int
		}
		json.Unmarshal(b, &list)
		printAgents(e, list.Agents)
		if len(list.Agents) < list.Total {
			fmt.Fprintf(e.stderr, "%d of %d members shown (--limit, --offset)\n", len(list.Agents), list.Total)
		}
		return nil
	}
	return fmt.Errorf("%w: usp groups %s", errUsage, usage)
}

// groupDetail describes a group's members.
func groupDetail(g *controller.Group) string {
	if g.Filter == nil {
		return fmt.Sprintf("static, %d agents", len(g.Static))
	}
	b, _ := json.Marshal(g.Filter)
	return "filter " + string(b)
}

// printAgents prints one line per agent, as `usp agents` does.
func printAgents(e *env, agents []controller.Agent) {
	for _, a := range agents {
		state := "offline"
		if a.Online {
			state = "online"
		}
		fmt.Fprintf(e.stdout, "%s %s %s %s %s%s\n", a.ID, state, mtpLabel(a), a.LastSeen.Format(time.RFC3339), a.Info["ModelName"], tagsSuffix(&a))
	}
}

// jobRequest builds a job's request from KIND ARG...: get PATH..., set
// PATH=VALUE..., add OBJECT. [PARAM=VALUE...], delete OBJECT...,
// operate 'CMD()' [ARG=VALUE...], subscribe ID NOTIF_TYPE REFERENCE_LIST.
func jobRequest(args []string) (map[string]any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: give the request: KIND ARG... (get, set, add, delete, operate, subscribe)", errUsage)
	}
	kind, rest := args[0], args[1:]
	req := map[string]any{"kind": kind}
	need := func(n int, what string) error {
		if len(rest) < n {
			return fmt.Errorf("%w: %s needs %s", errUsage, kind, what)
		}
		return nil
	}
	switch kind {
	case "get", "delete":
		if err := need(1, "paths"); err != nil {
			return nil, err
		}
		req["paths"] = rest
	case "set":
		kv, err := kvArgs(rest)
		if err != nil || len(kv) == 0 {
			return nil, fmt.Errorf("%w: set needs PATH=VALUE arguments", errUsage)
		}
		objs := map[string]map[string]string{}
		for p, v := range kv {
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				return nil, fmt.Errorf("%w: %q is not a parameter path", errUsage, p)
			}
			if objs[p[:i+1]] == nil {
				objs[p[:i+1]] = map[string]string{}
			}
			objs[p[:i+1]][p[i+1:]] = v
		}
		var list []api.ObjectBody
		for o, params := range objs {
			list = append(list, api.ObjectBody{Path: o, Params: params})
		}
		req["objects"] = list
	case "add", "operate":
		if err := need(1, "an object or command"); err != nil {
			return nil, err
		}
		kv, err := kvArgs(rest[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		if kind == "add" {
			req["objects"] = []api.ObjectBody{{Path: rest[0], Params: kv}}
		} else {
			req["command"], req["args"] = rest[0], kv
		}
	case "subscribe":
		if err := need(3, "ID NOTIF_TYPE REFERENCE_LIST"); err != nil {
			return nil, err
		}
		req["id"], req["notif_type"], req["reference_list"] = rest[0], rest[1], rest[2]
	default:
		return nil, fmt.Errorf("%w: kind %q: want get, set, add, delete, operate or subscribe", errUsage, kind)
	}
	return req, nil
}

// runJobs: usp jobs [ID | start … | cancel ID | delete ID].
func runJobs(ctx context.Context, e *env, args []string) error {
	const usage = "[ID | start (--group ID | --agents A,B) [--wait] KIND ARG... | cancel ID | delete ID]\n" +
		"KIND ARG... is one of: get PATH... | set PATH=VALUE... | add OBJECT. [PARAM=VALUE...] | delete OBJECT... |\n" +
		"  operate 'CMD()' [ARG=VALUE...] | subscribe ID NOTIF_TYPE REFERENCE_LIST"
	fs := newFlags(e, "jobs", usage)
	mk := clientFlags(fs)
	group := fs.String("group", "", "with start: the group `ID` whose members are the targets")
	agents := fs.String("agents", "", "with start: the targets, as comma-separated Endpoint `IDs`")
	name := fs.String("name", "", "with start: a label for the job")
	conc := fs.Int("concurrency", 0, "with start: requests in flight at once (0: 50)")
	retry := fs.String("retry-for", "", "with start: how long offline agents are waited for (Go `duration`; default: the controller's queue TTL)")
	deadline := fs.String("deadline", "", "with start: or until when (RFC 3339 `TIME`)")
	wait := fs.Bool("wait", false, "with start: wait for the job's end; the exit status is 1 when an agent failed")
	pos, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	var req map[string]any
	if len(pos) > 0 && pos[0] == "start" {
		if req, err = jobRequest(pos[1:]); err != nil {
			return err
		}
	}
	c, err := mk()
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0 || pos[0] == "list":
		b, err := c.do(ctx, "GET", "/api/v1/jobs", nil)
		if err != nil || c.json {
			e.stdout.Write(b)
			return err
		}
		var list struct{ Jobs []controller.Job }
		json.Unmarshal(b, &list)
		for _, j := range list.Jobs {
			fmt.Fprintf(e.stdout, "%s %s %s %s %s\n", j.ID, j.Created.Format(time.RFC3339), j.Kind, j.State, countsLine(&j.Counts))
		}
		return nil
	case pos[0] == "start":
		raw, _ := json.Marshal(req)
		body := api.JobBody{Name: *name, Group: *group, Request: raw, Concurrency: *conc, RetryFor: *retry, Deadline: *deadline}
		if *agents != "" {
			body.Agents = strings.Split(*agents, ",")
		}
		b, err := c.do(ctx, "POST", "/api/v1/jobs", body)
		if err != nil {
			return err
		}
		var j controller.Job
		json.Unmarshal(b, &j)
		if !*wait {
			if c.json {
				e.stdout.Write(b)
				return nil
			}
			fmt.Fprintf(e.stdout, "job %s started: %d agents\n", j.ID, j.Counts.Total)
			return nil
		}
		return waitJob(ctx, e, c, j.ID)
	case pos[0] == "cancel" && len(pos) == 2:
		b, err := c.do(ctx, "POST", "/api/v1/jobs/"+url.PathEscape(pos[1])+"/cancel", nil)
		if err != nil || c.json {
			e.stdout.Write(b)
			return err
		}
		var j controller.Job
		json.Unmarshal(b, &j)
		fmt.Fprintf(e.stdout, "job %s %s: %s\n", j.ID, j.State, countsLine(&j.Counts))
		return nil
	case pos[0] == "delete" && len(pos) == 2:
		if _, err := c.do(ctx, "DELETE", "/api/v1/jobs/"+url.PathEscape(pos[1]), nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "job %s deleted\n", pos[1])
		return nil
	case len(pos) == 1 || pos[0] == "show" && len(pos) == 2:
		id := pos[len(pos)-1]
		b, err := c.do(ctx, "GET", "/api/v1/jobs/"+url.PathEscape(id), nil)
		if err != nil || c.json {
			e.stdout.Write(b)
			return err
		}
		var j controller.Job
		json.Unmarshal(b, &j)
		printJob(e, &j)
		return nil
	}
	return fmt.Errorf("%w: usp jobs %s", errUsage, usage)
}

// countsLine prints a job's counts.
func countsLine(n *controller.JobCounts) string {
	return fmt.Sprintf("%d/%d succeeded %d failed %d running %d pending %d offline-waiting %d cancelled",
		n.Succeeded, n.Total, n.Failed, n.Running, n.Pending, n.OfflineWaiting, n.Cancelled)
}

// printJob prints a job and one line per agent.
func printJob(e *env, j *controller.Job) {
	fmt.Fprintf(e.stdout, "job %s %s %s: %s\n", j.ID, j.Kind, j.State, countsLine(&j.Counts))
	if j.Link != "" {
		fmt.Fprintf(e.stdout, "  see %s (usp campaigns %s)\n", j.Link, j.ID)
	}
	for _, r := range j.Results {
		line := fmt.Sprintf("  %s %s", r.Agent, r.State)
		if r.Code != 0 {
			line += fmt.Sprintf(" %d", r.Code)
		}
		if r.Message != "" {
			line += ": " + r.Message
		}
		fmt.Fprintln(e.stdout, line)
	}
}

// errAgentsFailed is the outcome of a waited-for job where agents failed.
var errAgentsFailed = errors.New("agents failed")

// waitJob follows a job to its end and prints it.
func waitJob(ctx context.Context, e *env, c *apiClient, id string) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := c.do(ctx, "GET", "/api/v1/jobs/"+url.PathEscape(id), nil)
		if err != nil {
			return err
		}
		var j controller.Job
		json.Unmarshal(b, &j)
		if j.State != controller.JobRunning {
			if c.json {
				e.stdout.Write(b)
			} else {
				printJob(e, &j)
			}
			if j.Counts.Failed > 0 {
				return fmt.Errorf("%w: %d of %d", errAgentsFailed, j.Counts.Failed, j.Counts.Total)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
