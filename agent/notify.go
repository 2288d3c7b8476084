package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/pathname"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// Notification types of Device.LocalAgent.Subscription.{i}.NotifType.
const (
	notifValueChange       = "ValueChange"
	notifObjectCreation    = "ObjectCreation"
	notifObjectDeletion    = "ObjectDeletion"
	notifOperationComplete = "OperationComplete"
	notifEvent             = "Event"
)

// subscriptions runs Device.LocalAgent.Subscription: it matches changes,
// events and completed operations against the enabled subscriptions,
// sends Notify messages to their recipients, and resends those with
// NotifRetry until acknowledged or expired (TR-369 "Notifications and
// Subscription Mechanism").
type subscriptions struct {
	a     *Agent
	kickc chan struct{}
	seq   atomic.Uint64

	reloadMu sync.Mutex // serialises reload
	storeMu  sync.Mutex // serialises writing pending notifications to the store and removing them

	mu   sync.Mutex
	subs map[string]*sub // by instance path
	// byType lists the subscriptions of subs by NotifType, each in path
	// order, so that a change is matched against the subscriptions of its
	// kind only (an Add against the ObjectCreation ones): built on first
	// use after subs changes, nil until then, never modified once built.
	byType  map[string][]*sub
	pending map[string]*pending          // by msg_id
	values  map[string]map[string]string // ValueChange baselines: sub path → param path → value
}

type sub struct {
	path       string
	id         string
	recipient  string // controller reference
	notifType  string
	refs       []string
	persistent bool
	ttl        time.Duration
	created    time.Time
	retry      bool
	expiration time.Duration
	// action is TriggerAction; settings its TriggerConfigSettings, or
	// settingsErr why they cannot be applied (trigger.go).
	action      string
	settings    []triggerSetting
	settingsErr error
}

// pending is a Notify sent with send_resp, waiting for its NotifyResp.
type pending struct {
	MsgID   string    `json:"msg_id"`
	To      string    `json:"to"`
	Sub     string    `json:"sub"`
	Payload []byte    `json:"payload"`
	Expires time.Time `json:"expires"`
	// Once marks a Notify without send_resp that could not be sent (its
	// Controller not connected): it is sent once when a connection comes
	// up, then forgotten.
	Once  bool `json:"once,omitempty"`
	next  time.Time
	retry mtp.Retry
	// storeAt is when the notification is written to the store if not
	// acknowledged by then; stored tells that it was (s.mu held for both).
	storeAt time.Time
	stored  bool
}

func newSubscriptions(a *Agent) *subscriptions {
	return &subscriptions{a: a, kickc: make(chan struct{}, 1), subs: map[string]*sub{}, pending: map[string]*pending{},
		values: map[string]map[string]string{}}
}

// check fills in what the Agent assigns to a new subscription (the
// requesting Controller as Recipient, CreationDate) and checks the
// ReferenceList.
func (s *subscriptions) check(ctx context.Context, r *datamodel.Request) error {
	if r.Op == datamodel.OpDelete {
		return nil
	}
	if r.Op == datamodel.OpAdd {
		r.Values["CreationDate"] = s.a.now().UTC().Format(time.RFC3339)
		if c := s.a.controllerByEndpoint(r.Caller.EndpointID); c != nil {
			r.Values["Recipient"] = c.ref
		} else if r.Caller.EndpointID != "" || strings.HasPrefix(r.Values["Recipient"], "cpe-") {
			r.Values["Recipient"] = ""
		}
	}
	if err := checkTrigger(r.Values); err != nil {
		return err
	}
	for ref := range strings.SplitSeq(r.Values["ReferenceList"], ",") {
		ref = strings.TrimSpace(ref)
		if ref == "" {
			continue
		}
		if _, err := pathname.Parse(ref); err != nil {
			return usperr.Errorf(usperr.CodeInvalidValue, "ReferenceList: %v", err)
		}
	}
	return nil
}

// reload rebuilds the subscription list from the data model: all of it,
// or only the rows at the given instance paths.
func (s *subscriptions) reload(ctx context.Context, only ...string) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	var rows map[string]map[string]string
	if only == nil {
		rows = s.a.rows(ctx, pathSubs)
	} else {
		rows = map[string]map[string]string{}
		for _, path := range only {
			maps.Copy(rows, s.a.rows(ctx, path))
		}
	}
	read := map[string]*sub{}
	for path, p := range rows {
		if p["Enable"] == "true" {
			read[path] = newSub(path, p)
		}
	}
	s.mu.Lock()
	old := s.subs
	next := read
	if only != nil {
		next = maps.Clone(old)
		for _, path := range only {
			delete(next, path)
			if x := read[path]; x != nil {
				next[path] = x
			}
		}
	}
	s.subs = next
	s.byType = nil
	for path := range s.values {
		if next[path] == nil || next[path].notifType != notifValueChange {
			delete(s.values, path)
		}
	}
	s.mu.Unlock()
	for path, x := range read {
		if x.notifType == notifValueChange && (old[path] == nil || !slices.Equal(old[path].refs, x.refs)) {
			base := s.read(ctx, x)
			s.mu.Lock()
			s.values[path] = base
			s.mu.Unlock()
		}
	}
}

// newSub reads one Subscription row.
func newSub(path string, p map[string]string) *sub {
	x := &sub{path: path, id: p["ID"], recipient: strings.TrimSuffix(p["Recipient"], "."), notifType: p["NotifType"],
		persistent: p["Persistent"] == "true", retry: p["NotifRetry"] == "true"}
	x.ttl = time.Duration(atou(p["TimeToLive"])) * time.Second
	x.expiration = time.Duration(atou(p["NotifExpiration"])) * time.Second
	x.created, _ = time.Parse(time.RFC3339, p["CreationDate"])
	x.action = cmp.Or(p["TriggerAction"], triggerNotify)
	x.settings, x.settingsErr = parseTriggerSettings(p["TriggerConfigSettings"])
	for ref := range strings.SplitSeq(p["ReferenceList"], ",") {
		if ref = strings.TrimSpace(ref); ref != "" {
			x.refs = append(x.refs, ref)
		}
	}
	return x
}

// dropVolatile deletes the subscriptions that do not persist across a
// restart (Persistent false).
func (s *subscriptions) dropVolatile(ctx context.Context) {
	var paths []string
	for path, p := range s.a.rows(ctx, pathSubs) {
		if rest := strings.TrimPrefix(path, pathSubs); strings.Count(rest, ".") == 1 && p["Persistent"] != "true" {
			paths = append(paths, path)
		}
	}
	if len(paths) > 0 {
		if _, err := s.a.eng.Delete(ctx, agentCaller, true, paths); err != nil {
			s.a.log.WarnContext(ctx, "deleting non-persistent subscriptions", "err", err)
		}
	}
}

// read returns the current values of the parameters a ValueChange
// subscription covers, skipping those that ignore value changes.
func (s *subscriptions) read(ctx context.Context, x *sub) map[string]string {
	out := map[string]string{}
	m := s.a.eng.Model()
	for _, r := range s.a.eng.Get(ctx, agentCaller, x.refs, 0) {
		for _, o := range r.Objects {
			for n, v := range o.Params {
				if p := paramOf(m, o.Path, n); p != nil && p.ValueChange == schema.ValueChangeWillIgnore {
					continue
				}
				out[o.Path+n] = v
			}
		}
		if len(out) > maxPolled {
			break
		}
	}
	return out
}

// maxPolled bounds the parameters one ValueChange subscription watches
// by polling.
const maxPolled = 10000

func paramOf(m *schema.Model, objPath, name string) *schema.Param {
	pat, err := pathname.AppendPattern(nil, objPath+name)
	if err != nil {
		return nil
	}
	return m.Param(string(pat))
}

// onChange turns committed changes into notifications.
func (s *subscriptions) onChange(ctx context.Context, changes []datamodel.Change) {
	for _, c := range changes {
		switch c.Op {
		case datamodel.OpSet:
			for n, v := range c.Params {
				path := c.Path + n
				if p := c.Object.Param(n); p == nil || p.ValueChange == schema.ValueChangeWillIgnore {
					continue
				}
				s.valueChanged(ctx, path, v) // a Secured value only to a SecuredRoles Controller (secured.go)
			}
		case datamodel.OpAdd:
			keys := map[string]string{}
			for _, k := range c.Object.UniqueKeys {
				for _, kp := range k.Params {
					keys[kp] = c.Params[kp]
				}
			}
			s.send(ctx, notifObjectCreation, c.Path, datamodel.ObjNotify, func(x *sub) bool { return x.path != c.Path && s.matchesTable(ctx, x, c.Path, true) },
				func(*controller) *wire.Notify {
					return &wire.Notify{Notification: &wire.Notify_ObjCreation{ObjCreation: &wire.Notify_ObjectCreation{ObjPath: c.Path, UniqueKeys: keys}}}
				})
		case datamodel.OpDelete:
			s.send(ctx, notifObjectDeletion, c.Path, datamodel.InstNotify, func(x *sub) bool { return s.matchesTable(ctx, x, c.Path, false) },
				func(*controller) *wire.Notify {
					return &wire.Notify{Notification: &wire.Notify_ObjDeletion{ObjDeletion: &wire.Notify_ObjectDeletion{ObjPath: c.Path}}}
				})
		}
	}
}

// valueChanged notifies a changed parameter to the ValueChange
// subscriptions that watch it, and updates their baselines.
func (s *subscriptions) valueChanged(ctx context.Context, path, v string) {
	s.send(ctx, notifValueChange, path, datamodel.ParamNotify, func(x *sub) bool {
		s.mu.Lock()
		base := s.values[x.path]
		old, watched := base[path]
		if watched {
			base[path] = v
		}
		s.mu.Unlock()
		if watched {
			return old != v
		}
		if !s.matchesAny(x.refs, path) {
			return false
		}
		s.mu.Lock()
		if base != nil {
			base[path] = v
		}
		s.mu.Unlock()
		return true
	}, func(c *controller) *wire.Notify {
		return &wire.Notify{Notification: &wire.Notify_ValueChange_{ValueChange: &wire.Notify_ValueChange{ParamPath: path, ParamValue: s.a.shown(c, path, v)}}}
	})
}

// poll reads the parameters under ValueChange subscriptions and notifies
// those that changed since the last look: the only way to see changes of
// provided parameters, which change outside the engine.
func (s *subscriptions) poll(ctx context.Context) {
	s.mu.Lock()
	var subs []*sub
	for _, x := range s.subs {
		if x.notifType == notifValueChange {
			subs = append(subs, x)
		}
	}
	s.mu.Unlock()
	for _, x := range subs {
		cur := s.read(ctx, x)
		s.mu.Lock()
		base := s.values[x.path]
		var changed []string
		for p, v := range cur {
			if old, ok := base[p]; ok && old != v {
				changed = append(changed, p)
			}
		}
		s.values[x.path] = cur
		s.mu.Unlock()
		slices.Sort(changed)
		for _, p := range changed {
			v := cur[p]
			s.sendTo(ctx, x, p, datamodel.ParamNotify, func(c *controller) *wire.Notify {
				return &wire.Notify{Notification: &wire.Notify_ValueChange_{ValueChange: &wire.Notify_ValueChange{ParamPath: p, ParamValue: s.a.shown(c, p, v)}}}
			})
		}
	}
}

// operationComplete notifies the end of an asynchronous command.
func (s *subscriptions) operationComplete(ctx context.Context, cmdPath, key string, out map[string]string, err error) {
	obj, name := splitCommand(cmdPath)
	s.send(ctx, notifOperationComplete, cmdPath, datamodel.CmdNotify, func(x *sub) bool {
		return len(x.refs) == 0 || s.matchesAny(x.refs, cmdPath)
	}, func(*controller) *wire.Notify {
		oc := &wire.Notify_OperationComplete{ObjPath: obj, CommandName: name, CommandKey: key}
		if err != nil {
			oc.OperationResp = &wire.Notify_OperationComplete_CmdFailure{CmdFailure: &wire.Notify_OperationComplete_CommandFailure{
				ErrCode: usperr.Code(err), ErrMsg: usperr.Message(err)}}
		} else {
			oc.OperationResp = &wire.Notify_OperationComplete_ReqOutputArgs{ReqOutputArgs: &wire.Notify_OperationComplete_OutputArgs{OutputArgs: out}}
		}
		return &wire.Notify{Notification: &wire.Notify_OperComplete{OperComplete: oc}}
	})
}

// Emit sends an event ("Device.Boot!", or a vendor's) with its arguments
// to the Controllers subscribed to it. args may depend on the recipient.
func (a *Agent) Emit(ctx context.Context, eventPath string, args func(recipient string) map[string]string) {
	obj, name := splitCommand(eventPath)
	a.subs.send(ctx, notifEvent, eventPath, datamodel.CmdNotify, func(x *sub) bool { return a.subs.matchesAny(x.refs, eventPath) },
		func(c *controller) *wire.Notify {
			return &wire.Notify{Notification: &wire.Notify_Event_{Event: &wire.Notify_Event{ObjPath: obj, EventName: name, Params: args(c.endpointID)}}}
		})
}

// splitCommand splits "Device.X.1.Reset()" into "Device.X.1." and
// "Reset()".
func splitCommand(p string) (obj, name string) {
	i := strings.LastIndexByte(p, '.')
	return p[:i+1], p[i+1:]
}

// send builds and sends a notification to every enabled subscription of
// notifType that match accepts and whose recipient may be notified of path.
func (s *subscriptions) send(ctx context.Context, notifType, path string, right datamodel.Perms, match func(*sub) bool, build func(*controller) *wire.Notify) {
	s.mu.Lock()
	subs := s.ofType(notifType)
	s.mu.Unlock()
	for _, x := range subs {
		if match(x) {
			s.sendTo(ctx, x, path, right, build)
		}
	}
}

// ofType returns the subscriptions of one NotifType in path order, a
// slice the caller must not modify; s.mu is held.
func (s *subscriptions) ofType(notifType string) []*sub {
	if s.byType == nil {
		s.byType = map[string][]*sub{}
		for _, x := range s.subs {
			s.byType[x.notifType] = append(s.byType[x.notifType], x)
		}
		for _, l := range s.byType {
			slices.SortFunc(l, func(a, b *sub) int { return strings.Compare(a.path, b.path) })
		}
	}
	return s.byType[notifType]
}

func (s *subscriptions) sendTo(ctx context.Context, x *sub, path string, right datamodel.Perms, build func(*controller) *wire.Notify) {
	c := s.a.controllerByRef(x.recipient)
	if c == nil || !c.enabled {
		return
	}
	if x.notifies() {
		s.notifyOne(ctx, c, x, path, right, build)
	}
	if x.configures() {
		s.trigger(ctx, x, c) // after the Notify [TriggerAction NotifyAndConfig]
	}
}

// notifyOne sends a fired subscription's Notify, when its recipient may
// be notified of path.
func (s *subscriptions) notifyOne(ctx context.Context, c *controller, x *sub, path string, right datamodel.Perms, build func(*controller) *wire.Notify) {
	if !s.a.acl.forController(c.endpointID).Perms(path).Has(right) {
		return
	}
	n := build(c)
	n.SubscriptionId, n.SendResp = x.id, x.retry
	var expires time.Time
	if x.expiration > 0 {
		expires = s.a.now().Add(x.expiration)
	}
	s.notify(ctx, c, x.path, n, expires)
}

// notify sends one Notify to a Controller, keeping it for resending when
// it asks for a response.
func (s *subscriptions) notify(ctx context.Context, c *controller, subPath string, n *wire.Notify, expires time.Time) string {
	id := s.msgID()
	msg := &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_NOTIFY},
		Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{ReqType: &wire.Request_Notify{Notify: n}}}}}
	payload, err := wire.MarshalMsg(msg)
	if err != nil {
		s.a.log.ErrorContext(ctx, "notify could not be encoded", "err", err)
		return ""
	}
	if n.SendResp {
		p := &pending{MsgID: id, To: c.endpointID, Sub: subPath, Payload: payload, Expires: expires}
		p.retry = mtp.Retry{MinWait: time.Duration(c.retryMin) * time.Second, Multiplier: c.retryMult}
		now := s.a.now()
		p.next = now.Add(p.retry.Next())
		p.storeAt = now.Add(storeDelay)
		s.mu.Lock()
		s.pending[id] = p
		s.mu.Unlock()
	}
	if !s.a.sendTo(ctx, c, payload) && !n.SendResp {
		// Not connected (an Agent whose Controllers connect to it, just
		// started): keep it for the next connection, for a while.
		p := &pending{MsgID: id, To: c.endpointID, Sub: subPath, Payload: payload, Expires: s.a.now().Add(unsentTTL), Once: true,
			next: s.a.now().Add(unsentTTL)}
		s.mu.Lock()
		if s.unsent() < maxUnsent {
			s.pending[id] = p
		}
		s.mu.Unlock()
	}
	return id
}

// msgID is the msg_id of a new Notify: "notify-<start>-<sequence>", unique
// across restarts of the Agent.
func (s *subscriptions) msgID() string {
	var buf [48]byte
	b := append(buf[:0], "notify-"...)
	b = strconv.AppendInt(b, s.a.start.UnixNano(), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, s.seq.Add(1), 10)
	return string(b)
}

// Bounds of the notifications kept for a Controller not connected.
const (
	unsentTTL = 10 * time.Minute
	maxUnsent = 1000
)

// unsent counts the Once entries; s.mu is held.
func (s *subscriptions) unsent() int {
	n := 0
	for _, p := range s.pending {
		if p.Once {
			n++
		}
	}
	return n
}

func (s *subscriptions) forget(ctx context.Context, id string) {
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	s.mu.Lock()
	p, ok := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()
	if ok && p.stored {
		if err := s.a.opt.Store.Apply(ctx, &store.Batch{DeleteItems: []store.Item{{Kind: "notify", ID: id}}}); err != nil {
			s.a.log.WarnContext(ctx, "acknowledged notification not removed from the store", "msg_id", id, "err", err)
		}
	}
}

// loadPending restores the notifications still waiting for a response.
func (s *subscriptions) loadPending(ctx context.Context, snap *store.Snapshot) error {
	for _, it := range snap.Items {
		if it.Kind != "notify" {
			continue
		}
		var p pending
		if err := json.Unmarshal(it.Data, &p); err != nil {
			s.a.log.WarnContext(ctx, "stored notification unreadable, dropped", "id", it.ID, "err", err)
			continue
		}
		p.next = s.a.now()
		p.stored = true
		if c := s.a.controllerByEndpoint(p.To); c != nil {
			p.retry = mtp.Retry{MinWait: time.Duration(c.retryMin) * time.Second, Multiplier: c.retryMult}
		}
		s.pending[p.MsgID] = &p
	}
	return nil
}

// acked handles a NotifyResp.
func (s *subscriptions) acked(ctx context.Context, from, msgID, subID string) {
	s.mu.Lock()
	p := s.pending[msgID]
	s.mu.Unlock()
	if p == nil || p.To != from {
		return
	}
	s.forget(ctx, msgID)
	s.a.onb.acked(ctx, msgID) // an OnBoardRequest's restart timer starts [R-NOT.5]
}

// failed handles an Error answering a Notify: the Controller refused it,
// so it is not resent.
func (s *subscriptions) failed(ctx context.Context, from, msgID string) {
	s.a.onb.drop(msgID)
	s.acked(ctx, from, msgID, "")
}

func (s *subscriptions) kick() {
	select {
	case s.kickc <- struct{}{}:
	default:
	}
}

// run resends unacknowledged notifications with the spec's back-off
// [R-NOT.…], expires subscriptions at their TimeToLive, and polls
// provided parameters for ValueChange.
func (s *subscriptions) run(ctx context.Context) {
	interval := s.a.opt.PollInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	tick := time.NewTicker(min(interval, time.Second))
	defer tick.Stop()
	lastPoll := s.a.now()
	for {
		select {
		case <-ctx.Done():
			// Stopping: what is still unacknowledged is resent after
			// the restart.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			s.storePending(sctx, time.Time{}, true)
			cancel()
			return
		case <-tick.C:
		case <-s.kickc:
			s.mu.Lock()
			for _, p := range s.pending {
				p.next = s.a.now()
			}
			s.mu.Unlock()
		}
		now := s.a.now()
		s.storePending(ctx, now, false)
		s.resend(ctx, now)
		s.expire(ctx, now)
		if now.Sub(lastPoll) >= interval {
			lastPoll = now
			s.poll(ctx)
		}
	}
}

func (s *subscriptions) resend(ctx context.Context, now time.Time) {
	s.mu.Lock()
	var due []*pending
	for _, p := range s.pending {
		if !p.next.After(now) {
			due = append(due, p)
		}
	}
	s.mu.Unlock()
	for _, p := range due {
		if !p.Expires.IsZero() && now.After(p.Expires) {
			s.a.log.InfoContext(ctx, "notification expired unacknowledged", "msg_id", p.MsgID, "to", p.To)
			s.forget(ctx, p.MsgID)
			continue
		}
		c := s.a.controllerByEndpoint(p.To)
		if c == nil {
			s.forget(ctx, p.MsgID)
			continue
		}
		if p.Once {
			if s.a.sendTo(ctx, c, p.Payload) {
				s.mu.Lock()
				delete(s.pending, p.MsgID)
				s.mu.Unlock()
			} else {
				s.mu.Lock()
				p.next = p.Expires
				s.mu.Unlock()
			}
			continue
		}
		s.mu.Lock()
		p.next = now.Add(p.retry.Next())
		s.mu.Unlock()
		s.a.sendTo(ctx, c, p.Payload)
	}
}

func (s *subscriptions) expire(ctx context.Context, now time.Time) {
	s.mu.Lock()
	var gone []string
	for _, x := range s.subs {
		if x.ttl > 0 && !x.created.IsZero() && now.Sub(x.created) >= x.ttl {
			gone = append(gone, x.path)
		}
	}
	s.mu.Unlock()
	if len(gone) > 0 {
		if _, err := s.a.eng.Delete(ctx, agentCaller, true, gone); err != nil {
			s.a.log.WarnContext(ctx, "expiring subscriptions", "err", err)
		}
	}
}

// matchesAny reports whether any reference covers path: an exact path, a
// partial path above it, or a path with wildcards or search expressions
// (evaluated against the data model).
func (s *subscriptions) matchesAny(refs []string, path string) bool {
	for _, ref := range refs {
		if s.matches(ref, path) {
			return true
		}
	}
	return false
}

func (s *subscriptions) matches(ref, path string) bool {
	rp, err := pathname.Parse(ref)
	if err != nil {
		return false
	}
	pp, err := pathname.Parse(path)
	if err != nil {
		return false
	}
	rs, ps := rp.Segments, pp.Segments
	if len(rs) > len(ps) || len(rs) < len(ps) && rp.Kind != pathname.KindObject {
		return false
	}
	if len(rs) == len(ps) && rp.Kind != pp.Kind {
		return false
	}
	search := false
	for i, r := range rs {
		p := ps[i]
		switch r.Kind {
		case pathname.TokenName:
			if p.Kind != pathname.TokenName || p.Text != r.Text {
				return false
			}
		case pathname.TokenInstance:
			if p.Kind != pathname.TokenInstance || p.Num != r.Num {
				return false
			}
		case pathname.TokenWildcard:
			if p.Kind != pathname.TokenInstance {
				return false
			}
		case pathname.TokenExpr:
			if p.Kind != pathname.TokenInstance {
				return false
			}
			search = true
		default:
			return false
		}
	}
	if !search {
		return true
	}
	// Resolve the reference's object part and see if path lies under one
	// of the objects found.
	obj := rp
	if rp.Kind != pathname.KindObject {
		obj.Segments, obj.Kind = rp.Segments[:len(rp.Segments)-1], pathname.KindObject
	}
	for _, r := range s.a.eng.Instances(context.Background(), agentCaller, []string{obj.String()}, true) {
		for _, in := range r.Instances {
			if strings.HasPrefix(path, in.Path) {
				return true
			}
		}
	}
	return false
}

// matchesTable reports whether an ObjectCreation or ObjectDeletion
// subscription covers the table of the instance at path.
func (s *subscriptions) matchesTable(ctx context.Context, x *sub, path string, exists bool) bool {
	table, _, ok := cutInstance(path)
	if !ok {
		return false
	}
	for _, ref := range x.refs {
		if ref == table || strings.HasSuffix(ref, "{i}.") && strings.TrimSuffix(ref, "{i}.") == table {
			return true
		}
		if strings.HasSuffix(ref, "*.") && s.matches(ref, path) || s.matches(ref, table) {
			return true
		}
	}
	return false
}

func cutInstance(path string) (table string, n uint32, ok bool) {
	p := strings.TrimSuffix(path, ".")
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return "", 0, false
	}
	v, err := strconv.ParseUint(p[i+1:], 10, 32)
	return p[:i+1], uint32(v), err == nil
}

// sendTo delivers a Msg the Agent starts (a Notify) to a Controller, over
// its configured MTPs in order (see deliver). It reports whether a
// transport took the Record.
func (a *Agent) sendTo(ctx context.Context, c *controller, payload []byte) bool {
	recs, err := a.sessionRecords(c.endpointID, payload, 0)
	if err != nil {
		a.log.WarnContext(ctx, "notification not sent in the E2E session", "controller", c.endpointID, "err", err)
		return false
	}
	sent := true
	for _, r := range recs {
		sent = sent && a.deliver(ctx, c, r)
	}
	if sent {
		return true
	}
	a.log.WarnContext(ctx, "no way to reach controller", "controller", c.endpointID)
	return false
}

func (a *Agent) controllerByEndpoint(id string) *controller {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ctrls[id]
}

func (a *Agent) controllerByRef(ref string) *controller {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ctrlRefs[strings.TrimSuffix(ref, ".")+"."]
}
