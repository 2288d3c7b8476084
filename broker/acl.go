package broker

import (
	"errors"
	"fmt"
	"strings"
)

// validFilter reports whether f is a well-formed MQTT topic filter:
// non-empty, no NUL, wildcards occupying whole levels and "#" only last.
func validFilter(f string) bool {
	if f == "" || strings.IndexByte(f, 0) >= 0 {
		return false
	}
	for rest := f; ; {
		lvl, tail, more := strings.Cut(rest, "/")
		if lvl != "+" && lvl != "#" && strings.ContainsAny(lvl, "+#") {
			return false
		}
		if lvl == "#" && more {
			return false
		}
		if !more {
			return true
		}
		rest = tail
	}
}

// stripShare returns the filter inside a shared subscription filter
// "$share/<group>/<filter>", or f unchanged.
func stripShare(f string) string {
	if rest, ok := strings.CutPrefix(f, "$share/"); ok {
		if _, inner, ok := strings.Cut(rest, "/"); ok {
			return inner
		}
	}
	return f
}

// topicMatch reports whether topic name t matches filter f. Wildcards at
// the first level do not match topics starting with "$" [MQTT-4.7.2-1].
func topicMatch(f, t string) bool {
	if strings.HasPrefix(t, "$") && (strings.HasPrefix(f, "+") || strings.HasPrefix(f, "#")) {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(f, "/")
		if fl == "#" {
			return true // "a/#" matches "a" and everything below it
		}
		tl, trest, tmore := strings.Cut(t, "/")
		if fl != "+" && fl != tl {
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
		f, t = frest, trest
	}
}

// filterCovers reports whether every topic that filter r matches is also
// matched by filter a; shared subscription prefixes on r are ignored.
// Both must be valid filters.
func filterCovers(a, r string) bool {
	r = stripShare(r)
	// A leading wildcard in a does not reach "$" topics [MQTT-4.7.2-1].
	if strings.HasPrefix(r, "$") && (strings.HasPrefix(a, "+") || strings.HasPrefix(a, "#")) {
		return false
	}
	for {
		al, arest, amore := strings.Cut(a, "/")
		if al == "#" {
			return true
		}
		rl, rrest, rmore := strings.Cut(r, "/")
		switch {
		case rl == "#":
			return false // r reaches the parent level and any depth; only "#" covers that
		case al == "+":
		case rl != al: // a literal level covers only the same literal, not "+"
			return false
		}
		switch {
		case !amore && !rmore:
			return true
		case !rmore:
			return arest == "#"
		case !amore:
			return false
		}
		a, r = arest, rrest
	}
}

var errPlaceholder = errors.New("placeholder value not usable in a topic")

// expand fills {client} and {user} into pattern p. A value must be a
// single, non-empty topic level without wildcards, so that no client can
// widen its own topic by its choice of ClientId or name.
func expand(p, client, user string) (string, error) {
	if strings.Contains(p, PlaceholderClient) && !topicLevel(client) {
		return "", fmt.Errorf("%w: client id %q", errPlaceholder, client)
	}
	if strings.Contains(p, PlaceholderUser) && !topicLevel(user) {
		return "", fmt.Errorf("%w: user %q", errPlaceholder, user)
	}
	return strings.NewReplacer(PlaceholderClient, client, PlaceholderUser, user).Replace(p), nil
}

func topicLevel(s string) bool {
	return s != "" && !strings.ContainsAny(s, "/+#\x00")
}

// session is the outcome of a CONNECT: who the client is and what it may
// do. It is immutable once made.
type session struct {
	name       string
	controller bool
	anyTopic   bool     // no ACL: no USPPolicy and no Account lists
	subscribe  []string // allowed SUBSCRIBE filters; announced in CONNACK
	publish    []string // filters that PUBLISH topics must match
	reply      string   // Response Information for MQTT 5 clients, or ""
	cred       credential
	// bindOwn, for an Agent under USPPolicy, is its own topic filter: its
	// PUBLISHes to Controller topics (ctlTopics) must carry a reply-to
	// inside it. Empty for everyone else.
	bindOwn, ctlTopics string
	// reports, for a Controller, is the filter of the Agents' report
	// topics (Options.ReportTopicPattern) it may subscribe to; it is not
	// announced in the CONNACK, so that a USP client does not take
	// reports for Records. Empty for everyone else.
	reports string
}

// newSession applies the policy of c to an authenticated account.
func (c *config) newSession(a Account, clientID string) (*session, error) {
	s := &session{name: a.Name, controller: a.Controller}
	if !c.USPPolicy && a.Subscribe == nil && a.Publish == nil {
		s.anyTopic = true
		return s, nil
	}
	if c.USPPolicy {
		own := c.AgentTopicPattern
		s.publish = append(s.publish, c.controllerPrefix)
		if a.Controller {
			own = c.ControllerTopicPattern
			s.publish = append(s.publish, c.agentPrefix)
		}
		f, err := expand(own, clientID, a.Name)
		if err != nil {
			return nil, err
		}
		s.subscribe = append(s.subscribe, f)
		if !a.Controller {
			s.bindOwn, s.ctlTopics = f, c.controllerPrefix
		}
		c.reportRights(s, a, clientID)
		if t, ok := strings.CutSuffix(f, "/#"); ok && !strings.ContainsAny(t, "+#") {
			s.reply = t // "usp/agent/x/#" covers "usp/agent/x"
		}
	}
	for _, lists := range []struct {
		src []string
		dst *[]string
	}{{a.Subscribe, &s.subscribe}, {a.Publish, &s.publish}} {
		for _, p := range lists.src {
			f, err := expand(p, clientID, a.Name)
			if err != nil {
				return nil, err
			}
			if !validFilter(f) {
				return nil, fmt.Errorf("%w %q", errPattern, p)
			}
			*lists.dst = append(*lists.dst, f)
		}
	}
	return s, nil
}

// maySubscribe reports whether the session may subscribe to filter f.
func (s *session) maySubscribe(f string) bool {
	if s.anyTopic {
		return true
	}
	if !validFilter(stripShare(f)) {
		return false
	}
	for _, a := range s.subscribe {
		if filterCovers(a, f) {
			return true
		}
	}
	return s.reports != "" && filterCovers(s.reports, f)
}

// mayPublish reports whether the session may publish to topic t.
func (s *session) mayPublish(t string) bool {
	if s.anyTopic {
		return true
	}
	if t == "" || strings.ContainsAny(t, "+#\x00") {
		return false
	}
	for _, a := range s.publish {
		if topicMatch(a, t) {
			return true
		}
	}
	return false
}

// replyToSep introduces the "reply to" Topic at the end of an MQTT 3.1.1
// Topic Name [R-MQTT.24].
const replyToSep = "/reply-to="

// replyBound reports whether a PUBLISH to topic with MQTT 5 Response
// Topic respTopic keeps the reply-to binding: an Agent's PUBLISH to a
// Controller topic must carry a "reply to" Topic [R-MQTT.22] in the
// Response Topic [R-MQTT.23] or after "/reply-to=" in the Topic Name
// [R-MQTT.24], and every one it carries must lie inside the Agent's own
// topic. So the account, its topic usp/agent/<EndpointID> and the reply
// the Controller sends form a chain the Controller can check against the
// Record's from_id.
func (s *session) replyBound(topic, respTopic string) bool {
	if s.bindOwn == "" || !topicMatch(s.ctlTopics, topic) {
		return true
	}
	found := false
	if respTopic != "" {
		if !s.inOwn(respTopic) {
			return false
		}
		found = true
	}
	if i := strings.LastIndex(topic, replyToSep); i >= 0 {
		rt := strings.ReplaceAll(strings.TrimLeft(topic[i+len(replyToSep):], " "), "%2F", "/")
		if !s.inOwn(rt) {
			return false
		}
		found = true
	}
	return found
}

func (s *session) inOwn(t string) bool {
	return t != "" && !strings.ContainsAny(t, "+#\x00") && topicMatch(s.bindOwn, t)
}
