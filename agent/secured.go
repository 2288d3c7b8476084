package agent

import (
	"slices"
	"strings"
)

// Secured parameters (TR-369 "Secured Parameters"; TR-181
// Device.LocalAgent.ControllerTrust.SecuredRoles): a parameter of the
// secured type (a password, a key) reads as the empty string to every
// Controller except those holding one of the SecuredRoles, which read its
// value, subject as ever to their roles' permissions. Without
// SecuredRoles, no Controller reads secured values.

// splitRoles reads a comma-separated list of Role references, without
// their trailing dots.
func splitRoles(v string) []string {
	var out []string
	for r := range strings.SplitSeq(v, ",") {
		if r = strings.TrimSuffix(strings.TrimSpace(r), "."); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// setSecured replaces the SecuredRoles.
func (l *acl) setSecured(refs []string) {
	l.mu.Lock()
	l.secured = refs
	l.mu.Unlock()
}

// readsSecured reports whether the Controller with Endpoint ID id holds
// one of the SecuredRoles, and so reads secured parameters as they are.
// An unknown Controller has the UntrustedRole only.
func (l *acl) readsSecured(id string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.secured) == 0 {
		return false
	}
	refs, ok := l.ctrls[id]
	if !ok {
		refs = l.untrusted
	}
	for _, r := range refs {
		if slices.Contains(l.secured, strings.TrimSuffix(strings.TrimSpace(r), ".")) {
			return true
		}
	}
	return false
}
