package broker

import "testing"

// TestReportTopicPolicy checks Options.ReportTopicPattern: an Agent
// publishes reports under its own name only, a Controller subscribes to
// all of them, and patterns that would reach Agent or Controller topics
// are refused.
func TestReportTopicPolicy(t *testing.T) {
	c, err := newConfig(&Options{USPPolicy: true, ReportTopicPattern: "usp/bulkdata/{user}/#"})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := c.newSession(Account{Name: "os::0044FF-A1"}, "cid")
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := c.newSession(Account{Name: "controller", Controller: true}, "ctl")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		topic string
		want  bool
	}{
		{"usp/bulkdata/os::0044FF-A1", true},
		{"usp/bulkdata/os::0044FF-A1/report", true},
		{"usp/bulkdata/os::0044FF-B2/report", false}, // another Agent's name
		{"usp/bulkdata", false},
		{"usp/bulkdata/+/report", false},
		{"usp/agent/os::0044FF-B2", false},
	} {
		if got := agent.mayPublish(tc.topic); got != tc.want {
			t.Errorf("Agent may publish to %q: %v, want %v", tc.topic, got, tc.want)
		}
	}
	// A report carries no reply-to, and needs none outside the Controller topics.
	if !agent.replyBound("usp/bulkdata/os::0044FF-A1/report", "") {
		t.Error("a report PUBLISH without reply-to is refused")
	}
	if agent.replyBound("usp/controller/controller/x", "") {
		t.Error("a USP Record PUBLISH without reply-to is allowed") // [R-MQTT.22]
	}
	for _, tc := range []struct {
		filter   string
		ctl, agt bool
	}{
		{"usp/bulkdata/+/#", true, false},
		{"usp/bulkdata/#", false, false},
		{"usp/bulkdata/os::0044FF-A1/#", true, false},
	} {
		if got := ctl.maySubscribe(tc.filter); got != tc.ctl {
			t.Errorf("Controller may subscribe to %q: %v, want %v", tc.filter, got, tc.ctl)
		}
		if got := agent.maySubscribe(tc.filter); got != tc.agt {
			t.Errorf("Agent may subscribe to %q: %v, want %v", tc.filter, got, tc.agt)
		}
	}
	// An anonymous client (no name for {user}) connects without report rights.
	anon, err := c.newSession(Account{}, "anon")
	if err == nil && anon.mayPublish("usp/bulkdata/anon") {
		t.Error("an anonymous client may publish reports")
	}
	// Without the option nobody publishes there.
	c0, _ := newConfig(&Options{USPPolicy: true})
	a0, _ := c0.newSession(Account{Name: "os::0044FF-A1"}, "cid")
	if a0.mayPublish("usp/bulkdata/os::0044FF-A1") {
		t.Error("report topic allowed without ReportTopicPattern")
	}
	for _, p := range []string{"usp/bulkdata/x/#", "usp/agent/{user}/bulk", "usp/controller/{user}/bulk", "{user}/#", "usp/bulk+/{user}"} {
		if _, err := newConfig(&Options{USPPolicy: true, ReportTopicPattern: p}); err == nil {
			t.Errorf("ReportTopicPattern %q accepted", p)
		}
	}
}

// TestReportTopicNotAnnounced: the report filter is not among a
// Controller's "subscribe-topic" CONNACK filters [R-MQTT.44], which USP
// clients subscribe to and read as Records.
func TestReportTopicNotAnnounced(t *testing.T) {
	c, err := newConfig(&Options{USPPolicy: true, ReportTopicPattern: "usp/bulkdata/{user}/#"})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := c.newSession(Account{Name: "controller", Controller: true}, "ctl")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ctl.subscribe {
		if filterCovers(f, "usp/bulkdata/x") {
			t.Errorf("report topics announced in %q", f)
		}
	}
}
