package mqtt_test

import (
	"strings"
	"testing"

	"github.com/uspkit/uspkit/mtp/mqtt"
)

// FuzzParseReplyTopic checks the parser of the MQTT 3.1.1 "reply to"
// convention [R-MQTT.25] on any Topic Name: no panic, a "reply to" Topic
// only when one follows the last "/reply-to=", always one that can be
// published to. Seeds are in testdata/fuzz/FuzzParseReplyTopic.
func FuzzParseReplyTopic(f *testing.F) {
	f.Add("usp/agents/cid:3AA3F8:my-unique-usp-id-42/reply-to=usp%2Fcontrollers%2Foui:00256D:my-unique-bbf-id-42")
	f.Fuzz(func(t *testing.T, name string) {
		dest, replyTo, ok := mqtt.ParseReplyTopic(name)
		const sep = "/reply-to="
		i := strings.LastIndex(name, sep)
		if i < 0 {
			if ok || dest != name || replyTo != "" {
				t.Fatalf("no separator: %q, %q, %v", dest, replyTo, ok)
			}
			return
		}
		if dest != name[:i] {
			t.Fatalf("dest %q, want %q", dest, name[:i])
		}
		if !ok {
			if replyTo != "" {
				t.Fatalf("not ok with reply-to %q", replyTo)
			}
			return
		}
		if !mqtt.ValidTopicName(replyTo) {
			t.Fatalf("reply-to %q is not a topic name", replyTo)
		}
		if strings.Contains(name[i+len(sep):], "/reply-to=") {
			t.Fatalf("%q: not the last separator", name)
		}
		if strings.HasPrefix(replyTo, " ") {
			t.Fatalf("reply-to %q starts with a space", replyTo)
		}
	})
}

// FuzzReplyTopic checks that what ReplyTopic writes [R-MQTT.24],
// ParseReplyTopic reads back [R-MQTT.25], for every destination and every
// "reply to" Topic the convention can carry (one without "%2F" in it,
// which reads back as "/", and not starting with a space).
func FuzzReplyTopic(f *testing.F) {
	f.Add("usp/agents/a", "usp/controllers/c")
	f.Fuzz(func(t *testing.T, dest, replyTo string) {
		name := mqtt.ReplyTopic(dest, replyTo)
		d, r, ok := mqtt.ParseReplyTopic(name)
		if d != dest { // the encoded "reply to" Topic has no "/"
			t.Fatalf("ParseReplyTopic(%q) dest %q, want %q", name, d, dest)
		}
		if !mqtt.ValidTopicName(replyTo) || strings.Contains(replyTo, "%2F") || strings.HasPrefix(replyTo, " ") {
			return
		}
		if !ok || d != dest || r != replyTo {
			t.Fatalf("ParseReplyTopic(%q) = %q, %q, %v; want %q, %q, true", name, d, r, ok, dest, replyTo)
		}
	})
}

// FuzzMatchFilter checks the topic filter matcher used to decide which
// subscriptions cover the "reply to" Topic [R-MQTT.15] against the rules
// that do not depend on it.
func FuzzMatchFilter(f *testing.F) {
	f.Add("a/+/c/#", "a/b/c")
	f.Fuzz(func(t *testing.T, filter, topic string) {
		got := mqtt.MatchFilter(filter, topic)
		if !mqtt.ValidTopicFilter(filter) || !mqtt.ValidTopicName(topic) || strings.HasPrefix(filter, "$share/") {
			return
		}
		switch {
		case !strings.ContainsAny(filter, "+#"):
			if got != (filter == topic) {
				t.Fatalf("MatchFilter(%q, %q) = %v without wildcards", filter, topic, got)
			}
		case filter == "#":
			if got != !strings.HasPrefix(topic, "$") {
				t.Fatalf("MatchFilter(#, %q) = %v", topic, got)
			}
		}
		if !mqtt.MatchFilter(topic, topic) {
			t.Fatalf("topic %q does not match itself", topic)
		}
		if got && strings.Count(filter, "/") > strings.Count(topic, "/")+1 {
			t.Fatalf("MatchFilter(%q, %q): filter has more levels", filter, topic)
		}
		// Every level of the filter may become "+" (the first too, unless
		// the name starts with "$") and still match.
		if got && !strings.HasPrefix(topic, "$") {
			levels := strings.Split(filter, "/")
			for i := range levels {
				if levels[i] != "#" {
					wild := append([]string(nil), levels...)
					wild[i] = "+"
					if w := strings.Join(wild, "/"); !mqtt.MatchFilter(w, topic) {
						t.Fatalf("%q matches %q but %q does not", filter, topic, w)
					}
				}
			}
		}
	})
}
