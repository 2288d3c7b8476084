package agent

import (
	"slices"
	"strings"
)

// The BannedRole (TR-369 "Roles (Access Control)", "Assigning Controller
// Roles"; TR-181 Device.LocalAgent.ControllerTrust.BannedRole): a
// Controller holding it, assigned or inherited, has that Role's
// permissions and no other's, whatever else its AssignedRole or
// InheritedRole lists. The BannedRole usually grants nothing, so the
// Agent answers every request from such a Controller with 7006, and it
// cannot answer a Challenge to lift the ban (challenge.go).

// setBanned replaces the BannedRole ("" for none).
func (l *acl) setBanned(ref string) {
	ref = strings.TrimSuffix(strings.TrimSpace(ref), ".")
	l.mu.Lock()
	if l.banned != ref {
		l.banned = ref
		l.cached = nil
		l.gen++
	}
	l.mu.Unlock()
}

// applyBan returns refs, or the BannedRole alone when refs hold it; l.mu
// is held.
func (l *acl) applyBan(refs []string) []string {
	if l.banned == "" {
		return refs
	}
	if slices.ContainsFunc(refs, func(r string) bool { return strings.TrimSuffix(strings.TrimSpace(r), ".") == l.banned }) {
		return []string{l.banned}
	}
	return refs
}
