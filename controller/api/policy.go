package api

import (
	"fmt"
	"strings"

	"github.com/uspkit/uspkit/wire"
)

// PathRule says that changing what lies under Path, or running a command
// there, needs Role. Path is a TR-181 Path Name without instance numbers:
// an object ("Device.LocalAgent.Controller.") covers everything below it;
// a command ("Device.Reboot()") covers only that command.
type PathRule struct {
	Path string `json:"path"`
	Role Role   `json:"role"`
	// Why is shown in the 403 answer and in the documentation.
	Why string `json:"why"`
	// Read, if set, is the least role that may read what lies under
	// Path (a Get or GetInstances that could return it): for objects
	// holding credentials. Empty means Viewer, any token.
	Read Role `json:"read,omitempty"`
}

// DefaultPolicy is the table Options.Policy defaults to: what an Agent's
// operator may not change without the admin role, because it decides who
// controls the Agent, how it is reached, what it trusts, or whether it
// keeps running; and what a viewer may not read, because it holds
// credentials (Read). It returns a new slice on every call.
func DefaultPolicy() []PathRule {
	return []PathRule{
		{"Device.LocalAgent.Controller.", Admin, "which Controllers manage the Agent, their roles and credentials", Operator},
		{"Device.LocalAgent.ControllerTrust.", Admin, "roles, trusted credentials and challenges (TR-369 R-SEC.3)", Operator},
		{"Device.LocalAgent.MTP.", Admin, "how the Agent is reached", ""},
		{"Device.LocalAgent.Certificate.", Admin, "certificates the Agent trusts", ""},
		{"Device.LocalAgent.AddCertificate()", Admin, "certificates the Agent trusts", ""},
		{"Device.LocalAgent.Request.", Admin, "requests the Agent runs", ""},
		{"Device.MQTT.", Admin, "broker addresses and passwords", Operator},
		{"Device.STOMP.", Admin, "broker addresses and passwords", Operator},
		{"Device.Security.", Admin, "certificates and keys", Operator},
		{"Device.Users.", Admin, "user accounts and passwords", Operator},
		{"Device.DeviceInfo.FirmwareImage.", Admin, "firmware Download() and Activate()", ""},
		{"Device.SoftwareModules.", Admin, "installing and running software", ""},
		{"Device.FactoryReset()", Admin, "erases the Agent's configuration", ""},
		{"Device.Reboot()", Admin, "restarts the device", ""},
		{"Device.ScheduleTimer()", Admin, "schedules commands", ""},
	}
}

// requiredRole returns the least role that may send req to an Agent under
// policy, and the path that asks for it. GetSupportedDM and
// GetSupportedProtocol, which return no values, need Viewer; a Get or
// GetInstances needs Viewer, or the highest Read role of the rules whose
// path what it returns could reach (see readReaches); a write or a
// command needs Operator, or the highest
// role of the rules its paths could reach, matching conservatively (see
// reaches); a request type the API does not know needs Admin.
func requiredRole(req *wire.Request, policy []PathRule) (Role, string) {
	need, at := Operator, ""
	raise := func(path string, prefixToo bool) {
		for _, r := range policy {
			if r.Role.allows(need) && r.Role != need && reaches(path, r.Path, prefixToo) {
				need, at = r.Role, path
			}
		}
	}
	// raiseRead: a read of path going below levels down (-1: all the
	// way) that could return what a rule's object holds needs the
	// rule's Read role.
	raiseRead := func(path string, below int) {
		for _, r := range policy {
			if r.Read.allows(need) && r.Read != need && readReaches(path, r.Path, below) {
				need, at = r.Read, path
			}
		}
	}
	switch t := req.GetReqType().(type) {
	case *wire.Request_GetSupportedDm, *wire.Request_GetSupportedProtocol:
		need = Viewer
	case *wire.Request_Get:
		need = Viewer
		below := int(t.Get.GetMaxDepth()) - 1 // max_depth 1: the object's own parameters
		for _, p := range t.Get.GetParamPaths() {
			raiseRead(p, below)
		}
	case *wire.Request_GetInstances:
		need = Viewer
		below := -1
		if t.GetInstances.GetFirstLevelOnly() {
			below = 1 // the instances of the tables just below
		}
		for _, p := range t.GetInstances.GetObjPaths() {
			raiseRead(p, below)
		}
	case *wire.Request_Set:
		for _, o := range t.Set.GetUpdateObjs() {
			for _, p := range o.GetParamSettings() {
				raise(joinParam(o.GetObjPath(), p.GetParam()), false)
			}
		}
	case *wire.Request_Add:
		for _, o := range t.Add.GetCreateObjs() {
			raise(o.GetObjPath(), true)
			for _, p := range o.GetParamSettings() {
				raise(joinParam(o.GetObjPath(), p.GetParam()), false)
			}
		}
	case *wire.Request_Delete:
		for _, p := range t.Delete.GetObjPaths() {
			raise(p, true)
		}
	case *wire.Request_Operate:
		raise(t.Operate.GetCommand(), false)
	default:
		return Admin, fmt.Sprintf("request type %T", t)
	}
	return need, at
}

// refusedWhat says what a refused request would have done, for the 403
// answer: read or change path, or send a request of its type.
func refusedWhat(req *wire.Request, path string) string {
	switch {
	case path == "":
		return "send this request"
	case req.GetGet() != nil || req.GetGetInstances() != nil:
		return "read " + path
	}
	return "change " + path
}

func joinParam(obj, param string) string {
	if strings.HasSuffix(obj, ".") || obj == "" {
		return obj + param
	}
	return obj + "." + param
}

// reaches reports whether path, as an Agent may resolve it, could touch
// what rule covers. Segments are compared one by one: names must be equal,
// while an instance number, a wildcard, a unique-key or search expression
// ([…]) or an {i} may stand for anything, since an Agent that resolves a
// path differently must not let it past. A path using reference following
// (+ or #) could lead anywhere and reaches every rule. A path that is
// shorter than the rule reaches it only when prefixToo is set (deleting
// or adding above a sensitive object removes or creates it as well). A
// path that does not parse reaches every rule.
func reaches(path, rule string, prefixToo bool) bool {
	ps, ok := segments(path)
	if !ok {
		return true
	}
	rs, _ := segments(rule)
	for _, s := range ps {
		if strings.ContainsAny(s, "+#") {
			return true
		}
	}
	n := min(len(ps), len(rs))
	for i := range n {
		if ps[i] != rs[i] && !isInstance(ps[i]) {
			return false
		}
	}
	return len(ps) >= len(rs) || prefixToo
}

// readReaches reports whether a read of path that goes below levels of
// objects down (-1: all the way) could return something under rule: path
// reaches rule as a change would (see reaches), or lies above it by at
// most below object names (instance segments do not count, so that the
// answer errs on the side of refusing).
func readReaches(path, rule string, below int) bool {
	if reaches(path, rule, false) {
		return true
	}
	if !reaches(path, rule, true) {
		return false
	}
	ps, _ := segments(path)
	rs, _ := segments(rule)
	names := 0
	for _, s := range rs[len(ps):] {
		if !isInstance(s) {
			names++
		}
	}
	return below < 0 || names <= below
}

// isInstance reports whether a path segment addresses instances rather
// than naming an object, parameter or command.
func isInstance(s string) bool {
	if s == "*" || s == "{i}" || strings.HasPrefix(s, "[") {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// segments splits a Path Name at the dots that are not inside a [...]
// expression or a quoted string in one; a trailing dot ends the last
// segment. ok is false for unbalanced brackets or quotes, or an empty
// segment.
func segments(path string) (segs []string, ok bool) {
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case quoted:
			if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '[':
			depth++
		case c == ']':
			if depth--; depth < 0 {
				return nil, false
			}
		case c == '.' && depth == 0:
			if i == start {
				return nil, false
			}
			segs = append(segs, path[start:i])
			start = i + 1
		}
	}
	if quoted || depth != 0 {
		return nil, false
	}
	if start < len(path) {
		segs = append(segs, path[start:])
	}
	return segs, len(segs) > 0
}
