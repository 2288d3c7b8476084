package broker

import (
	"fmt"
	"strings"
)

// checkReportPattern checks Options.ReportTopicPattern: a valid filter
// once its placeholders are filled in, holding one, and reaching neither
// the Agent nor the Controller topics (an Agent could otherwise publish
// there without the reply-to binding, or to other Agents).
func (c *config) checkReportPattern() error {
	p := c.ReportTopicPattern
	if p == "" {
		return nil
	}
	if !strings.Contains(p, PlaceholderUser) && !strings.Contains(p, PlaceholderClient) {
		return fmt.Errorf("broker: ReportTopicPattern %q holds no {user} or {client}", p)
	}
	f := reportFilter(p)
	if !validFilter(f) {
		return fmt.Errorf("broker: ReportTopicPattern %q is not a topic filter", p)
	}
	for _, prefix := range []string{c.agentPrefix, c.controllerPrefix} {
		if filterCovers(prefix, f) || filterCovers(f, prefix) {
			return fmt.Errorf("broker: ReportTopicPattern %q overlaps %q", p, prefix)
		}
	}
	return nil
}

// reportFilter is pattern p with each placeholder as "+": the topics of
// every Agent's reports.
func reportFilter(p string) string {
	return strings.NewReplacer(PlaceholderClient, "+", PlaceholderUser, "+").Replace(p)
}

// reportRights gives session s, under USPPolicy, its rights on the
// report topics: an Agent may publish under its own name only, a
// Controller may subscribe to every Agent's reports. An Agent whose
// name cannot fill the pattern (an anonymous one for {user}) gets no
// report topic.
func (c *config) reportRights(s *session, a Account, clientID string) {
	if c.ReportTopicPattern == "" {
		return
	}
	if a.Controller {
		s.reports = reportFilter(c.ReportTopicPattern)
		return
	}
	if f, err := expand(c.ReportTopicPattern, clientID, a.Name); err == nil {
		s.publish = append(s.publish, f)
	}
}
