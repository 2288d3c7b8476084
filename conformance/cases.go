package conformance

import (
	"strings"
	"time"
)

// Case is one test case of TP-469.
type Case struct {
	ID, Title, Tag string
	run            func(*T)
	skip           string        // why the runner never runs it, when run is nil
	wait           time.Duration // extra time the case needs
	valueChange    bool          // waits for a ValueChange Notify (Options.ValueChangeWait)
}

// Runnable reports whether the runner implements the case, and if not,
// why.
func (c Case) Runnable() (bool, string) { return c.run != nil, c.skip }

// caseFunc is a case implementation with the extra time it may need.
type caseFunc struct {
	run  func(*T)
	wait time.Duration
	long bool // waits long: only with Options.Long
	boot bool // reboots the Agent: only with Options.Reboot
	// valueChange: the case waits for ValueChange Notifications, each up
	// to Options.ValueChangeWait, which its time limit includes.
	valueChange bool
}

// Cases returns every case of the plan, in order.
func Cases() []Case {
	impl := implementations()
	out := make([]Case, 0, len(plan))
	for _, p := range plan {
		c := Case{ID: p.id, Title: p.title, Tag: p.tag}
		if f, ok := impl[p.id]; ok {
			c.run, c.wait, c.valueChange = f.run, f.wait, f.valueChange
			if f.long {
				c.run = longCase(f.run)
			}
			if f.boot {
				c.run = bootCase(c.run)
			}
		} else {
			c.skip = skipReason(p.id, p.tag)
		}
		out = append(out, c)
	}
	return out
}

func longCase(f func(*T)) func(*T) {
	return func(t *T) {
		if !t.r.o.Long {
			t.Skipf("waits longer than 20 seconds (run with long waits enabled)")
		}
		f(t)
	}
}

func bootCase(f func(*T)) func(*T) {
	return func(t *T) {
		if !t.r.o.Reboot {
			t.Skipf("reboots the agent (run with reboots enabled)")
		}
		f(t)
	}
}

func implementations() map[string]caseFunc {
	m := map[string]caseFunc{}
	for id, f := range section1() {
		m[id] = f
	}
	for id, f := range section2() {
		m[id] = f
	}
	for id, f := range section7() {
		m[id] = f
	}
	for id, f := range section8() {
		m[id] = f
	}
	for id, f := range section3() {
		m[id] = f
	}
	for id, f := range sectionsOther() {
		m[id] = f
	}
	for id, f := range sectionsBroker() {
		m[id] = f
	}
	for id, f := range sectionDiag() {
		m[id] = f
	}
	for id, f := range section10() {
		m[id] = f
	}
	for id, f := range section9() {
		m[id] = f
	}
	for id, f := range section11() {
		m[id] = f
	}
	for id, f := range section6() {
		m[id] = f
	}
	for id, f := range section4() {
		m[id] = f
	}
	return m
}

// skipReason says why a case is not run.
func skipReason(id, tag string) string {
	switch tag {
	case "Deprecated":
		return "deprecated in the test plan"
	case "Deleted":
		return "deleted from the test plan"
	case "Future":
		return "left for future work in the test plan"
	}
	if r, ok := reasons[id]; ok {
		return r
	}
	sec, _, _ := strings.Cut(id, ".")
	if r, ok := sectionReasons[sec]; ok {
		return r
	}
	return "not implemented by this runner"
}

var sectionReasons = map[string]string{
	"5":  "CoAP is obsolete in USP 1.3",
	"8":  "needs a DHCP server or mDNS on the agent's network",
	"10": "needs the BulkData profile and an HTTP collector",
}

var reasons = map[string]string{}
