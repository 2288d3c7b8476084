package mqtt_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/paho"

	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestReplyTopic checks the MQTT 3.1.1 "reply to" convention both ways
// [R-MQTT.24], [R-MQTT.25], with the example of TR-369.
func TestReplyTopic(t *testing.T) {
	got := mqtt.ReplyTopic("usp/agents/cid:3AA3F8:my-unique-usp-id-42", "usp/controllers/oui:00256D:my-unique-bbf-id-42")
	want := "usp/agents/cid:3AA3F8:my-unique-usp-id-42/reply-to=usp%2Fcontrollers%2Foui:00256D:my-unique-bbf-id-42"
	if got != want {
		t.Errorf("ReplyTopic = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		name, dest, replyTo string
		ok                  bool
	}{
		{want, "usp/agents/cid:3AA3F8:my-unique-usp-id-42", "usp/controllers/oui:00256D:my-unique-bbf-id-42", true},
		// The example as TR-369 prints it, with a space after "=".
		{"usp/agents/a/reply-to= usp%2Fcontrollers%2Fc", "usp/agents/a", "usp/controllers/c", true},
		{"a/reply-to=b", "a", "b", true},
		{"a/reply-to=b/reply-to=c%2Fd", "a/reply-to=b", "c/d", true},
		{"/reply-to=x", "", "x", true},
		{"a/reply-to=%2F", "a", "/", true},
		{"a/reply-to=%2f", "a", "%2f", true}, // only "%2F" is an escape
		{"a/reply-to=%252F", "a", "%252F", true},
		{"a/reply-to=%2%2FF", "a", "%2/F", true},
		{"usp/agents/a", "usp/agents/a", "", false},
		{"a/reply-to=", "a", "", false},
		{"a/reply-to=   ", "a", "", false},
		{"a/reply-to=b%2F+", "a", "", false},
		{"a/reply-to=#", "a", "", false},
		{"a/reply-to=b\x00", "a", "", false},
		{"a/reply-to", "a/reply-to", "", false},
		{"a/Reply-To=b", "a/Reply-To=b", "", false},
		{"reply-to=b", "reply-to=b", "", false},
	} {
		dest, replyTo, ok := mqtt.ParseReplyTopic(tc.name)
		if dest != tc.dest || replyTo != tc.replyTo || ok != tc.ok {
			t.Errorf("ParseReplyTopic(%q) = %q, %q, %v; want %q, %q, %v", tc.name, dest, replyTo, ok, tc.dest, tc.replyTo, tc.ok)
		}
	}
}

func TestMatchFilter(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/+", "a", false},
		{"a/+", "a/", true},
		{"+/+", "/x", true},
		{"+", "/x", false},
		{"/+", "/x", true},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a/+/c/#", "a/b/c", true},
		{"a/+/c/#", "a/b/d", false},
		{"$share/g/a/#", "a/b", true},
		{"$share/g", "a", false},
		{"usp/agent/x/#", "usp/agent/x/reply-to=c", true},
		{"usp/agent/x", "usp/agent/x/reply-to=c", false},
	} {
		if got := mqtt.MatchFilter(tc.filter, tc.topic); got != tc.want {
			t.Errorf("MatchFilter(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

func TestValidTopic(t *testing.T) {
	for _, tc := range []struct {
		s            string
		name, filter bool
	}{
		{"a/b", true, true},
		{"a/+/b", false, true},
		{"a/#", false, true},
		{"#", false, true},
		{"a/#/b", false, false},
		{"a/b#", false, false},
		{"a+/b", false, false},
		{"", false, false},
		{"a\x00b", false, false},
		{"\xff", false, false},
		{strings.Repeat("a", 65535), true, true},
		{strings.Repeat("a", 65536), false, false},
		{"/", true, true},
		{" ", true, true},
	} {
		if got := mqtt.ValidTopicName(tc.s); got != tc.name {
			t.Errorf("ValidTopicName(%.20q) = %v", tc.s, got)
		}
		if got := mqtt.ValidTopicFilter(tc.s); got != tc.filter {
			t.Errorf("ValidTopicFilter(%.20q) = %v", tc.s, got)
		}
	}
}

// TestPlan checks what a connection subscribes to and answers on, from
// the Options and the CONNACK [R-MQTT.15], [R-MQTT.16], [R-MQTT.21].
func TestPlan(t *testing.T) {
	ack := func(respInfo string, subs ...string) *paho.Connack {
		p := &paho.ConnackProperties{ResponseInfo: respInfo}
		for _, s := range subs {
			p.User.Add("subscribe-topic", s)
		}
		return &paho.Connack{Properties: p}
	}
	for _, tc := range []struct {
		name    string
		o       mqtt.Options
		ack     *paho.Connack
		replyTo string
		filters []string
		err     error
	}{
		{"v5 topic", mqtt.Options{Topic: "t"}, nil, "t", []string{"t"}, nil},
		{"v5 topic and subscriptions", mqtt.Options{Topic: "t", Subscriptions: []string{"s/#", "s/#"}}, &paho.Connack{},
			"t", []string{"s/#", "t"}, nil},
		{"v5 topic covered by a subscription", mqtt.Options{Topic: "s/t", Subscriptions: []string{"s/+"}}, nil,
			"s/t", []string{"s/+"}, nil},
		{"v5 response information wins", mqtt.Options{Topic: "t"}, ack("r"), "r", []string{"r"}, nil},
		{"v5 response information covered", mqtt.Options{Topic: "t"}, ack("r/1", "r/#"), "r/1", []string{"r/#"}, nil},
		{"v5 subscribe-topic, configured topic", mqtt.Options{Topic: "t", Subscriptions: []string{"c"}}, ack("", "s", "s2/#"),
			"t", []string{"c", "s", "s2/#", "t"}, nil},
		{"v5 subscribe-topic as topic", mqtt.Options{}, ack("", "s/+", "s/1", "s/2"), "s/1", []string{"s/+", "s/1", "s/2"}, nil},
		{"v5 invalid response information", mqtt.Options{Topic: "t"}, ack("r/#"), "t", []string{"t"}, nil},
		{"v5 invalid subscribe-topic", mqtt.Options{Topic: "t"}, ack("", "a/#/b", ""), "t", []string{"t"}, nil},
		{"v5 nothing", mqtt.Options{}, nil, "", nil, mqtt.ErrNoTopic},
		{"v5 only wildcards", mqtt.Options{Subscriptions: []string{"x/#"}}, ack("", "s/#"), "", nil, mqtt.ErrNoTopic},
		{"v311 topic", mqtt.Options{Version: mqtt.V311, Topic: "t/a"}, nil, "t/a", []string{"t/a/#"}, nil},
		{"v311 ignores the CONNACK", mqtt.Options{Version: mqtt.V311, Topic: "t"}, ack("r", "s"), "t", []string{"t/#"}, nil},
		{"v311 topic covered", mqtt.Options{Version: mqtt.V311, Topic: "t/a", Subscriptions: []string{"t/+/+"}}, nil,
			"t/a", []string{"t/+/+"}, nil},
		{"v311 topic not covered", mqtt.Options{Version: mqtt.V311, Topic: "t/a", Subscriptions: []string{"t/+"}}, nil,
			"t/a", []string{"t/+", "t/a/#"}, nil},
		{"v311 no topic", mqtt.Options{Version: mqtt.V311}, nil, "", nil, mqtt.ErrNoTopic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			replyTo, filters, err := mqtt.PlanOf(&tc.o, tc.ack)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if replyTo != tc.replyTo || !slices.Equal(filters, tc.filters) {
				t.Errorf("reply to %q, filters %q; want %q, %q", replyTo, filters, tc.replyTo, tc.filters)
			}
		})
	}
}
