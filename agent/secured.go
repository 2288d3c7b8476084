package agent

import (
	"slices"
	"strings"
)

// shown is the value of the parameter at path as the Controller c may see
// it in a notification: v, or "" for a secured parameter when c holds none
// of the SecuredRoles.
func (a *Agent) shown(c *controller, path, v string) string {
	if v == "" || a.acl.readsSecured(c.endpointID) {
		return v
	}
	obj, name := splitCommand(path)
	if p := paramOf(a.eng.Model(), obj, name); p != nil && p.Secured {
		return ""
	}
	return v
}

// Secured parameters (TR-369 "Secured Parameters"; TR-181
// Device.LocalAgent.ControllerTrust.SecuredRoles): a parameter of the
// secured type (a password, a key) reads as the empty string, in a
// GetResp or a ValueChange Notify, to every Controller except those
// holding one of the SecuredRoles, which see its value, subject as ever to
// their roles' permissions. Without SecuredRoles, no Controller sees
// secured values.

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
	refs = l.withInherited(id, refs) // credential.go
	refs = l.applyBan(refs)          // banned.go
	for _, r := range refs {
		if slices.Contains(l.secured, strings.TrimSuffix(strings.TrimSpace(r), ".")) {
			return true
		}
	}
	return false
}
