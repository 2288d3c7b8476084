package agent

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// Subscriptions through the Broker. A Controller's
// Device.LocalAgent.Subscription whose ReferenceList touches a Service's
// paths makes the Broker, as the Service's Controller, add a Subscription
// of the same NotifType on the Service for those references (TR-369
// "Software Modularization": the Broker's Agent "might need to send USP
// Notify messages to external USP Controllers … where some portions of that
// subscription could be distributed across multiple USP Services"). The
// Service's Notify is forwarded to the Controller under the Controller's
// subscription ID, with its NotifRetry, permissions and retries applied by
// the Broker as for its own notifications. OperationComplete is not
// forwarded that way: an asynchronous command the Broker proxies has its
// Request object in the Broker, whose completion notifies as any local
// command does (see operateAsync).
//
// An ObjectDeletion subscription also makes the Broker follow the
// instances the Service has (an ObjectCreation subscription of its own and
// a GetInstances at the start), so that when the Service goes away the
// Controller is told of each instance that went with it.

// svcSub is a Subscription the Broker keeps on a Service.
type svcSub struct {
	key  subKey
	refs string
	id   string // its ID on the Service
	path string // its instance path on the Service
}

// subKey names a Service-side subscription: the Controller subscription
// it serves, the Service, and its kind (the NotifType, or "track" for the
// ObjectCreation subscription that follows instances for ObjectDeletion).
type subKey struct{ ctl, eid, kind string }

const kindTrack = "track"

// subState is the broker's subscription bookkeeping, under broker.mu.
type subState struct {
	subs  map[subKey]*svcSub
	byID  map[string]*svcSub                                        // eid + "\x00" + ID on the Service
	known map[string]map[string]bool                                // Controller subscription path → Service instances it covers
	ops   map[string]map[string]chan *wire.Notify_OperationComplete // eid+"\x00"+op subscription ID → executed command → result
	kickc chan struct{}
	seq   uint64
}

func (b *broker) initSubs() {
	b.ss = subState{subs: map[subKey]*svcSub{}, byID: map[string]*svcSub{}, known: map[string]map[string]bool{},
		ops: map[string]map[string]chan *wire.Notify_OperationComplete{}, kickc: make(chan struct{}, 1)}
}

// kick asks for the Service-side subscriptions to be brought in line.
func (b *broker) kick() {
	select {
	case b.ss.kickc <- struct{}{}:
	default:
	}
}

// runSubs keeps the Service-side subscriptions in line until ctx is done.
func (b *broker) runSubs(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.ss.kickc:
			b.syncSubs(ctx)
		}
	}
}

// want is one Service-side subscription the Controllers' subscriptions
// call for.
type want struct {
	s         *uspService
	notifType string
	refs      string
}

// syncSubs adds and deletes Service-side subscriptions so that each
// Controller subscription touching a Service has its counterpart there.
func (b *broker) syncSubs(ctx context.Context) {
	b.a.subs.mu.Lock()
	var ctl []*sub
	for _, x := range b.a.subs.subs {
		if x.notifType != notifOperationComplete {
			ctl = append(ctl, x)
		}
	}
	b.a.subs.mu.Unlock()
	desired := map[subKey]want{}
	for _, x := range ctl {
		per := map[*uspService][]string{}
		for _, ref := range x.refs {
			s, spans := b.ownerOf(ref)
			if s != nil {
				per[s] = append(per[s], ref)
			}
			for _, sp := range spans {
				per[sp.s] = append(per[sp.s], sp.path)
			}
		}
		for s, refs := range per {
			w := want{s: s, notifType: x.notifType, refs: strings.Join(refs, ",")}
			desired[subKey{x.path, s.eid, x.notifType}] = w
			if x.notifType == notifObjectDeletion {
				w.notifType = notifObjectCreation
				desired[subKey{x.path, s.eid, kindTrack}] = w
			}
		}
	}
	b.mu.Lock()
	var drop []*svcSub
	for k, cur := range b.ss.subs {
		if w, ok := desired[k]; !ok || w.refs != cur.refs || b.services[k.eid] != w.s {
			drop = append(drop, cur)
			b.forgetSubLocked(cur)
		}
	}
	var add []subKey
	for k := range desired {
		if b.ss.subs[k] == nil {
			add = append(add, k)
		}
	}
	b.mu.Unlock()
	for _, cur := range drop {
		if s := b.service(cur.key.eid); s != nil && cur.path != "" {
			b.call(ctx, s, wire.Header_DELETE, &wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{AllowPartial: true, ObjPaths: []string{cur.path}}}})
		}
	}
	slices.SortFunc(add, func(x, y subKey) int { return strings.Compare(x.ctl+x.eid+x.kind, y.ctl+y.eid+y.kind) })
	for _, k := range add {
		w := desired[k]
		path, id, err := b.subscribe(ctx, w.s, w.notifType, w.refs)
		if err != nil {
			b.a.log.WarnContext(ctx, "broker: subscription on usp service failed", "service", w.s.eid, "type", w.notifType, "refs", w.refs, "err", err)
			continue
		}
		cur := &svcSub{key: k, refs: w.refs, id: id, path: path}
		b.mu.Lock()
		b.ss.subs[k] = cur
		b.ss.byID[k.eid+"\x00"+id] = cur
		b.mu.Unlock()
		if k.kind == kindTrack {
			b.learnInstances(ctx, w.s, k.ctl, w.refs)
		}
	}
}

// forgetSubLocked drops a Service-side subscription from the books; b.mu
// is held.
func (b *broker) forgetSubLocked(cur *svcSub) {
	delete(b.ss.subs, cur.key)
	delete(b.ss.byID, cur.key.eid+"\x00"+cur.id)
}

// service returns the connected Service eid, or nil.
func (b *broker) service(eid string) *uspService {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.services[eid]
}

// subscribe adds a Subscription on s and returns its instance path and ID.
func (b *broker) subscribe(ctx context.Context, s *uspService, notifType, refs string) (path, id string, err error) {
	b.mu.Lock()
	b.ss.seq++
	id = "broker-" + strconv.FormatUint(b.ss.seq, 10)
	b.mu.Unlock()
	m, err := b.call(ctx, s, wire.Header_ADD, &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{
		ObjPath: pathSubs, ParamSettings: []*wire.Add_CreateParamSetting{
			{Param: "ID", Value: id, Required: true}, {Param: "NotifType", Value: notifType, Required: true},
			{Param: "ReferenceList", Value: refs, Required: true}, {Param: "Enable", Value: "true", Required: true},
		}}}}}})
	if err != nil {
		return "", "", err
	}
	if e := m.GetBody().GetError(); e != nil {
		return "", "", usperr.Errorf(e.GetErrCode(), "%s", e.GetErrMsg())
	}
	rs := m.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()
	if len(rs) != 1 || rs[0].GetOperStatus().GetOperSuccess() == nil {
		return "", "", usperr.Errorf(usperr.CodeInternal, "the USP Service did not add the subscription: %v", rs)
	}
	return rs[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath(), id, nil
}

// learnInstances records the instances of the tables refs name on s, for
// the ObjectDeletion subscription ctl.
func (b *broker) learnInstances(ctx context.Context, s *uspService, ctl, refs string) {
	m, err := b.call(ctx, s, wire.Header_GET_INSTANCES, &wire.Request{ReqType: &wire.Request_GetInstances{GetInstances: &wire.GetInstances{
		ObjPaths: strings.Split(refs, ","), FirstLevelOnly: true}}})
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range m.GetBody().GetResponse().GetGetInstancesResp().GetReqPathResults() {
		for _, ci := range r.GetCurrInsts() {
			b.knowLocked(ctl, ci.GetInstantiatedObjPath(), true)
		}
	}
}

func (b *broker) knowLocked(ctl, path string, exists bool) {
	k := b.ss.known[ctl]
	if k == nil {
		if !exists {
			return
		}
		k = map[string]bool{}
		b.ss.known[ctl] = k
	}
	if exists {
		k[path] = true
	} else {
		delete(k, path)
	}
}

// notify takes a Notify from a USP Service's Agent: it forwards it to the
// Controller whose subscription it serves, or completes an operation the
// Broker proxied, and answers with a NotifyResp when asked.
func (b *broker) notify(ctx context.Context, from, id string, n *wire.Notify) *wire.Msg {
	var reply *wire.Msg
	if n.GetSendResp() {
		reply = respMsg(id, wire.Header_NOTIFY_RESP, &wire.Response{RespType: &wire.Response_NotifyResp{
			NotifyResp: &wire.NotifyResp{SubscriptionId: n.GetSubscriptionId()}}})
	}
	key := from + "\x00" + n.GetSubscriptionId()
	if oc := n.GetOperComplete(); oc != nil {
		b.mu.Lock()
		if w := b.ss.ops[key]; w != nil {
			ch := opChan(w, oc.GetObjPath()+oc.GetCommandName())
			select {
			case ch <- oc:
			default:
			}
		}
		b.mu.Unlock()
		return reply
	}
	b.mu.Lock()
	cur := b.ss.byID[key]
	if cur == nil {
		b.mu.Unlock()
		b.a.log.DebugContext(ctx, "broker: notify for no subscription", "from", from, "subscription", n.GetSubscriptionId())
		return reply
	}
	switch {
	case cur.key.kind == kindTrack:
		b.knowLocked(cur.key.ctl, n.GetObjCreation().GetObjPath(), true)
		b.mu.Unlock()
		return reply
	case n.GetObjDeletion() != nil:
		b.knowLocked(cur.key.ctl, n.GetObjDeletion().GetObjPath(), false)
	}
	ctlPath := cur.key.ctl
	b.mu.Unlock()
	var path string
	var right datamodel.Perms
	switch {
	case n.GetValueChange() != nil:
		path, right = n.GetValueChange().GetParamPath(), datamodel.ParamNotify
	case n.GetObjCreation() != nil:
		path, right = n.GetObjCreation().GetObjPath(), datamodel.ObjNotify
	case n.GetObjDeletion() != nil:
		path, right = n.GetObjDeletion().GetObjPath(), datamodel.InstNotify
	case n.GetEvent() != nil:
		path, right = n.GetEvent().GetObjPath()+n.GetEvent().GetEventName(), datamodel.CmdNotify
	default:
		return reply
	}
	b.forward(ctx, ctlPath, path, right, n)
	return reply
}

// forward sends n to the Controller subscription at ctlPath, under its ID.
func (b *broker) forward(ctx context.Context, ctlPath, path string, right datamodel.Perms, n *wire.Notify) {
	b.a.subs.mu.Lock()
	x := b.a.subs.subs[ctlPath]
	b.a.subs.mu.Unlock()
	if x == nil {
		return
	}
	b.a.subs.sendTo(ctx, x, path, right, func(*controller) *wire.Notify { return n.CloneVT() })
}

// serviceGone runs after a USP Service disconnected and lost its
// registrations: its subscriptions are forgotten, operations waiting for
// it fail, and each instance an ObjectDeletion subscription followed there
// is reported deleted.
func (b *broker) serviceGone(ctx context.Context, s *uspService) {
	type gone struct{ ctl, path string }
	var deleted []gone
	b.mu.Lock()
	for k, cur := range b.ss.subs {
		if k.eid != s.eid {
			continue
		}
		b.forgetSubLocked(cur)
		if k.kind != notifObjectDeletion {
			continue
		}
		for p := range b.ss.known[k.ctl] {
			if b.ownedByLocked(s, p) {
				deleted = append(deleted, gone{k.ctl, p})
				delete(b.ss.known[k.ctl], p)
			}
		}
	}
	b.mu.Unlock()
	slices.SortFunc(deleted, func(x, y gone) int { return strings.Compare(x.ctl+x.path, y.ctl+y.path) })
	for _, d := range deleted {
		b.forward(ctx, d.ctl, d.path, datamodel.InstNotify, &wire.Notify{Notification: &wire.Notify_ObjDeletion{ObjDeletion: &wire.Notify_ObjectDeletion{ObjPath: d.path}}})
	}
	b.kick()
}

// ownedByLocked reports whether path lies in one of the paths s had
// registered (before it went); b.mu is held.
func (b *broker) ownedByLocked(s *uspService, path string) bool {
	for _, p := range s.paths {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// opChan returns the channel for the executed command cmd, creating it;
// the broker's lock is held.
func opChan(w map[string]chan *wire.Notify_OperationComplete, cmd string) chan *wire.Notify_OperationComplete {
	ch := w[cmd]
	if ch == nil {
		ch = make(chan *wire.Notify_OperationComplete, 1)
		w[cmd] = ch
	}
	return ch
}

// asyncCache remembers which of a Service's commands are asynchronous, by
// Endpoint ID and supported command path.
type asyncCache struct {
	mu sync.Mutex
	m  map[string]bool
}

// supportedPath turns an instantiated path into its supported form:
// instance numbers, wildcards and search expressions become {i}.
func supportedPath(p string) string {
	segs := segments(p)
	for i, s := range segs {
		if s == "*" || strings.HasPrefix(s, "[") || s != "" && strings.Trim(s, "0123456789") == "" {
			segs[i] = "{i}"
		}
	}
	return strings.Join(segs, ".")
}
