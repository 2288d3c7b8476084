//go:build !usp_device

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/api"
	"github.com/uspkit/uspkit/wire"
)

// dataDir is where `usp up` keeps its state and the client verbs find the
// server and token: $USP_DATA, else $XDG_DATA_HOME/uspkit, else
// ~/.local/share/uspkit.
func dataDir() string {
	if d := os.Getenv("USP_DATA"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "uspkit")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "usp-data"
	}
	return filepath.Join(home, ".local", "share", "uspkit")
}

// serverFile holds the API URL of the running `usp up` or `usp
// controller`, in its data directory.
const serverFile = "api.url"

// adminTokenFile holds the API's admin token, in the data directory of
// `usp up` and `usp controller` (api.AdminTokenFile).
const adminTokenFile = api.AdminTokenFile

// apiClient talks to the Controller's REST API.
type apiClient struct {
	server, token, agent string
	json                 bool
	hc                   *http.Client // trusts the API's certificate (apiHTTPClient)
	// serverFile is the data directory's api.url when server came from
	// it: a reconnecting `events --follow` reads it again.
	serverFile string
}

// clientFlags adds the flags every client verb takes.
func clientFlags(fs *flag.FlagSet) func() (*apiClient, error) {
	server := fs.String("server", "", "API `URL` (default $USP_SERVER, or the running `usp up`)")
	agent := fs.String("agent", "", "agent Endpoint `ID` (default $USP_AGENT, or the only online agent)")
	data := fs.String("data", "", "data `directory` of `usp up` (default $USP_DATA or ~/.local/share/uspkit)")
	asJSON := fs.Bool("json", false, "print the response as JSON")
	return func() (*apiClient, error) {
		dir := *data
		if dir == "" {
			dir = dataDir()
		}
		c := &apiClient{server: *server, agent: *agent, json: *asJSON}
		hc, err := apiHTTPClient(dir)
		if err != nil {
			return nil, err
		}
		c.hc = hc
		if c.server == "" {
			c.server = os.Getenv("USP_SERVER")
		}
		if c.server == "" {
			b, err := os.ReadFile(filepath.Join(dir, serverFile))
			if err != nil {
				return nil, fmt.Errorf("no API server found: give --server URL or set USP_SERVER, or point --data (or USP_DATA) at the "+
					"data directory of a running `usp up` or `usp controller`; %s has no %s (%w)", dir, serverFile, err)
			}
			c.server = strings.TrimSpace(string(b))
			c.serverFile = filepath.Join(dir, serverFile)
		}
		c.token = os.Getenv("USP_TOKEN")
		if c.token == "" {
			b, err := os.ReadFile(filepath.Join(dir, adminTokenFile))
			if err != nil {
				return nil, fmt.Errorf("no API token found: set USP_TOKEN, or point --data (or USP_DATA) at the data directory of "+
					"`usp up` or `usp controller`; %s has no %s (%w)", dir, adminTokenFile, err)
			}
			c.token = strings.TrimSpace(string(b))
		}
		if c.agent == "" {
			c.agent = os.Getenv("USP_AGENT")
		}
		return c, nil
	}
}

// httpError is an API error; a USP Error carries its code and its
// param_errs.
type httpError struct {
	status    int
	code      uint32
	message   string
	paramErrs []*wire.Error_ParamError
}

func (e *httpError) Error() string {
	if e.code != 0 {
		return fmt.Sprintf("USP error %d: %s", e.code, e.message)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.message, e.status)
}

func (c *apiClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.server, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error   string          `json:"error"`
			Code    uint32          `json:"code"`
			Message string          `json:"message"`
			Msg     json.RawMessage `json:"msg"`
		}
		json.Unmarshal(b, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		he := &httpError{status: resp.StatusCode, code: e.Code, message: cmp(e.Message, e.Error)}
		if len(e.Msg) > 0 {
			if m, err := controller.ParseMsgJSON(e.Msg); err == nil {
				he.paramErrs = m.GetBody().GetError().GetParamErrs()
			}
		}
		return b, he
	}
	return b, nil
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// target returns the agent to talk to: the one named, or the only online
// one.
func (c *apiClient) target(ctx context.Context) (string, error) {
	if c.agent != "" {
		return c.agent, nil
	}
	b, err := c.do(ctx, "GET", "/api/v1/agents?online=true", nil)
	if err != nil {
		return "", err
	}
	var list struct {
		Agents []controller.Agent `json:"agents"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return "", err
	}
	switch len(list.Agents) {
	case 0:
		return "", errors.New("no agent online (give --agent)")
	case 1:
		return list.Agents[0].ID, nil
	}
	return "", fmt.Errorf("%d agents online: give --agent", len(list.Agents))
}

// usp sends one USP verb and returns the response Msg and where to print
// it: e, or with --json (when the raw JSON is printed instead) an env that
// discards the plain rendering, so that a verb counts its failures, and
// exits with the same status, either way. An Error's param_errs are
// printed each with its path and code.
func (c *apiClient) usp(ctx context.Context, e *env, verb string, body any) (*wire.Msg, *env, error) {
	id, err := c.target(ctx)
	if err != nil {
		return nil, nil, err
	}
	b, err := c.do(ctx, "POST", "/api/v1/agents/"+id+"/"+verb, body)
	if c.json && b != nil {
		e.stdout.Write(b)
		if !bytes.HasSuffix(b, []byte("\n")) {
			io.WriteString(e.stdout, "\n")
		}
	}
	var he *httpError
	if errors.As(err, &he) && !c.json {
		for _, pe := range he.paramErrs {
			e.uspError(pe.GetParamPath(), pe.GetErrCode(), pe.GetErrMsg())
		}
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := controller.ParseMsgJSON(b)
	if c.json {
		e = &env{stdin: e.stdin, stdout: io.Discard, stderr: io.Discard}
	}
	return m, e, err
}

// kvArgs splits NAME=VALUE arguments.
func kvArgs(args []string) (map[string]string, error) {
	m := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: %q is not NAME=VALUE", errUsage, a)
		}
		m[k] = v
	}
	return m, nil
}

// pathErrors counts the paths that failed, each already printed: the
// command exits 1.
type pathErrors int

func (n pathErrors) Error() string { return fmt.Sprintf("%d path(s) failed", int(n)) }

func runGet(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "get", "PATH...")
	mk := clientFlags(fs)
	depth := fs.Uint("depth", 0, "max_depth of the Get (0: all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: give at least one path", errUsage)
	}
	c, err := mk()
	if err != nil {
		return err
	}
	m, e, err := c.usp(ctx, e, "get", map[string]any{"paths": fs.Args(), "max_depth": *depth})
	if err != nil {
		return err
	}
	bad := 0
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		if rp.GetErrCode() != 0 {
			e.uspError(rp.GetRequestedPath(), rp.GetErrCode(), rp.GetErrMsg())
			bad++
			continue
		}
		var lines []string
		for _, r := range rp.GetResolvedPathResults() {
			for k, v := range r.GetResultParams() {
				lines = append(lines, r.GetResolvedPath()+k+" = "+v)
			}
		}
		printSorted(e.stdout, lines)
	}
	if bad > 0 {
		return pathErrors(bad)
	}
	return nil
}

func runSet(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "set", "PATH=VALUE...")
	mk := clientFlags(fs)
	partial := fs.Bool("allow-partial", false, "allow_partial")
	if err := parse(fs, args); err != nil {
		return err
	}
	kv, err := kvArgs(fs.Args())
	if err != nil || len(kv) == 0 {
		return fmt.Errorf("%w: give PATH=VALUE arguments", errUsage)
	}
	objs := map[string]map[string]string{}
	var order []string
	for path, v := range kv {
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			return fmt.Errorf("%w: %q is not a parameter path", errUsage, path)
		}
		obj := path[:i+1]
		if objs[obj] == nil {
			objs[obj] = map[string]string{}
			order = append(order, obj)
		}
		objs[obj][path[i+1:]] = v
	}
	slices.Sort(order)
	var body []map[string]any
	for _, o := range order {
		body = append(body, map[string]any{"path": o, "params": objs[o]})
	}
	c, err := mk()
	if err != nil {
		return err
	}
	m, e, err := c.usp(ctx, e, "set", map[string]any{"allow_partial": *partial, "objects": body})
	if err != nil {
		return err
	}
	bad := 0
	for _, r := range m.GetBody().GetResponse().GetSetResp().GetUpdatedObjResults() {
		if f := r.GetOperStatus().GetOperFailure(); f != nil {
			e.uspError(r.GetRequestedPath(), f.GetErrCode(), f.GetErrMsg())
			for _, inst := range f.GetUpdatedInstFailures() {
				for _, pe := range inst.GetParamErrs() {
					e.uspError(inst.GetAffectedPath()+pe.GetParam(), pe.GetErrCode(), pe.GetErrMsg())
				}
			}
			bad++
			continue
		}
		for _, u := range r.GetOperStatus().GetOperSuccess().GetUpdatedInstResults() {
			var lines []string
			for k, v := range u.GetUpdatedParams() {
				lines = append(lines, u.GetAffectedPath()+k+" = "+v)
			}
			printSorted(e.stdout, lines)
			for _, pe := range u.GetParamErrs() {
				e.uspError(u.GetAffectedPath()+pe.GetParam(), pe.GetErrCode(), pe.GetErrMsg())
				bad++
			}
		}
	}
	if bad > 0 {
		return pathErrors(bad)
	}
	return nil
}

func runAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "add", "OBJECT. [PARAM=VALUE...]")
	mk := clientFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: give the table path", errUsage)
	}
	kv, err := kvArgs(fs.Args()[1:])
	if err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	m, e, err := c.usp(ctx, e, "add", map[string]any{"objects": []map[string]any{{"path": fs.Arg(0), "params": kv}}})
	if err != nil {
		return err
	}
	bad := 0
	for _, r := range m.GetBody().GetResponse().GetAddResp().GetCreatedObjResults() {
		if f := r.GetOperStatus().GetOperFailure(); f != nil {
			e.uspError(r.GetRequestedPath(), f.GetErrCode(), f.GetErrMsg())
			bad++
			continue
		}
		ok := r.GetOperStatus().GetOperSuccess()
		fmt.Fprintln(e.stdout, ok.GetInstantiatedPath())
		var keys []string
		for k, v := range ok.GetUniqueKeys() {
			keys = append(keys, "  "+k+" = "+v)
		}
		printSorted(e.stdout, keys)
		for _, pe := range ok.GetParamErrs() {
			e.uspError(ok.GetInstantiatedPath()+pe.GetParam(), pe.GetErrCode(), pe.GetErrMsg())
			bad++
		}
	}
	if bad > 0 {
		return pathErrors(bad)
	}
	return nil
}

func runDelete(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "delete", "OBJECT...")
	mk := clientFlags(fs)
	partial := fs.Bool("allow-partial", false, "allow_partial")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: give at least one object path", errUsage)
	}
	c, err := mk()
	if err != nil {
		return err
	}
	m, e, err := c.usp(ctx, e, "delete", map[string]any{"paths": fs.Args(), "allow_partial": *partial})
	if err != nil {
		return err
	}
	bad := 0
	for _, r := range m.GetBody().GetResponse().GetDeleteResp().GetDeletedObjResults() {
		if f := r.GetOperStatus().GetOperFailure(); f != nil {
			e.uspError(r.GetRequestedPath(), f.GetErrCode(), f.GetErrMsg())
			bad++
			continue
		}
		affected := r.GetOperStatus().GetOperSuccess().GetAffectedPaths()
		for _, p := range affected {
			fmt.Fprintln(e.stdout, "deleted "+p)
		}
		if len(affected) == 0 && len(r.GetOperStatus().GetOperSuccess().GetUnaffectedPathErrs()) == 0 {
			// Deleting what does not exist succeeds in USP; say so.
			fmt.Fprintf(e.stdout, "nothing deleted: %s matched no instance\n", r.GetRequestedPath())
		}
		for _, u := range r.GetOperStatus().GetOperSuccess().GetUnaffectedPathErrs() {
			e.uspError(u.GetUnaffectedPath(), u.GetErrCode(), u.GetErrMsg())
			bad++
		}
	}
	if bad > 0 {
		return pathErrors(bad)
	}
	return nil
}

func runOperate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "operate", "'COMMAND()' [ARG=VALUE...]")
	mk := clientFlags(fs)
	key := fs.String("key", "", "command_key")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: give the command path", errUsage)
	}
	kv, err := kvArgs(fs.Args()[1:])
	if err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	m, e, err := c.usp(ctx, e, "operate", map[string]any{"command": fs.Arg(0), "command_key": *key, "args": kv})
	if err != nil {
		return err
	}
	bad := 0
	for _, r := range m.GetBody().GetResponse().GetOperateResp().GetOperationResults() {
		switch {
		case r.GetCmdFailure() != nil:
			e.uspError(r.GetExecutedCommand(), r.GetCmdFailure().GetErrCode(), r.GetCmdFailure().GetErrMsg())
			bad++
		case r.GetReqObjPath() != "":
			fmt.Fprintf(e.stdout, "%s started: %s\n", r.GetExecutedCommand(), r.GetReqObjPath())
		default:
			var lines []string
			for k, v := range r.GetReqOutputArgs().GetOutputArgs() {
				lines = append(lines, k+" = "+v)
			}
			slices.Sort(lines)
			fmt.Fprintf(e.stdout, "%s done\n", r.GetExecutedCommand())
			for _, l := range lines {
				fmt.Fprintln(e.stdout, "  "+l)
			}
		}
	}
	if bad > 0 {
		return pathErrors(bad)
	}
	return nil
}

func runInstances(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "instances", "OBJECT...")
	mk := clientFlags(fs)
	first := fs.Bool("first-level", false, "first_level_only")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: give at least one object path", errUsage)
	}
	c, err := mk()
	if err != nil {
		return err
	}
	m, e, err := c.usp(ctx, e, "instances", map[string]any{"paths": fs.Args(), "first_level_only": *first})
	if err != nil {
		return err
	}
	bad := 0
	for _, rp := range m.GetBody().GetResponse().GetGetInstancesResp().GetReqPathResults() {
		if rp.GetErrCode() != 0 {
			e.uspError(rp.GetRequestedPath(), rp.GetErrCode(), rp.GetErrMsg())
			bad++
			continue
		}
		for _, in := range rp.GetCurrInsts() {
			var keys []string
			for k, v := range in.GetUniqueKeys() {
				keys = append(keys, k+"="+v)
			}
			slices.Sort(keys)
			fmt.Fprintf(e.stdout, "%s %s\n", in.GetInstantiatedObjPath(), strings.Join(keys, " "))
		}
	}
	if bad > 0 {
		return pathErrors(bad)
	}
	return nil
}

func runSupported(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "supported", "OBJECT...")
	mk := clientFlags(fs)
	first := fs.Bool("first-level", false, "first_level_only")
	if err := parse(fs, args); err != nil {
		return err
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"Device."}
	}
	c, err := mk()
	if err != nil {
		return err
	}
	m, e, err := c.usp(ctx, e, "supported", map[string]any{"paths": paths, "first_level_only": *first, "commands": true, "events": true, "params": true, "unique_keys": true})
	if err != nil {
		return err
	}
	bad := 0
	for _, r := range m.GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults() {
		if r.GetErrCode() != 0 {
			e.uspError(r.GetReqObjPath(), r.GetErrCode(), r.GetErrMsg())
			bad++
			continue
		}
		for _, o := range r.GetSupportedObjs() {
			fmt.Fprintf(e.stdout, "%s (%s)\n", o.GetSupportedObjPath(), strings.ToLower(strings.TrimPrefix(o.GetAccess().String(), "OBJ_")))
			for _, p := range o.GetSupportedParams() {
				fmt.Fprintf(e.stdout, "  %s %s %s\n", p.GetParamName(), strings.ToLower(strings.TrimPrefix(p.GetValueType().String(), "PARAM_")),
					strings.ToLower(strings.TrimPrefix(p.GetAccess().String(), "PARAM_")))
			}
			for _, cmd := range o.GetSupportedCommands() {
				fmt.Fprintf(e.stdout, "  %s %s in(%s) out(%s)\n", cmd.GetCommandName(), strings.ToLower(strings.TrimPrefix(cmd.GetCommandType().String(), "CMD_")),
					strings.Join(cmd.GetInputArgNames(), ","), strings.Join(cmd.GetOutputArgNames(), ","))
			}
			for _, ev := range o.GetSupportedEvents() {
				fmt.Fprintf(e.stdout, "  %s (%s)\n", ev.GetEventName(), strings.Join(ev.GetArgNames(), ","))
			}
		}
	}
	if bad > 0 {
		return pathErrors(bad)
	}
	return nil
}

func runProto(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "proto", "")
	mk := clientFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	m, e, err := c.usp(ctx, e, "protocol", nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, m.GetBody().GetResponse().GetGetSupportedProtocolResp().GetAgentSupportedProtocolVersions())
	return nil
}

func runAgents(ctx context.Context, e *env, args []string) error {
	if isAccountCommand(args) {
		return runAgentAccounts(ctx, e, args)
	}
	var list struct {
		Agents []controller.Agent `json:"agents"`
	}
	if ok, err := listAgents(ctx, e, args, &list); !ok || err != nil {
		return err
	}
	printAgents(e, list.Agents)
	return nil
}

func runEvents(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events", "")
	mk := clientFlags(fs)
	follow := fs.Bool("follow", false, "keep printing new events; a dropped connection is resumed after the last event printed")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	print := func(b []byte) {
		var ev controller.Event
		if json.Unmarshal(b, &ev) != nil {
			return
		}
		if c.json {
			fmt.Fprintf(e.stdout, "%s\n", b)
			return
		}
		var msg bytes.Buffer
		json.Compact(&msg, ev.Msg)
		fmt.Fprintf(e.stdout, "%d %s %s %s %s\n", ev.Seq, ev.Time.Format(time.RFC3339), ev.Agent, ev.Kind, msg.String())
	}
	if !*follow {
		b, err := c.do(ctx, "GET", "/api/v1/events", nil)
		if err != nil {
			return err
		}
		var list struct {
			Events []json.RawMessage `json:"events"`
		}
		json.Unmarshal(b, &list)
		for _, ev := range list.Events {
			print(ev)
		}
		return nil
	}
	return c.followEvents(ctx, e, print)
}

// uspError prints one failed path with its USP error.
func (e *env) uspError(path string, code uint32, msg string) {
	fmt.Fprintf(e.stderr, "%s: USP error %d: %s\n", path, code, msg)
}

// printSorted prints lines in order.
func printSorted(w io.Writer, lines []string) {
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
