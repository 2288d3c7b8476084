package broker

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTopicMatch(t *testing.T) {
	tests := []struct {
		f, t string
		want bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"a/+", "a/b", true},
		{"a/+", "a", false},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"#", "$SYS/x", false}, // [MQTT-4.7.2-1]
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"+/+", "/x", true},
		{"+", "", true},
		{"a//b", "a//b", true},
		{"a/+/b", "a//b", true},
	}
	for _, tt := range tests {
		if got := topicMatch(tt.f, tt.t); got != tt.want {
			t.Errorf("topicMatch(%q, %q) = %v", tt.f, tt.t, got)
		}
	}
}

func TestFilterCovers(t *testing.T) {
	tests := []struct {
		a, r string
		want bool
	}{
		{"usp/agent/x/#", "usp/agent/x/#", true},
		{"usp/agent/x/#", "usp/agent/x", true},
		{"usp/agent/x/#", "usp/agent/x/+/y", true},
		{"usp/agent/x/#", "usp/agent/+/#", false},
		{"usp/agent/x/#", "usp/agent/#", false},
		{"usp/agent/x/#", "#", false},
		{"usp/agent/x/#", "usp/agent/xy", false},
		{"usp/agent/x/#", "$share/g/usp/agent/x/#", true},
		{"usp/agent/x/#", "$share/g/usp/agent/y/#", false},
		{"usp/agent/x", "usp/agent/x", true},
		{"usp/agent/x", "usp/agent/x/#", false},
		{"usp/agent/x", "usp/agent/+", false},
		{"a/+", "a/b", true},
		{"a/+", "a/+", true},
		{"a/+", "a/#", false},
		{"a/+/#", "a", false},
		{"a/+/#", "a/b", true},
		{"#", "anything/#", true},
		{"#", "$SYS/#", false},
		{"+/#", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
	}
	for _, tt := range tests {
		if got := filterCovers(tt.a, tt.r); got != tt.want {
			t.Errorf("filterCovers(%q, %q) = %v", tt.a, tt.r, got)
		}
	}
}

func TestValidFilter(t *testing.T) {
	for f, want := range map[string]bool{
		"a/b": true, "#": true, "+": true, "a/+/#": true, "/": true, "a//b": true,
		"": false, "a/#/b": false, "a#": false, "a/b+": false, "a\x00": false, "##": false,
	} {
		if got := validFilter(f); got != want {
			t.Errorf("validFilter(%q) = %v", f, got)
		}
	}
}

func TestExpand(t *testing.T) {
	tests := []struct {
		p, client, user string
		want            string
		err             bool
	}{
		{p: "usp/agent/{user}/#", user: "os::1", want: "usp/agent/os::1/#"},
		{p: "usp/agent/{client}/#", client: "c", want: "usp/agent/c/#"},
		{p: "x/{client}/{user}", client: "c", user: "u", want: "x/c/u"},
		{p: "usp/agent/{client}/#", user: "u", want: "", err: true},
		{p: "usp/agent/{user}/#", user: "+", err: true},
		{p: "usp/agent/{user}/#", user: "#", err: true},
		{p: "usp/agent/{user}/#", user: "a/b", err: true},
		{p: "usp/agent/{user}/#", user: "a\x00", err: true},
		{p: "usp/agent/{user}/#", user: "", err: true},
		{p: "fixed/topic", want: "fixed/topic"},
	}
	for _, tt := range tests {
		got, err := expand(tt.p, tt.client, tt.user)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("expand(%q, %q, %q) = %q, %v", tt.p, tt.client, tt.user, got, err)
		}
		if err != nil && !errors.Is(err, errPlaceholder) {
			t.Errorf("error %v is not errPlaceholder", err)
		}
	}
}

func TestPatternPrefix(t *testing.T) {
	tests := []struct {
		p, want string
		err     bool
	}{
		{p: "usp/agent/{user}/#", want: "usp/agent/#"},
		{p: "usp/agent-{client}/#", want: "usp/#"},
		{p: "a/b/c", want: "a/b/c/#"},
		{p: "{user}/x", err: true},
		{p: "+/x/{user}", err: true},
		{p: "a/{bad}", err: true},
		{p: "a/#/{user}", err: true},
		{p: "", err: true},
	}
	for _, tt := range tests {
		got, err := patternPrefix(tt.p)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("patternPrefix(%q) = %q, %v", tt.p, got, err)
		}
	}
}

func TestNewSession(t *testing.T) {
	c, err := newConfig(&Options{USPPolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		acct Account
		want *session
		err  bool
	}{
		{name: "agent", acct: Account{Name: "a"}, want: &session{name: "a",
			subscribe: []string{"usp/agent/a/#"}, publish: []string{"usp/controller/#"}, reply: "usp/agent/a",
			bindOwn: "usp/agent/a/#", ctlTopics: "usp/controller/#"}},
		{name: "controller", acct: Account{Name: "c", Controller: true, Publish: []string{"x/{client}"}}, want: &session{
			name: "c", controller: true, subscribe: []string{"usp/controller/c/#"},
			publish: []string{"usp/controller/#", "usp/agent/#", "x/id"}, reply: "usp/controller/c"}},
		{name: "anonymous", acct: Account{}, err: true},
		{name: "bad list entry", acct: Account{Name: "a", Subscribe: []string{"a/#/b"}}, err: true},
	}
	for _, tt := range tests {
		got, err := c.newSession(tt.acct, "id")
		if (err != nil) != tt.err {
			t.Errorf("%s: err %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(session{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
