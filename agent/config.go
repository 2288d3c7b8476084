package agent

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/endpoint"
)

// Config is an Agent's factory configuration: what a fresh Agent starts
// with and what FactoryReset() returns to.
type Config struct {
	// Controllers the Agent trusts and reaches.
	Controllers []ControllerConfig `yaml:"controllers"`
	// Roles replace the default roles ("Full Access" and "Untrusted").
	Roles []RoleConfig `yaml:"roles"`
	// UntrustedRole names the role of unknown Controllers; "" means
	// "Untrusted".
	UntrustedRole string `yaml:"untrusted_role"`
	// Credentials are ControllerTrust.Credential entries: certificates
	// (CAs, Trusted Brokers) whose Controllers inherit a role.
	Credentials []CredentialConfig `yaml:"credentials"` // credential.go
	// Challenges are ControllerTrust.Challenge entries: passphrases that
	// give a Controller a role.
	Challenges []ChallengeConfig `yaml:"challenges"` // challenge.go
	// MTPs are the Agent's transports, opened by Options.Dialer.
	MTPs []MTPConfig `yaml:"-"`
}

// MTPConfig is one Device.LocalAgent.MTP.{i} entry of the factory
// configuration, with the broker connection it references. Parameters are
// named as in TR-181, relative to their object.
type MTPConfig struct {
	Alias    string
	Protocol string
	Disabled bool
	// Params are the MTP row's own parameters below it
	// ("MQTT.ResponseTopicConfigured", "WebSocket.Port").
	Params map[string]string
	// Connection, for MQTT and STOMP, are the parameters of the
	// Device.MQTT.Client.{i} or Device.STOMP.Connection.{i} row that the
	// MTP references.
	Connection map[string]string
}

// ControllerConfig is one Device.LocalAgent.Controller entry.
type ControllerConfig struct {
	EndpointID string `yaml:"endpoint_id"`
	Alias      string `yaml:"alias"`
	// Role names the role assigned; "" means "Full Access".
	Role string `yaml:"role"`
	// Disabled leaves the Controller configured but disabled.
	Disabled              bool   `yaml:"disabled"`
	PeriodicNotifInterval uint32 `yaml:"periodic_notif_interval"`
	// ProvisioningCode is Controller.{i}.ProvisioningCode: what the
	// Controller may use to pick the Agent's provisioning profile.
	ProvisioningCode string              `yaml:"provisioning_code"`
	BootParameters   []string            `yaml:"boot_parameters"`
	MTPs             []ControllerMTPConf `yaml:"mtps"`
	// SessionMode is E2ESession.SessionMode: Allow (the default), Require
	// or Forbid an E2E Session Context with this Controller.
	SessionMode string `yaml:"session_mode"`
}

// ControllerMTPConf is how the Agent reaches a Controller over one MTP.
type ControllerMTPConf struct {
	// Protocol is "WebSocket", "MQTT", "STOMP" or "UDS".
	Protocol string `yaml:"protocol"`
	// Topic is the Controller's MQTT topic.
	Topic string `yaml:"topic"`
	// Destination is the Controller's STOMP destination.
	Destination string `yaml:"destination"`
	// Host, Port and Path locate a WebSocket Controller.
	Host             string `yaml:"host"`
	Port             uint32 `yaml:"port"`
	Path             string `yaml:"path"`
	EnableEncryption bool   `yaml:"encryption"`
}

// RoleConfig is one ControllerTrust role with its permissions, in order.
type RoleConfig struct {
	Name        string             `yaml:"name"`
	Permissions []PermissionConfig `yaml:"permissions"`
}

// PermissionConfig is one Permission entry: targets and "rwxn" strings.
type PermissionConfig struct {
	Targets         []string `yaml:"targets"`
	Param           string   `yaml:"param"`
	Obj             string   `yaml:"obj"`
	InstantiatedObj string   `yaml:"instantiated_obj"`
	CommandEvent    string   `yaml:"command_event"`
}

// DefaultRoles are the roles a fresh Agent ships with: "Full Access" for
// configured Controllers, and "Untrusted" for unknown ones, which may
// learn the supported data model and read Device.DeviceInfo only.
func DefaultRoles() []RoleConfig {
	return []RoleConfig{
		{Name: "Full Access", Permissions: []PermissionConfig{
			{Targets: []string{"Device."}, Param: "rw-n", Obj: "rw-n", InstantiatedObj: "rw-n", CommandEvent: "r-xn"}}},
		{Name: "Untrusted", Permissions: []PermissionConfig{
			{Targets: []string{"Device."}, Param: "----", Obj: "r---", InstantiatedObj: "----", CommandEvent: "r---"},
			{Targets: []string{"Device.DeviceInfo."}, Param: "r---", Obj: "r---", InstantiatedObj: "r---", CommandEvent: "r---"}}},
	}
}

// Validate checks the configuration and names the first wrong field.
func (c *Config) Validate() error {
	roles := map[string]bool{}
	for i, r := range c.roles() {
		if r.Name == "" {
			return fmt.Errorf("roles[%d].name: empty", i)
		}
		roles[r.Name] = true
		for j, p := range r.Permissions {
			for k, v := range map[string]string{"param": p.Param, "obj": p.Obj, "instantiated_obj": p.InstantiatedObj, "command_event": p.CommandEvent} {
				if err := checkRights(v); err != nil {
					return fmt.Errorf("roles[%d].permissions[%d].%s: %w", i, j, k, err)
				}
			}
		}
	}
	if c.UntrustedRole != "" && !roles[c.UntrustedRole] {
		return fmt.Errorf("untrusted_role: no role named %q", c.UntrustedRole)
	}
	if err := c.validateCredentials(roles); err != nil { // credential.go
		return err
	}
	if err := c.validateChallenges(roles); err != nil { // challenge.go
		return err
	}
	for i, ct := range c.Controllers {
		if err := endpoint.Validate(ct.EndpointID); err != nil {
			return fmt.Errorf("controllers[%d].endpoint_id: %w", i, err)
		}
		if ct.Role != "" && !roles[ct.Role] {
			return fmt.Errorf("controllers[%d].role: no role named %q", i, ct.Role)
		}
		for j, m := range ct.MTPs {
			switch m.Protocol {
			case "WebSocket", "MQTT", "STOMP", "UDS":
			default:
				return fmt.Errorf("controllers[%d].mtps[%d].protocol: %q is not WebSocket, MQTT, STOMP or UDS", i, j, m.Protocol)
			}
		}
	}
	return nil
}

func checkRights(v string) error {
	if len(v) != 4 {
		return fmt.Errorf("%q is not 4 characters of rwxn or -", v)
	}
	for i := range 4 {
		if v[i] != '-' && v[i] != "rwxn"[i] {
			return fmt.Errorf("%q: position %d must be %q or '-'", v, i+1, "rwxn"[i])
		}
	}
	return nil
}

func (c *Config) roles() []RoleConfig {
	if c == nil || len(c.Roles) == 0 {
		return DefaultRoles()
	}
	return c.Roles
}

// agentCaller is the Agent itself: every right, secured values readable.
var agentCaller = datamodel.Caller{ReadSecured: true}

func ps(kv ...string) []datamodel.ParamSetting {
	var out []datamodel.ParamSetting
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, datamodel.ParamSetting{Param: kv[i], Value: kv[i+1], Required: true})
	}
	return out
}

// sortedSettings turns parameter values into settings, in name order.
func sortedSettings(values map[string]string) []datamodel.ParamSetting {
	var kv []string
	for _, n := range slices.Sorted(maps.Keys(values)) {
		kv = append(kv, n, values[n])
	}
	return ps(kv...)
}

// seed writes the factory configuration into a fresh data model.
func (a *Agent) seed(ctx context.Context) error {
	cfg := a.opt.Factory
	if cfg == nil {
		cfg = &Config{}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	add := func(path string, settings []datamodel.ParamSetting) (string, error) {
		res, err := a.eng.Add(ctx, agentCaller, false, []datamodel.CreateObject{{Path: path, Params: settings}})
		if err != nil {
			return "", fmt.Errorf("adding %s: %w", path, err)
		}
		return res[0].Path, nil
	}
	roleRef := map[string]string{}
	for _, r := range cfg.roles() {
		p, err := add(pathRoles, ps("Name", r.Name, "Enable", "true"))
		if err != nil {
			return err
		}
		roleRef[r.Name] = strings.TrimSuffix(p, ".")
		for i, pm := range r.Permissions {
			if _, err := add(p+"Permission.", ps("Enable", "true", "Order", strconv.Itoa(i+1), "Targets", strings.Join(pm.Targets, ","),
				"Param", pm.Param, "Obj", pm.Obj, "InstantiatedObj", pm.InstantiatedObj, "CommandEvent", pm.CommandEvent)); err != nil {
				return err
			}
		}
	}
	untrusted := cfg.UntrustedRole
	if untrusted == "" {
		untrusted = "Untrusted"
	}
	if ref, ok := roleRef[untrusted]; ok {
		if _, err := a.eng.Set(ctx, agentCaller, false, []datamodel.UpdateObject{{Path: pathTrust, Params: ps("UntrustedRole", ref)}}); err != nil {
			return err
		}
	}
	for _, ct := range cfg.Controllers {
		roleName := ct.Role
		if roleName == "" {
			roleName = "Full Access"
		}
		settings := ps("EndpointID", ct.EndpointID, "Enable", strconv.FormatBool(!ct.Disabled), "AssignedRole", roleRef[roleName])
		if ct.Alias != "" {
			settings = append(settings, ps("Alias", ct.Alias)...)
		}
		if ct.ProvisioningCode != "" {
			settings = append(settings, ps("ProvisioningCode", ct.ProvisioningCode)...)
		}
		if ct.PeriodicNotifInterval > 0 {
			settings = append(settings, ps("PeriodicNotifInterval", strconv.FormatUint(uint64(ct.PeriodicNotifInterval), 10))...)
		}
		mode := ct.SessionMode
		if mode == "" {
			mode = "Allow"
		}
		settings = append(settings, ps("E2ESession.SessionMode", mode)...)
		p, err := add(pathControllers, settings)
		if err != nil {
			return err
		}
		for i, m := range ct.MTPs {
			s := ps("Enable", "true", "Protocol", m.Protocol, "Order", strconv.Itoa(i+1))
			switch m.Protocol {
			case "MQTT":
				s = append(s, ps("MQTT.Topic", m.Topic)...)
			case "STOMP":
				s = append(s, ps("STOMP.Destination", m.Destination)...)
			case "WebSocket":
				s = append(s, ps("WebSocket.Host", m.Host, "WebSocket.Path", m.Path, "WebSocket.EnableEncryption", strconv.FormatBool(m.EnableEncryption))...)
				if m.Port != 0 {
					s = append(s, ps("WebSocket.Port", strconv.FormatUint(uint64(m.Port), 10))...)
				}
			}
			if _, err := add(p+"MTP.", s); err != nil {
				return err
			}
		}
		for _, bp := range ct.BootParameters {
			if _, err := add(p+"BootParameter.", ps("Enable", "true", "ParameterName", bp)); err != nil {
				return err
			}
		}
	}
	for _, cr := range cfg.Credentials {
		if _, err := add(pathCredentials, cr.settings(roleRef)); err != nil { // credential.go
			return err
		}
	}
	for _, ch := range cfg.Challenges {
		if _, err := add(pathChallenges, ch.settings(roleRef)); err != nil { // challenge.go
			return err
		}
	}
	for _, m := range cfg.MTPs {
		settings := ps("Enable", strconv.FormatBool(!m.Disabled), "Protocol", m.Protocol)
		if m.Alias != "" {
			settings = append(settings, ps("Alias", m.Alias)...)
		}
		if m.Connection != nil {
			table := map[string]string{"MQTT": pathMQTTClients, "STOMP": pathSTOMPConns}[m.Protocol]
			if table == "" {
				return fmt.Errorf("mtps: a %s MTP has no connection table", m.Protocol)
			}
			conn := ps("Enable", "true")
			if m.Alias != "" {
				conn = append(conn, ps("Alias", m.Alias)...)
			}
			conn = append(conn, sortedSettings(m.Connection)...)
			p, err := add(table, conn)
			if err != nil {
				return err
			}
			settings = append(settings, ps(m.Protocol+".Reference", strings.TrimSuffix(p, "."))...)
		}
		settings = append(settings, sortedSettings(m.Params)...)
		if _, err := add(pathLocalAgentMT, settings); err != nil {
			return err
		}
	}
	for i, m := range a.opt.MTPs {
		p, err := add(pathLocalAgentMT, ps("Enable", "true", "Protocol", m.Protocol, "Alias", fixedAlias+strconv.Itoa(i+1)))
		if err != nil {
			return err
		}
		if err := a.eng.Update(ctx, p, map[string]string{"Status": "Up"}); err != nil {
			return err
		}
	}
	return nil
}

// maxUnknown bounds the Controller entries the Agent creates for unknown
// Controllers.
const maxUnknown = 64

// registerUnknown adds a Controller entry for an unknown Controller that sent a
// request, with the UntrustedRole (TR-181 ControllerTrust.UntrustedRole),
// unless an entry for it exists, disabled.
func (a *Agent) registerUnknown(ctx context.Context, id, protocol string) {
	rows := a.rows(ctx, pathControllers)
	for _, p := range rows {
		if p["EndpointID"] == id {
			return
		}
	}
	if len(rows) >= maxUnknown+len(a.opt.factory().Controllers) {
		return
	}
	untrusted := a.rows(ctx, pathTrust)[pathTrust]["UntrustedRole"]
	if a.acl.inheritedRoles(id) != "" {
		untrusted = "" // its roles come from a credential (credential.go)
	}
	res, err := a.eng.Add(ctx, agentCaller, false, []datamodel.CreateObject{{Path: pathControllers,
		Params: ps("EndpointID", id, "Enable", "true", "AssignedRole", untrusted)}})
	if err != nil {
		a.log.WarnContext(ctx, "registering an unknown controller", "controller", id, "err", err)
		return
	}
	if _, err := a.eng.Add(ctx, agentCaller, false, []datamodel.CreateObject{{Path: res[0].Path + "MTP.",
		Params: ps("Enable", "true", "Protocol", protocol)}}); err != nil {
		a.log.WarnContext(ctx, "registering an unknown controller's MTP", "controller", id, "err", err)
	}
	a.log.InfoContext(ctx, "unknown controller registered with the untrusted role", "controller", id, "path", res[0].Path)
	a.brk.linkControllers(ctx) // a USP Service's Controller: its USPServiceRef
}

func (o *Options) factory() *Config {
	if o.Factory == nil {
		return &Config{}
	}
	return o.Factory
}

// controller is the Agent's view of one Controller entry.
type controller struct {
	ref        string // "Device.LocalAgent.Controller.1"
	endpointID string
	enabled    bool
	roles      []string
	periodic   uint32
	periodicAt string
	retryMin   uint32
	retryMult  uint32
	mtps       []controllerMTP
	bootParams []string
	e2e        e2eSettings // its E2ESession row (e2e.go)
	e2eStatus  string      // E2ESession.Status as last written
	// onboarded and restartTime are OnBoardingComplete and
	// OnBoardingRestartTime (onboarding.go).
	onboarded   bool
	restartTime uint32
}

type controllerMTP struct {
	protocol string
	addr     string
	// order is the row's Order, instance its number: the MTPs are tried
	// in that order (see sortMTPs).
	order, instance uint32
	// client is the MQTT.Reference or STOMP.Reference of the row: the
	// Device.MQTT.Client.{i}. or Device.STOMP.Connection.{i}. to send
	// through, or "".
	client string
	// retainResponse and retainNotify are the MQTT row's
	// PublishRetainResponse and PublishRetainNotify.
	retainResponse, retainNotify bool
}

// addrFor returns the Controller's configured address over protocol (its
// MQTT topic, STOMP destination), or "".
func (c *controller) addrFor(protocol string) string {
	for _, m := range c.mtps {
		if m.protocol == protocol {
			return m.addr
		}
	}
	return ""
}

// reload refreshes the Agent's view of its Controllers and the access
// control configuration from the data model.
func (a *Agent) reload(ctx context.Context) error {
	// One reload at a time, so that a slower one with an older view
	// cannot overwrite a newer one.
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	rows := a.rows(ctx, pathLocalAgent)
	ctrls := map[string]*controller{}
	var order []*controller
	roles := map[string]*role{}
	for path, p := range rows {
		rest, ok := strings.CutPrefix(path, pathControllers)
		if ok && strings.Count(rest, ".") == 1 {
			c := &controller{ref: strings.TrimSuffix(path, "."), endpointID: p["EndpointID"], enabled: p["Enable"] == "true",
				periodicAt: p["PeriodicNotifTime"]}
			c.periodic = atou(p["PeriodicNotifInterval"])
			c.retryMin, c.retryMult = atou(p["USPNotifRetryMinimumWaitInterval"]), atou(p["USPNotifRetryIntervalMultiplier"])
			c.onboarded, c.restartTime = p["OnBoardingComplete"] == "true", atou(p["OnBoardingRestartTime"])
			c.e2e = parseE2E(rows[path+"E2ESession."])
			c.e2eStatus = rows[path+"E2ESession."]["Status"]
			for r := range strings.SplitSeq(p["AssignedRole"], ",") {
				if r = strings.TrimSpace(r); r != "" {
					c.roles = append(c.roles, r)
				}
			}
			ctrls[path] = c
			order = append(order, c)
		}
		if rest, ok := strings.CutPrefix(path, pathRoles); ok && strings.Count(rest, ".") == 1 && p["Enable"] == "true" {
			roles[strings.TrimSuffix(path, ".")] = &role{}
		}
	}
	for path, p := range rows {
		if c := ctrls[parentInstance(path, "MTP.")]; c != nil && p["Enable"] == "true" {
			m := controllerMTP{protocol: p["Protocol"], order: atou(p["Order"]), instance: lastInstance(path)}
			switch m.protocol {
			case "MQTT":
				m.addr = rows[path+"MQTT."]["Topic"]
				m.client = refRow(rows[path+"MQTT."]["Reference"])
				m.retainResponse = rows[path+"MQTT."]["PublishRetainResponse"] == "true"
				m.retainNotify = rows[path+"MQTT."]["PublishRetainNotify"] == "true"
			case "STOMP":
				m.addr = rows[path+"STOMP."]["Destination"]
				m.client = refRow(rows[path+"STOMP."]["Reference"])
			default:
				m.addr = c.endpointID
			}
			c.mtps = append(c.mtps, m)
		}
		if c := ctrls[parentInstance(path, "BootParameter.")]; c != nil && p["Enable"] == "true" {
			c.bootParams = append(c.bootParams, p["ParameterName"])
		}
		if r := roles[strings.TrimSuffix(parentInstance(path, "Permission."), ".")]; r != nil && p["Enable"] == "true" {
			r.perms = append(r.perms, newPerm(uint64(atou(p["Order"])), p["Targets"], p["Param"], p["Obj"], p["InstantiatedObj"], p["CommandEvent"]))
		}
	}
	byID := map[string][]string{}
	byEndpoint := map[string]*controller{}
	for _, c := range order {
		sortMTPs(c.mtps)
	}
	for _, c := range order {
		if c.enabled && c.endpointID != "" {
			byID[c.endpointID] = c.roles
			byEndpoint[c.endpointID] = c
		}
	}
	var untrusted []string
	for r := range strings.SplitSeq(rows[pathTrust]["UntrustedRole"], ",") {
		if r = strings.TrimSpace(r); r != "" {
			untrusted = append(untrusted, r)
		}
	}
	a.acl.set(roles, byID, untrusted)
	a.acl.setSecured(splitRoles(rows[pathTrust]["SecuredRoles"]))
	a.acl.setBanned(rows[pathTrust]["BannedRole"]) // banned.go
	a.loadCredentials(rows)                        // credential.go
	retain := false
	for _, c := range byEndpoint {
		for _, m := range c.mtps {
			retain = retain || m.retainResponse
		}
	}
	a.mu.Lock()
	a.ctrls = byEndpoint
	a.ctrlRefs = ctrls
	a.retainAny.Store(retain)
	a.mu.Unlock()
	return nil
}

// parentInstance returns the instance path that path is a row of a
// sub-table named table in ("X.1.MTP.2." → "X.1."), or "".
func parentInstance(path, table string) string {
	i := strings.LastIndex(path, "."+table)
	if i < 0 {
		return ""
	}
	rest := path[i+1+len(table):]
	if strings.Count(rest, ".") != 1 || !isInstance(strings.TrimSuffix(rest, ".")) {
		return ""
	}
	return path[:i+1]
}

// rows returns every object instance below path with its parameters.
func (a *Agent) rows(ctx context.Context, path string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, r := range a.eng.Get(ctx, agentCaller, []string{path}, 0) {
		for _, o := range r.Objects {
			out[o.Path] = o.Params
		}
	}
	return out
}

func atou(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

func validateEndpoint(id string) error { return endpoint.Validate(id) }
