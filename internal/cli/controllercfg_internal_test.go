package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// yamlKeys returns the keys of a configuration struct type, recursing into
// inline and nested structs (and slices and pointers of them) with
// prefix.key paths.
func yamlKeys(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() != reflect.TypeFor[controllerConfig]().PkgPath() {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case strings.Contains(f.Tag.Get("yaml"), "inline"):
			keys = append(keys, yamlKeys(f.Type, prefix)...)
		case tag == "" || tag == "-":
		default:
			keys = append(keys, prefix+tag)
			keys = append(keys, yamlKeys(f.Type, prefix+tag+".")...)
		}
	}
	return keys
}

// TestControllerConfigReference: every key of `usp controller`'s
// configuration is listed by `usp controller --help` and in
// docs/config.md (the keys of an Agent's MTP that a Controller refuses
// excepted).
func TestControllerConfigReference(t *testing.T) {
	var out, errb bytes.Buffer
	Main(context.Background(), []string{"controller", "--help"}, nil, &out, &errb)
	help := out.String() + errb.String()
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]bool{"mtps.alias": true, "mtps.controller_topic": true,
		"tls.no_absolute_time": true, "mtps.tls.no_absolute_time": true, "e2e.tls.no_absolute_time": true}
	keys := yamlKeys(reflect.TypeFor[controllerConfig](), "")
	if len(keys) < 40 {
		t.Fatalf("only %d keys found: %v", len(keys), keys)
	}
	for _, k := range keys {
		if refused[k] {
			continue
		}
		last := k[strings.LastIndexByte(k, '.')+1:]
		if !strings.Contains(help, last) {
			t.Errorf("usp controller --help does not list %s", k)
		}
		if !strings.Contains(string(doc), "`"+last+"`") && !strings.Contains(string(doc), last+"`") && !strings.Contains(string(doc), last) {
			t.Errorf("docs/config.md does not list %s", k)
		}
	}
}

// TestDeployDocSnippets: docs/deploy.md shows every file the deploy tests
// run, unchanged, in a yaml block.
func TestDeployDocSnippets(t *testing.T) {
	doc, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/deploy/*.yaml")
	if len(files) == 0 {
		t.Fatal("no snippets")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, append(append([]byte("```yaml\n"), b...), "```"...)) {
			t.Errorf("docs/deploy.md does not show %s as it is", f)
		}
	}
}

// TestControllerConfigErrors: a configuration `usp controller` cannot run
// is refused with one line naming the key at fault.
func TestControllerConfigErrors(t *testing.T) {
	mqtt := "mtps:\n  - protocol: MQTT\n    url: tcp://127.0.0.1:1883\n    topic: usp/controller/c\n"
	tests := []struct {
		key, conf string
	}{
		{"colour", "colour: red\n"},
		{"endpoint_id", "endpoint_id: nope\n"},
		{"log_level", "log_level: loud\n"},
		{"admission", "admission: some\n"},
		{"mtps[0].protocol", "mtps:\n  - protocol: CoAP\n"},
		{"line 4: field colour", "mtps:\n  - protocol: UDS\n    socket: /tmp/x\n    colour: red\n"},
		{"mtps[1].name", mqtt + "  - protocol: MQTT\n    url: tcp://127.0.0.1:1884\n    topic: usp/controller/d\n"},
		{"mtps[1].name", mqtt + "  - protocol: WebSocket\n    name: WebSocket\n    listen: 127.0.0.1:0\nwebsocket: 127.0.0.1:0\n"},
		{"taken by the embedded broker", mqtt + "embedded_broker:\n  listen: 127.0.0.1:0\n"},
		{"mtps[0].topic", "mtps:\n  - protocol: MQTT\n    url: tcp://127.0.0.1:1883\n"},
		{"mtps[0].topic", "mtps:\n  - protocol: MQTT\n    url: tcp://127.0.0.1:1883\n    topic: usp/#\n"},
		{"mtps[0].url", "mtps:\n  - protocol: MQTT\n    url: http://127.0.0.1\n    topic: t\n"},
		{"mtps[0].tls", "mtps:\n  - protocol: MQTT\n    url: tcp://127.0.0.1:1883\n    topic: t\n    tls:\n      ca: /x\n"},
		{"mtps[0].mqtt_version", "mtps:\n  - protocol: MQTT\n    url: tcp://127.0.0.1:1883\n    topic: t\n    mqtt_version: \"4\"\n"},
		{"mtps[0].shared_group", "mtps:\n  - protocol: MQTT\n    url: tcp://127.0.0.1:1883\n    topic: t\n    shared_group: a/b\n"},
		{"mtps[0].destination", "mtps:\n  - protocol: MQTT\n    url: tcp://127.0.0.1:1883\n    topic: t\n    destination: /queue/x\n"},
		{"mtps[0].alias", "mtps:\n  - protocol: MQTT\n    url: tcp://127.0.0.1:1883\n    topic: t\n    alias: a\n"},
		{"mtps[0].addr", "mtps:\n  - protocol: STOMP\n    addr: nope\n    destination: /queue/c\n"},
		{"mtps[0].destination", "mtps:\n  - protocol: STOMP\n    addr: 127.0.0.1:61613\n"},
		{"mtps[0].listen", "mtps:\n  - protocol: WebSocket\n"},
		{"mtps[0].agents", "mtps:\n  - protocol: WebSocket\n    listen: 127.0.0.1:0\n    agents:\n      - endpoint_id: os::012345-A\n        url: ws://127.0.0.1:1/usp\n"},
		{"mtps[0].agents[0].url", "mtps:\n  - protocol: WebSocket\n    agents:\n      - endpoint_id: os::012345-A\n        url: http://127.0.0.1:1/usp\n"},
		{"mtps[0].agents[0].endpoint_id", "mtps:\n  - protocol: WebSocket\n    agents:\n      - endpoint_id: nope\n        url: ws://127.0.0.1:1/usp\n"},
		{"mtps[0].tls.client_auth", "mtps:\n  - protocol: WebSocket\n    agents:\n      - endpoint_id: os::012345-A\n        url: wss://127.0.0.1:1/usp\n    tls:\n      client_auth: true\n"},
		{"mtps[0].socket", "mtps:\n  - protocol: UDS\n"},
		{"mtps[0].identity", "mtps:\n  - protocol: UDS\n    socket: /tmp/x\n    identity: trusted\n"},
		{"mtps[0].max_record", "mtps:\n  - protocol: UDS\n    socket: /tmp/x\n    max_record: 10\n"},
		{"mtps[0].retry", "mtps:\n  - protocol: UDS\n    socket: /tmp/x\n    retry:\n      min_wait: 1s\n"},
		{"tls: no_absolute_time", "websocket: 127.0.0.1:0\ntls:\n  no_absolute_time: true\n"},
		{"mtps[0].tls: no_absolute_time", "mtps:\n  - protocol: WebSocket\n    listen: 127.0.0.1:0\n    tls:\n      no_absolute_time: true\n"},
		{"e2e.tls: no_absolute_time", "e2e:\n  tls:\n    no_absolute_time: true\n"},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			p := filepath.Join(dir, "c.yaml")
			if err := os.WriteFile(p, []byte(tt.conf+"data: "+filepath.Join(dir, "d")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := Main(context.Background(), []string{"controller", "--config", p}, nil, &out, &errb)
			stderr := errb.String()
			if code != 1 || !strings.Contains(stderr, tt.key) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("case %d: status %d, stderr %q, want one line naming %s", i, code, stderr, tt.key)
			}
		})
	}
}
