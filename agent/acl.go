package agent

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/uspkit/uspkit/datamodel"
)

// acl holds the ControllerTrust configuration in the form permission
// checks need: every Controller's roles, and every role's permissions in
// order (TR-181 Device.LocalAgent.ControllerTrust, TR-369 "Access Control").
type acl struct {
	mu        sync.RWMutex
	gen       uint64
	roles     map[string]*role    // by reference, "Device.LocalAgent.ControllerTrust.Role.1"
	ctrls     map[string][]string // enabled Controller endpoint ID → role references
	untrusted []string
	secured   []string // SecuredRoles, Role references without the trailing dot (secured.go)
	// cached are the permissions handed out since the last set, by
	// Controller, so that the paths one message resolves are remembered
	// for the next (a Perms result depends only on the roles).
	cached map[string]*access
	cred   credACL // roles inherited from certificates (credential.go)
	banned string  // BannedRole reference without the trailing dot (banned.go)
}

type role struct {
	perms []perm // by Order
}

// perm is one enabled Permission entry.
type perm struct {
	order   uint64
	targets []string
	// bits per family: Param, Obj, InstantiatedObj, CommandEvent.
	param, obj, inst, cmd datamodel.Perms
}

func newACL() *acl {
	return &acl{roles: map[string]*role{}, ctrls: map[string][]string{}}
}

// set replaces the configuration.
func (l *acl) set(roles map[string]*role, ctrls map[string][]string, untrusted []string) {
	for _, r := range roles {
		slices.SortStableFunc(r.perms, func(a, b perm) int { return cmp.Compare(a.order, b.order) })
	}
	l.mu.Lock()
	l.roles, l.ctrls, l.untrusted = roles, ctrls, untrusted
	l.cached = nil
	l.gen++
	l.mu.Unlock()
}

// forController returns the permissions of the Controller with the given
// Endpoint ID: those of its AssignedRole, or of the UntrustedRole when it
// is not a known, enabled Controller.
func (l *acl) forController(id string) datamodel.Access {
	l.mu.RLock()
	a := l.cached[id]
	l.mu.RUnlock()
	if a != nil {
		return a
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	a = l.build(id)
	// Unknown Controllers share the untrusted role; only the configured
	// ones (bounded by the data model) are remembered.
	if _, known := l.ctrls[id]; known {
		if l.cached == nil {
			l.cached = map[string]*access{}
		}
		l.cached[id] = a
	}
	return a
}

// build makes the permissions of one Controller; l.mu is held.
func (l *acl) build(id string) *access {
	refs, ok := l.ctrls[id]
	if !ok {
		refs = l.untrusted
	}
	refs = l.withInherited(id, refs) // credential.go
	refs = l.applyBan(refs)          // banned.go
	var rs []*role
	for _, ref := range refs {
		if r := l.roles[strings.TrimSuffix(ref, ".")]; r != nil {
			rs = append(rs, r)
		}
	}
	return &access{roles: rs, keep: instDepths(rs), cache: map[string]datamodel.Perms{}}
}

// access is one caller's permissions, with a cache of the paths asked
// about (at most 4,096), kept until the configuration changes. The cache
// is keyed by schema path where the targets allow it (aclcache.go).
type access struct {
	roles []*role
	keep  uint64 // depths at which a target names an instance (instDepths)
	mu    sync.RWMutex
	cache map[string]datamodel.Perms
}

// Perms combines the caller's roles: a right granted by any role is
// granted. Within a role, each family of rights comes from the
// highest-ordered Permission whose Targets match the path.
func (a *access) Perms(path string) datamodel.Perms {
	var buf [128]byte
	key := schemaKey(buf[:0], path, a.keep)
	a.mu.RLock()
	var p datamodel.Perms
	var ok bool
	if key != nil {
		p, ok = a.cache[string(key)]
	} else {
		p, ok = a.cache[path]
	}
	a.mu.RUnlock()
	if ok {
		return p
	}
	var out datamodel.Perms
	for _, r := range a.roles {
		var param, obj, inst, cmd datamodel.Perms
		for _, p := range r.perms {
			if p.matches(path) {
				param, obj, inst, cmd = p.param, p.obj, p.inst, p.cmd
			}
		}
		out |= param | obj | inst | cmd
	}
	a.mu.Lock()
	if len(a.cache) < 4096 {
		if key != nil {
			a.cache[string(key)] = out
		} else {
			a.cache[path] = out
		}
	}
	a.mu.Unlock()
	return out
}

func (p *perm) matches(path string) bool {
	for _, t := range p.targets {
		if targetMatches(t, path) {
			return true
		}
	}
	return false
}

// targetMatches reports whether a Permission target covers path. A target
// ending in '.' covers everything below it; '*' and "{i}" stand for any
// instance. A table path ("Device.X.") is covered by targets for its
// instances ("Device.X.*.").
func targetMatches(target, path string) bool {
	if target == "" {
		return false
	}
	partial := strings.HasSuffix(target, ".")
	t, p := strings.TrimSuffix(target, "."), strings.TrimSuffix(path, ".")
	for { // segment by segment, without allocating
		ts, trest, tmore := strings.Cut(t, ".")
		ps, prest, pmore := strings.Cut(p, ".")
		if ts != ps && !((ts == "*" || ts == "{i}") && isInstance(ps)) {
			return false
		}
		switch {
		case !tmore && !pmore:
			return true
		case !tmore:
			return partial
		case !pmore: // the target is longer: only a table path and its rows
			last, _, more := strings.Cut(trest, ".")
			return !more && strings.HasSuffix(path, ".") && (last == "*" || last == "{i}")
		}
		t, p = trest, prest
	}
}

func isInstance(s string) bool {
	if s == "{i}" || s == "*" {
		return true
	}
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil && s != "0"
}

// permBits turns a permission string ("rw-n") of one family into bits.
func permBits(s string, r, w, x, n datamodel.Perms) datamodel.Perms {
	var out datamodel.Perms
	for i, b := range []datamodel.Perms{r, w, x, n} {
		if i < len(s) && s[i] != '-' {
			out |= b
		}
	}
	return out
}

func newPerm(order uint64, targets, param, obj, inst, cmd string) perm {
	p := perm{order: order}
	for t := range strings.SplitSeq(targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			p.targets = append(p.targets, t)
		}
	}
	p.param = permBits(param, datamodel.ParamRead, datamodel.ParamWrite, 0, datamodel.ParamNotify)
	p.obj = permBits(obj, datamodel.ObjRead, datamodel.ObjWrite, 0, datamodel.ObjNotify)
	p.inst = permBits(inst, datamodel.InstRead, datamodel.InstWrite, 0, datamodel.InstNotify)
	p.cmd = permBits(cmd, datamodel.CmdRead, 0, datamodel.CmdExec, datamodel.CmdNotify)
	return p
}
