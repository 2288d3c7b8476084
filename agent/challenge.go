package agent

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// Challenges (TR-369 "Challenge Strings and Images", "Challenges",
// "Assigning Controller Roles"; TR-181 Device.LocalAgent.ControllerTrust.
// Challenge.{i}, RequestChallenge() and ChallengeResponse()):
//
//   - RequestChallenge() names an enabled Challenge row and returns its
//     Instruction, InstructionType and ValueType with a fresh ChallengeID,
//     valid for RequestExpiration seconds (900 by default, 0: no expiry).
//     A Controller has at most one outstanding request: one for another
//     Challenge is denied (7002) until the first succeeds or expires; one
//     for the same Challenge replaces it.
//   - ChallengeResponse() with the ChallengeID and the Value: a match gives
//     the calling Controller the Challenge's Role, which replaces the
//     UntrustedRole in its Controller.{i}.AssignedRole or is appended to
//     the roles there (no duplicates). A Controller holding the BannedRole
//     is refused.
//   - Failures count per Challenge, across Controllers, until a success.
//     When they reach Retries (at least one: the number of tries is
//     always limited [R-SEC.16]), the Challenge is locked out for
//     LockoutPeriod seconds [R-SEC.17]: RequestChallenge() and
//     ChallengeResponse() against it fail with 7002, even with the right
//     Value; the count starts again when the lockout ends. A LockoutPeriod
//     of 0 locks nothing out.
//   - An unknown or expired ChallengeID is refused with 7004.
//   - Value is a secured parameter: it reads as the empty string and is
//     sealed at rest where the Agent's store seals secured parameters.
//
// Outstanding requests, counts and lockouts live in memory: a restart
// forgets them [R-SEC.21].

const (
	pathChallenges = "Device.LocalAgent.ControllerTrust.Challenge."
	cmdRequestChal = "Device.LocalAgent.ControllerTrust.RequestChallenge()"
	cmdChalResp    = "Device.LocalAgent.ControllerTrust.ChallengeResponse()"
	// defaultChallengeExpiration is RequestExpiration's default, seconds.
	defaultChallengeExpiration = 900
	// maxPendingChallenges bounds the outstanding requests.
	maxPendingChallenges = 1024
)

// defineChallenges adds ControllerTrust.Challenge.{i} and its commands, as
// TR-181 2.16 has them.
func defineChallenges(m *schema.Model) {
	media := []string{"text/plain", "image/jpeg"}
	m.Extend("Device.LocalAgent.ControllerTrust.").
		Param("ChallengeNumberOfEntries", schema.UnsignedInt()).
		Command("RequestChallenge()", false,
			[]*schema.Param{
				schema.Arg("ChallengeRef", schema.String(schema.Ref()), schema.Mandatory),
				schema.Arg("RequestExpiration", schema.Int(schema.Bounds("0", ""))),
			},
			[]*schema.Param{
				schema.Arg("Instruction", schema.Base64()),
				schema.Arg("InstructionType", schema.String()),
				schema.Arg("ValueType", schema.String()),
				schema.Arg("ChallengeID", schema.String()),
			}).
		Command("ChallengeResponse()", false,
			[]*schema.Param{
				schema.Arg("ChallengeID", schema.String(), schema.Mandatory),
				schema.Arg("Value", schema.Base64(), schema.Mandatory),
			}, nil)
	m.Define("Device.LocalAgent.ControllerTrust.Challenge.{i}.", schema.ObjAddDelete, schema.AliasKey(),
		schema.NumEntries("ChallengeNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Description", schema.String(), schema.ReadWrite).
		Param("Role", schema.String(schema.ListOf(0, 0), schema.Ref()), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Type", schema.String(schema.Enum("Passphrase")), schema.ReadWrite).
		Param("Value", schema.Base64(), schema.ReadWrite, schema.Secured).
		Param("ValueType", schema.String(schema.Enum(media...)), schema.ReadWrite).
		Param("Instruction", schema.Base64(), schema.ReadWrite).
		Param("InstructionType", schema.String(schema.Enum(append(media, "text/html")...)), schema.ReadWrite).
		Param("Retries", schema.UnsignedInt(), schema.ReadWrite).
		Param("LockoutPeriod", schema.Int(schema.Bounds("0", "")), schema.ReadWrite, schema.Default("30"))
}

// pendingChallenge is an outstanding RequestChallenge().
type pendingChallenge struct {
	ctrl    string    // the requesting Controller's Endpoint ID
	ref     string    // "Device.LocalAgent.ControllerTrust.Challenge.1"
	expires time.Time // zero: never
}

// challenges is the Agent's challenge state.
type challenges struct {
	mu      sync.Mutex
	pending map[string]pendingChallenge // by ChallengeID
	fails   map[string]uint32           // consecutive failures by Challenge reference
	locked  map[string]time.Time        // lockout end by Challenge reference
}

// prune drops expired requests and ended lockouts; c.mu is held.
func (c *challenges) prune(now time.Time) {
	for id, p := range c.pending {
		if !p.expires.IsZero() && !now.Before(p.expires) {
			delete(c.pending, id)
		}
	}
	for ref, until := range c.locked {
		if !now.Before(until) {
			delete(c.locked, ref)
			delete(c.fails, ref) // the count starts again after a lockout
		}
	}
}

// lockedOut reports whether the Challenge ref is locked out; c.mu is held.
func (c *challenges) lockedOut(ref string, now time.Time) bool {
	until, ok := c.locked[ref]
	return ok && now.Before(until)
}

// challengeRef reads a reference to a Challenge row, without its dot.
func challengeRef(v string) (string, bool) {
	ref := strings.TrimSuffix(strings.TrimSpace(v), ".")
	rest, ok := strings.CutPrefix(ref, pathChallenges)
	if !ok {
		return "", false
	}
	n, err := strconv.ParseUint(rest, 10, 32)
	return ref, err == nil && n > 0
}

// challengeRow returns the enabled Challenge row ref's parameters.
func (a *Agent) challengeRow(ctx context.Context, ref string) (map[string]string, bool) {
	p, ok := a.rows(ctx, ref+".")[ref+"."]
	return p, ok && p["Enable"] == "true"
}

// requestChallenge serves ControllerTrust.RequestChallenge().
func (a *Agent) requestChallenge(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	from := r.Caller.EndpointID
	ref, ok := challengeRef(r.Values["ChallengeRef"])
	var row map[string]string
	if ok {
		row, ok = a.challengeRow(ctx, ref)
	}
	if !ok {
		a.log.InfoContext(ctx, "RequestChallenge refused: no such enabled Challenge", "controller", from, "ref", r.Values["ChallengeRef"])
		return usperr.Errorf(usperr.CodeInvalidValue, "ChallengeRef: %q is not an enabled %s{i} row", r.Values["ChallengeRef"], pathChallenges)
	}
	expiration := int64(defaultChallengeExpiration)
	if v, given := r.Values["RequestExpiration"]; given && v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return usperr.Errorf(usperr.CodeInvalidCommandArgs, "RequestExpiration: %q is not a number of seconds", v)
		}
		expiration = n
	}
	now := a.now()
	c := &a.chal
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prune(now)
	if c.lockedOut(ref, now) { // [R-SEC.17]
		a.log.InfoContext(ctx, "RequestChallenge refused: the Challenge is locked out (TR-369 R-SEC.17)", "controller", from, "challenge", ref)
		return usperr.Errorf(usperr.CodeRequestDenied, "%s. is locked out after failed responses", ref)
	}
	for id, p := range c.pending {
		if p.ctrl != from {
			continue
		}
		if p.ref != ref {
			return usperr.Errorf(usperr.CodeRequestDenied, "a request for %s. is outstanding: answer it or let it expire", p.ref)
		}
		delete(c.pending, id)
	}
	if len(c.pending) >= maxPendingChallenges {
		a.log.WarnContext(ctx, "RequestChallenge refused: too many outstanding challenges", "controller", from)
		return usperr.Errorf(usperr.CodeResourcesExceeded, "%d challenges are outstanding", len(c.pending))
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	id := hex.EncodeToString(b[:])
	p := pendingChallenge{ctrl: from, ref: ref}
	if expiration > 0 {
		p.expires = now.Add(time.Duration(expiration) * time.Second)
	}
	if c.pending == nil {
		c.pending = map[string]pendingChallenge{}
	}
	c.pending[id] = p
	w.SetValue("Instruction", row["Instruction"])
	w.SetValue("InstructionType", row["InstructionType"])
	w.SetValue("ValueType", row["ValueType"])
	w.SetValue("ChallengeID", id)
	a.log.InfoContext(ctx, "challenge requested", "controller", from, "challenge", ref, "expiration_s", expiration)
	return nil
}

// challengeResponse serves ControllerTrust.ChallengeResponse().
func (a *Agent) challengeResponse(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	from, id := r.Caller.EndpointID, r.Values["ChallengeID"]
	now := a.now()
	c := &a.chal
	c.mu.Lock()
	c.prune(now)
	p, ok := c.pending[id]
	c.mu.Unlock()
	if !ok || p.ctrl != from {
		a.log.InfoContext(ctx, "ChallengeResponse refused: unknown or expired ChallengeID", "controller", from)
		return usperr.Errorf(usperr.CodeInvalidArguments, "ChallengeID: %q is not an outstanding challenge of this Controller", id)
	}
	row, ok := a.challengeRow(ctx, p.ref)
	if !ok {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return usperr.Errorf(usperr.CodeInvalidArguments, "ChallengeID: %s. is gone or disabled", p.ref)
	}
	want, errW := base64.StdEncoding.DecodeString(row["Value"])
	got, errG := base64.StdEncoding.DecodeString(r.Values["Value"])
	match := errW == nil && errG == nil && len(want) > 0 && subtle.ConstantTimeCompare(want, got) == 1
	c.mu.Lock()
	if c.lockedOut(p.ref, now) { // even the right Value [R-SEC.17]
		c.mu.Unlock()
		a.log.InfoContext(ctx, "ChallengeResponse refused: the Challenge is locked out (TR-369 R-SEC.17)", "controller", from, "challenge", p.ref)
		return usperr.Errorf(usperr.CodeRequestDenied, "%s. is locked out after failed responses", p.ref)
	}
	if !match {
		if c.fails == nil {
			c.fails = map[string]uint32{}
		}
		c.fails[p.ref]++
		n := c.fails[p.ref]
		limit := max(atou(row["Retries"]), 1) // [R-SEC.16]
		lockout, _ := strconv.ParseInt(row["LockoutPeriod"], 10, 64)
		locked := n >= limit && lockout > 0
		if locked {
			if c.locked == nil {
				c.locked = map[string]time.Time{}
			}
			c.locked[p.ref] = now.Add(time.Duration(lockout) * time.Second)
		}
		c.mu.Unlock()
		a.log.WarnContext(ctx, "challenge failed", "controller", from, "challenge", p.ref, "failures", n, "locked_out_s", map[bool]int64{true: lockout}[locked])
		return usperr.Errorf(usperr.CodeRequestDenied, "the Value does not answer %s.", p.ref)
	}
	delete(c.fails, p.ref)
	delete(c.pending, id)
	c.mu.Unlock()
	if err := a.grantChallengeRoles(ctx, from, splitRoles(row["Role"])); err != nil {
		a.log.WarnContext(ctx, "challenge answered but no role given", "controller", from, "challenge", p.ref, "err", err)
		return err
	}
	a.log.InfoContext(ctx, "challenge answered: role given", "controller", from, "challenge", p.ref, "roles", row["Role"])
	return nil
}

// grantChallengeRoles writes roles into the Controller id's AssignedRole:
// they replace the UntrustedRole there, or are appended to the other
// roles, without duplicates (TR-369 "Challenges").
func (a *Agent) grantChallengeRoles(ctx context.Context, id string, roles []string) error {
	var path string
	var p map[string]string
	for rp, row := range a.rows(ctx, pathControllers) {
		if rest, ok := strings.CutPrefix(rp, pathControllers); ok && strings.Count(rest, ".") == 1 && row["EndpointID"] == id {
			path, p = rp, row
			break
		}
	}
	if path == "" {
		return usperr.Errorf(usperr.CodeRequestDenied, "no %s{i} entry for %s to assign a role to", pathControllers, id)
	}
	trust := a.rows(ctx, pathTrust)[pathTrust]
	cur := splitRoles(p["AssignedRole"])
	if banned := strings.TrimSuffix(strings.TrimSpace(trust["BannedRole"]), "."); banned != "" && slices.Contains(cur, banned) {
		return usperr.Errorf(usperr.CodeRequestDenied, "the Controller holds the BannedRole")
	}
	untrusted := splitRoles(trust["UntrustedRole"])
	var out []string
	for _, r := range cur {
		if !slices.Contains(untrusted, r) && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	for _, r := range roles {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if err := a.eng.Update(ctx, path, map[string]string{"AssignedRole": strings.Join(out, ",")}); err != nil {
		return fmt.Errorf("AssignedRole of %s: %w", path, err)
	}
	return nil
}

// checkChallenge keeps Challenge rows valid: Role refers to Role rows.
func checkChallenge(_ context.Context, r *datamodel.Request) error {
	if r.Op == datamodel.OpDelete {
		return nil
	}
	for ref := range strings.SplitSeq(r.Values["Role"], ",") {
		if ref = strings.TrimSpace(ref); ref != "" && !strings.HasPrefix(ref, pathRoles) {
			return usperr.Errorf(usperr.CodeInvalidValue, "Role: %q is not a reference to a %s{i} row", ref, pathRoles)
		}
	}
	return nil
}

// ChallengeConfig is one Device.LocalAgent.ControllerTrust.Challenge.{i}
// entry of the factory configuration. Its Value must be unique to the
// device and not derivable from what it says about itself [R-SEC.14]
// [R-SEC.15]: give each device its own configuration.
type ChallengeConfig struct {
	Alias       string `yaml:"alias"`
	Description string `yaml:"description"`
	// Roles are the names of the roles a right answer gives.
	Roles []string `yaml:"roles"`
	// Value is the passphrase, as text (stored base64-encoded, secured).
	Value string `yaml:"value"`
	// Instruction is shown to the user, as text; InstructionType is its
	// media type ("text/plain" when empty).
	Instruction     string `yaml:"instruction"`
	InstructionType string `yaml:"instruction_type"`
	// Retries is the number of consecutive failures before a lockout
	// (at least 1); LockoutPeriod its length in seconds (nil: 30).
	Retries       uint32 `yaml:"retries"`
	LockoutPeriod *int32 `yaml:"lockout_period"`
	Disabled      bool   `yaml:"disabled"`
}

// validateChallenges checks the Challenges against the role names.
func (c *Config) validateChallenges(roles map[string]bool) error {
	for i, ch := range c.Challenges {
		if ch.Value == "" {
			return fmt.Errorf("challenges[%d].value: empty", i)
		}
		switch ch.InstructionType {
		case "", "text/plain", "image/jpeg", "text/html":
		default:
			return fmt.Errorf("challenges[%d].instruction_type: %q is not text/plain, image/jpeg or text/html", i, ch.InstructionType)
		}
		if ch.LockoutPeriod != nil && *ch.LockoutPeriod < 0 {
			return fmt.Errorf("challenges[%d].lockout_period: %d is negative", i, *ch.LockoutPeriod)
		}
		for _, r := range ch.Roles {
			if !roles[r] {
				return fmt.Errorf("challenges[%d].roles: no role named %q", i, r)
			}
		}
	}
	return nil
}

// settings are the entry's parameters, with roles by reference.
func (ch ChallengeConfig) settings(roleRef map[string]string) []datamodel.ParamSetting {
	var refs []string
	for _, r := range ch.Roles {
		refs = append(refs, roleRef[r])
	}
	it := ch.InstructionType
	if it == "" {
		it = "text/plain"
	}
	s := ps("Enable", strconv.FormatBool(!ch.Disabled), "Description", ch.Description, "Role", strings.Join(refs, ","),
		"Type", "Passphrase", "Value", base64.StdEncoding.EncodeToString([]byte(ch.Value)), "ValueType", "text/plain",
		"Instruction", base64.StdEncoding.EncodeToString([]byte(ch.Instruction)), "InstructionType", it,
		"Retries", strconv.FormatUint(uint64(ch.Retries), 10))
	if ch.LockoutPeriod != nil {
		s = append(s, ps("LockoutPeriod", strconv.FormatInt(int64(*ch.LockoutPeriod), 10))...)
	}
	if ch.Alias != "" {
		s = append(s, ps("Alias", ch.Alias)...)
	}
	return s
}
