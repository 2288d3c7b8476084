package mqtt

import (
	"strings"
	"unicode/utf8"
)

// replyToSep introduces the "reply to" Topic in an MQTT 3.1.1 Topic Name
// [R-MQTT.24].
const replyToSep = "/reply-to="

// maxTopicLen is the longest MQTT topic, a UTF-8 string with a 16-bit
// length.
const maxTopicLen = 65535

// ReplyTopic returns the Topic Name of an MQTT 3.1.1 PUBLISH to dest that
// carries replyTo as its sender's "reply to" Topic: dest, "/reply-to=",
// then replyTo with each "/" written as "%2F" [R-MQTT.24]. TR-369's
// example shows a space after the "=", which its requirement text does
// not; ReplyTopic writes none.
//
//	ReplyTopic("usp/agents/a1", "usp/controllers/c1")
//	// "usp/agents/a1/reply-to=usp%2Fcontrollers%2Fc1"
func ReplyTopic(dest, replyTo string) string {
	return dest + replyToSep + strings.ReplaceAll(replyTo, "/", "%2F")
}

// ParseReplyTopic splits the Topic Name of a received MQTT 3.1.1 PUBLISH
// into the destination Topic and the sender's "reply to" Topic: what
// follows the last "/reply-to=", with each "%2F" turned back into "/"
// [R-MQTT.25]. Spaces right after the "=" are dropped, so that names
// written like the example of TR-369 (which has one there) parse too.
//
// ok is false, and replyTo empty, when name has no "/reply-to=" (dest is
// name then) or when what follows it is not a valid topic name to publish
// to: empty, or with a wildcard or NUL character.
func ParseReplyTopic(name string) (dest, replyTo string, ok bool) {
	i := strings.LastIndex(name, replyToSep)
	if i < 0 {
		return name, "", false
	}
	dest = name[:i]
	enc := strings.TrimLeft(name[i+len(replyToSep):], " ")
	replyTo = strings.ReplaceAll(enc, "%2F", "/")
	if !validTopicName(replyTo) {
		return dest, "", false
	}
	return dest, replyTo, true
}

// validTopicName reports whether s may be the Topic Name of a PUBLISH: a
// non-empty UTF-8 string of at most 65535 bytes without NUL or wildcard
// characters.
func validTopicName(s string) bool {
	return s != "" && len(s) <= maxTopicLen && utf8.ValidString(s) && !strings.ContainsAny(s, "\x00+#")
}

// validTopicFilter reports whether s is a Topic Filter: a non-empty UTF-8
// string of at most 65535 bytes without NUL, where "+" is a whole level
// and "#" a whole last level.
func validTopicFilter(s string) bool {
	if s == "" || len(s) > maxTopicLen || !utf8.ValidString(s) || strings.Contains(s, "\x00") {
		return false
	}
	for {
		level, rest, more := strings.Cut(s, "/")
		if strings.ContainsAny(level, "+#") && level != "+" && level != "#" {
			return false
		}
		if level == "#" && more {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// matchFilter reports whether the Topic Name topic matches the Topic
// Filter filter, as the MQTT specifications define it: "+" matches one
// level, a last "#" the parent level and any number of levels below, and
// wildcards in the first level do not match names starting with "$". The
// filter of a shared subscription ("$share/group/filter") matches what
// its filter matches.
func matchFilter(filter, topic string) bool {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		_, filter, ok = strings.Cut(rest, "/")
		if !ok {
			return false
		}
	}
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		f, frest, fmore := strings.Cut(filter, "/")
		if f == "#" {
			return true
		}
		t, trest, tmore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			return frest == "#"
		case !fmore:
			return false
		}
		filter, topic = frest, trest
	}
}

// covered reports whether one of filters matches topic.
func covered(filters []string, topic string) bool {
	for _, f := range filters {
		if matchFilter(f, topic) {
			return true
		}
	}
	return false
}
