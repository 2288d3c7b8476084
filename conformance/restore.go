package conformance

import (
	"maps"
	"slices"
	"strings"

	"github.com/uspkit/uspkit/wire"
)

// Every case leaves the Agent as it found it: a case that changes or
// deletes a Controller entry it does not own (the second Controller's)
// puts it back when it ends, so that later cases find the same set of
// Controllers. Add cannot choose the instance number, so a deleted entry
// comes back as a new instance with the same writable values.

// controllerWritable are the writable parameters of
// Device.LocalAgent.Controller.{i}. (TR-181 2.16).
var controllerWritable = []string{"Alias", "EndpointID", "ControllerCode", "ProvisioningCode", "Enable", "AssignedRole",
	"Credential", "PeriodicNotifInterval", "PeriodicNotifTime", "USPNotifRetryMinimumWaitInterval", "USPNotifRetryIntervalMultiplier"}

// controllerMTPWritable are the writable parameters of
// Device.LocalAgent.Controller.{i}.MTP.{i}. ("") and of its per-protocol
// objects (TR-181 2.16).
var controllerMTPWritable = map[string][]string{
	"":           {"Alias", "Enable", "Protocol", "Order"},
	"WebSocket.": {"Host", "Port", "Path", "EnableEncryption", "KeepAliveInterval", "SessionRetryMinimumWaitInterval", "SessionRetryIntervalMultiplier"},
	"MQTT.":      {"Reference", "Topic", "PublishRetainResponse", "PublishRetainNotify", "AgentMTPReference"},
	"STOMP.":     {"Reference", "Destination"},
	"CoAP.":      {"Host", "Port", "Path", "EnableEncryption"},
	"UDS.":       {"UnixDomainSocketRef"},
}

// controllerSnapshot is a Controller entry as a case found it.
type controllerSnapshot struct {
	id     string
	path   string            // the entry's instance path; "" when there was none
	params map[string]string // every parameter under path, by full path
}

// findController returns the instance path of the Controller entry with
// EndpointID id, or "" when there is none or the Get fails. It never
// stops the case, so cleanups can use it.
func (t *T) findController(id string) string {
	m, err := t.c.do(t.ctx, getReq("Device.LocalAgent.Controller.*.EndpointID"), t.r.o.ReplyTimeout)
	if err != nil {
		return ""
	}
	for path, v := range flat(m.GetBody().GetResponse().GetGetResp()) {
		if v == id {
			return strings.TrimSuffix(path, "EndpointID")
		}
	}
	return ""
}

// keepController records the Controller entry of id now and restores it
// when the case ends.
func (t *T) keepController(id string) {
	s := controllerSnapshot{id: id, path: t.findController(id)}
	if s.path != "" {
		s.params = flat(t.getResp(t.Do(getReq(s.path))))
	}
	t.Cleanup(func() { t.restoreController(s) })
}

// restoreController puts the Controller entry of s.id back as s found it:
// it deletes an entry that did not exist, sets back the values of one
// still in place, and re-adds a deleted one (replacing any entry the Agent
// created for that Endpoint ID in the meantime, such as an untrusted one).
// Failures are logged: the case's verdict is already made.
func (t *T) restoreController(s controllerSnapshot) {
	warn := func(what string, m *wire.Msg, err error) {
		if err != nil || m.GetBody().GetError() != nil {
			t.c.log.Warn("restoring a Controller entry", "endpoint", s.id, "step", what, "err", err, "reply", brief(m))
		}
	}
	cur := t.findController(s.id)
	if s.path == "" {
		if cur != "" {
			m, err := t.c.do(t.ctx, deleteReq(true, cur), t.r.o.ReplyTimeout)
			warn("delete", m, err)
		}
		return
	}
	if cur == s.path {
		var back []kv
		for _, n := range controllerWritable {
			if v, ok := s.params[s.path+n]; ok && t.valueOr(s.path+n) != v {
				back = append(back, p(n, v))
			}
		}
		if len(back) > 0 {
			m, err := t.c.do(t.ctx, setReq(true, obj(s.path, back...)), t.r.o.ReplyTimeout)
			warn("set", m, err)
		}
		return
	}
	if cur != "" {
		m, err := t.c.do(t.ctx, deleteReq(true, cur), t.r.o.ReplyTimeout)
		warn("delete", m, err)
	}
	var params []kv
	for _, n := range controllerWritable {
		if v, ok := s.params[s.path+n]; ok {
			params = append(params, p(n, v))
		}
	}
	m, err := t.c.do(t.ctx, addReq(false, obj("Device.LocalAgent.Controller.", params...)), t.r.o.ReplyTimeout)
	warn("add", m, err)
	entry := addedPath(m)
	if entry == "" {
		return
	}
	for _, row := range mtpRows(s) {
		var rp []kv
		for _, n := range controllerMTPWritable[""] {
			if v, ok := s.params[row+n]; ok {
				rp = append(rp, p(n, v))
			}
		}
		m, err := t.c.do(t.ctx, addReq(false, obj(entry+"MTP.", rp...)), t.r.o.ReplyTimeout)
		warn("add MTP", m, err)
		newRow := addedPath(m)
		if newRow == "" {
			continue
		}
		var subs []createObj
		for _, sub := range slices.Sorted(maps.Keys(controllerMTPWritable)) {
			var sp []kv
			for _, n := range controllerMTPWritable[sub] {
				if v, ok := s.params[row+sub+n]; ok && sub != "" {
					sp = append(sp, p(n, v))
				}
			}
			if len(sp) > 0 {
				subs = append(subs, obj(newRow+sub, sp...))
			}
		}
		if len(subs) > 0 {
			m, err := t.c.do(t.ctx, setReq(true, subs...), t.r.o.ReplyTimeout)
			warn("set MTP", m, err)
		}
	}
}

// valueOr reads one parameter, "" when it cannot; it never stops the case.
func (t *T) valueOr(path string) string {
	m, err := t.c.do(t.ctx, getReq(path), t.r.o.ReplyTimeout)
	if err != nil {
		return ""
	}
	return flat(m.GetBody().GetResponse().GetGetResp())[path]
}

// addedPath is the instance an AddResp with one object created, or "".
func addedPath(m *wire.Msg) string {
	for _, r := range m.GetBody().GetResponse().GetAddResp().GetCreatedObjResults() {
		return r.GetOperStatus().GetOperSuccess().GetInstantiatedPath()
	}
	return ""
}

// mtpRows lists the MTP instances ("...MTP.1.") of a snapshot, in order.
func mtpRows(s controllerSnapshot) []string {
	seen := map[string]bool{}
	for k := range s.params {
		rest, ok := strings.CutPrefix(k, s.path+"MTP.")
		if !ok {
			continue
		}
		if n, _, ok := strings.Cut(rest, "."); ok {
			seen[s.path+"MTP."+n+"."] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
