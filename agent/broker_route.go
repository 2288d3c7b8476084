package agent

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// Routing. A request that touches a path a USP Service registered is split
// at the message level: each Service gets one request of the same type with
// the paths it owns (with the request's msg_id replaced by the Broker's
// own), the local engine the rest, and the answers are merged back in the
// order of the request, under the Controller's msg_id. A path that does not
// start with a registered path but covers one ("Device.", "Device.*.Name")
// is answered by the engine and by every Service whose registered path it
// covers, with the covered part of the path sent to the Service ("spanning").
//
// allow_partial false: TR-369 defines no commit protocol between a Broker
// and its Services, so a Set, Add or Delete over several owners cannot be
// atomic. The Broker sends each Service its part with allow_partial false
// (each Service is atomic on its own), runs its own part last and only when
// every Service succeeded, and answers with the first Service's Error;
// changes other Services already committed stay.

// route answers req when it touches a registered path, and reports
// whether it did (the answer may be nil: an Operate without send_resp);
// false leaves the request to the engine alone.
func (b *broker) route(ctx context.Context, c datamodel.Caller, id string, req *wire.Request) (*wire.Msg, bool) {
	b.mu.RLock()
	n := len(b.owner)
	b.mu.RUnlock()
	if n == 0 {
		return nil, false
	}
	if !b.touches(req) {
		return nil, false
	}
	switch r := req.GetReqType().(type) {
	case *wire.Request_Get:
		return b.get(ctx, c, id, r.Get), true
	case *wire.Request_Set:
		return b.set(ctx, c, id, r.Set), true
	case *wire.Request_Add:
		return b.add(ctx, c, id, r.Add), true
	case *wire.Request_Delete:
		return b.delete(ctx, c, id, r.Delete), true
	case *wire.Request_Operate:
		return b.operate(ctx, c, id, r.Operate)
	case *wire.Request_GetInstances:
		return b.instances(ctx, c, id, r.GetInstances), true
	case *wire.Request_GetSupportedDm:
		return b.supported(ctx, c, id, r.GetSupportedDm), true
	}
	return nil, false
}

// touches reports whether req names a path a Service owns or, for the
// read requests, one that covers a Service's path.
func (b *broker) touches(req *wire.Request) bool {
	var paths []string
	spans := false
	switch r := req.GetReqType().(type) {
	case *wire.Request_Get:
		paths, spans = r.Get.GetParamPaths(), true
	case *wire.Request_GetInstances:
		paths, spans = r.GetInstances.GetObjPaths(), true
	case *wire.Request_GetSupportedDm:
		paths, spans = r.GetSupportedDm.GetObjPaths(), true
	case *wire.Request_Set:
		for _, o := range r.Set.GetUpdateObjs() {
			paths = append(paths, o.GetObjPath())
		}
	case *wire.Request_Add:
		for _, o := range r.Add.GetCreateObjs() {
			paths = append(paths, o.GetObjPath())
		}
	case *wire.Request_Delete:
		paths = r.Delete.GetObjPaths()
	case *wire.Request_Operate:
		paths = []string{r.Operate.GetCommand()}
	}
	for _, p := range paths {
		s, sp := b.ownerOf(p)
		if s != nil || spans && len(sp) > 0 {
			return true
		}
		for _, x := range sp { // a change reaching into a Service (broker_change.go)
			if x.depth == 0 {
				return true
			}
		}
	}
	return false
}

// span is the part of a requested path a Service answers.
type span struct {
	s    *uspService
	path string
	// depth is how many object levels the Service's path lies below the
	// requested one (0 when the requested path reaches into it).
	depth int
}

// ownerOf returns the Service whose registered path p starts with, or nil,
// and the Services whose registered paths p covers.
func (b *broker) ownerOf(p string) (*uspService, []span) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for r, s := range b.owner {
		if strings.HasPrefix(p, r) {
			return s, nil
		}
	}
	var spans []span
	ps := segments(p)
	obj := strings.HasSuffix(p, ".")
	for r, s := range b.owner {
		rs := segments(r)
		k := len(rs)
		match := true
		for i := 0; i < k && i < len(ps); i++ {
			if ps[i] != rs[i] && ps[i] != "*" {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		switch {
		case len(ps) < k && obj:
			spans = append(spans, span{s: s, path: r, depth: k - len(ps)})
		case len(ps) >= k:
			sub := r + strings.Join(ps[k:], ".")
			if obj && len(ps) > k {
				sub += "."
			}
			spans = append(spans, span{s: s, path: sub})
		}
	}
	return nil, spans
}

// segments splits a path at the dots outside search expressions, without
// the empty segment after a final dot.
func segments(p string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			}
		case '.':
			if depth == 0 {
				out = append(out, p[start:i])
				start = i + 1
			}
		}
	}
	if start < len(p) {
		out = append(out, p[start:])
	}
	return out
}

// fanout runs one request per Service concurrently and returns the answers
// (or errors) by Service.
func (b *broker) fanout(ctx context.Context, reqs map[*uspService]*wire.Request, mt wire.Header_MsgType) (map[*uspService]*wire.Msg, map[*uspService]error) {
	resp := make(map[*uspService]*wire.Msg, len(reqs))
	errs := map[*uspService]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for s, r := range reqs {
		wg.Go(func() {
			m, err := b.call(ctx, s, mt, r)
			if err == nil && m.GetBody().GetError() != nil {
				e := m.GetBody().GetError()
				err = usperr.Errorf(e.GetErrCode(), "%s", e.GetErrMsg())
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[s] = err
			} else {
				resp[s] = m
			}
		})
	}
	wg.Wait()
	return resp, errs
}

// at returns rs[i], or def() when rs is shorter.
func at[R any](rs []R, i int, def func() R) R {
	if i < len(rs) {
		return rs[i]
	}
	return def()
}

// perms returns c's permissions on path.
func perms(c datamodel.Caller, path string) datamodel.Perms {
	if c.Access == nil {
		return datamodel.AllPerms
	}
	return c.Access.Perms(path)
}

// get answers a Get whose paths may lie in Services.
func (b *broker) get(ctx context.Context, c datamodel.Caller, id string, g *wire.Get) *wire.Msg {
	type key struct {
		s     *uspService
		depth uint32
	}
	var local []string
	groups := map[key][]string{}
	owners := make([]*uspService, len(g.GetParamPaths()))
	spans := make([][]span, len(g.GetParamPaths()))
	for i, p := range g.GetParamPaths() {
		s, sp := b.ownerOf(p)
		if s != nil {
			owners[i] = s
			k := key{s, g.GetMaxDepth()}
			groups[k] = append(groups[k], p)
			continue
		}
		local = append(local, p)
		for _, x := range sp {
			d := g.GetMaxDepth()
			if d != 0 {
				if int(d) <= x.depth {
					continue // the Service's objects lie deeper than asked
				}
				d -= uint32(x.depth)
			}
			spans[i] = append(spans[i], x)
			k := key{x.s, d}
			groups[k] = append(groups[k], x.path)
		}
	}
	// One Get per Service and depth, concurrently with the local part.
	type answer struct {
		res []*wire.GetResp_RequestedPathResult
		err error
	}
	answers := map[key]*answer{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for k, paths := range groups {
		wg.Go(func() {
			m, err := b.call(ctx, k.s, wire.Header_GET, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths, MaxDepth: k.depth}}})
			an := &answer{err: err}
			if err == nil {
				if e := m.GetBody().GetError(); e != nil {
					an.err = usperr.Errorf(e.GetErrCode(), "%s", e.GetErrMsg())
				} else {
					an.res = m.GetBody().GetResponse().GetGetResp().GetReqPathResults()
				}
			}
			mu.Lock()
			answers[k] = an
			mu.Unlock()
		})
	}
	var localRes []*wire.GetResp_RequestedPathResult
	if len(local) > 0 {
		lm := b.a.get(ctx, c, id, &wire.Get{ParamPaths: local, MaxDepth: g.GetMaxDepth()})
		localRes = lm.GetBody().GetResponse().GetGetResp().GetReqPathResults()
	}
	wg.Wait()
	// take returns the Service's result for path p and forgets it, so
	// that a path asked twice gets one result each time.
	take := func(k key, p string) (*wire.GetResp_RequestedPathResult, error) {
		an := answers[k]
		if an == nil {
			return nil, usperr.Errorf(usperr.CodeInternal, "no answer")
		}
		if an.err != nil {
			return nil, an.err
		}
		for j, r := range an.res {
			if r != nil && r.GetRequestedPath() == p {
				an.res[j] = nil
				return r, nil
			}
		}
		return nil, usperr.Errorf(usperr.CodeInternal, "USP Service %s did not answer for %s", k.s.eid, p)
	}
	out := &wire.GetResp{}
	li := 0
	for i, p := range g.GetParamPaths() {
		var rp *wire.GetResp_RequestedPathResult
		if s := owners[i]; s != nil {
			r, err := take(key{s, g.GetMaxDepth()}, p)
			if err != nil {
				rp = &wire.GetResp_RequestedPathResult{RequestedPath: p, ErrCode: usperr.Code(err), ErrMsg: usperr.Message(err)}
			} else {
				rp = &wire.GetResp_RequestedPathResult{RequestedPath: p, ErrCode: r.GetErrCode(), ErrMsg: r.GetErrMsg(),
					ResolvedPathResults: filterRead(c, r.GetResolvedPathResults())}
			}
		} else {
			rp = at(localRes, li, func() *wire.GetResp_RequestedPathResult {
				return &wire.GetResp_RequestedPathResult{RequestedPath: p, ErrCode: usperr.CodeInternal, ErrMsg: "no result"}
			})
			li++
			for _, x := range spans[i] {
				d := g.GetMaxDepth()
				if d != 0 {
					d -= uint32(x.depth)
				}
				r, err := take(key{x.s, d}, x.path)
				if err != nil || r.GetErrCode() != 0 {
					continue // a Service that cannot answer a covered path adds nothing
				}
				if rp.GetErrCode() != 0 && len(r.GetResolvedPathResults()) > 0 {
					// The path means nothing locally but something in a Service.
					rp = &wire.GetResp_RequestedPathResult{RequestedPath: p}
				}
				if rp.GetErrCode() == 0 {
					rp.ResolvedPathResults = append(rp.ResolvedPathResults, filterRead(c, r.GetResolvedPathResults())...)
				}
			}
		}
		out.ReqPathResults = append(out.ReqPathResults, rp)
	}
	return respMsg(id, wire.Header_GET_RESP, &wire.Response{RespType: &wire.Response_GetResp{GetResp: out}})
}

// filterRead keeps the parameters c may read: the Broker applies the
// Controller's ControllerTrust permissions to what Services return.
func filterRead(c datamodel.Caller, rs []*wire.GetResp_ResolvedPathResult) []*wire.GetResp_ResolvedPathResult {
	if c.Access == nil {
		return rs
	}
	out := make([]*wire.GetResp_ResolvedPathResult, 0, len(rs))
	for _, r := range rs {
		kept := map[string]string{}
		for n, v := range r.GetResultParams() {
			if perms(c, r.GetResolvedPath()+n).Has(datamodel.ParamRead) {
				kept[n] = v
			}
		}
		if len(kept) == 0 && len(r.GetResultParams()) > 0 {
			continue
		}
		out = append(out, &wire.GetResp_ResolvedPathResult{ResolvedPath: r.GetResolvedPath(), ResultParams: kept})
	}
	return out
}

// operate forwards an Operate on a Service's command to it and answers
// with its response under the Controller's msg_id. An asynchronous command
// gets a Request object in the Broker (Device.LocalAgent.Request.{i}),
// which completes, and sends OperationComplete to subscribed Controllers,
// when the Service reports the command done; Cancel() on it cancels the
// command in the Service.
func (b *broker) operate(ctx context.Context, c datamodel.Caller, id string, o *wire.Operate) (*wire.Msg, bool) {
	s, _ := b.ownerOf(o.GetCommand())
	if s == nil {
		return nil, false
	}
	if !perms(c, o.GetCommand()).Has(datamodel.CmdExec) {
		return errMsg(id, usperr.Errorf(usperr.CodePermissionDenied, "%s may not be run", o.GetCommand())), true
	}
	async := b.isAsync(ctx, s, o.GetCommand())
	var opKey string
	var opSub *svcSub
	if async {
		// Subscribe before running, so that no completion is missed.
		path, sid, err := b.subscribe(ctx, s, notifOperationComplete, o.GetCommand())
		if err != nil {
			return errMsg(id, err), true
		}
		opKey, opSub = s.eid+"\x00"+sid, &svcSub{id: sid, path: path}
		b.mu.Lock()
		b.ss.ops[opKey] = map[string]chan *wire.Notify_OperationComplete{}
		b.mu.Unlock()
	}
	fwd := o.CloneVT()
	fwd.SendResp = true
	m, err := b.call(ctx, s, wire.Header_OPERATE, &wire.Request{ReqType: &wire.Request_Operate{Operate: fwd}})
	if err == nil && m.GetBody().GetError() != nil {
		e := m.GetBody().GetError()
		err = usperr.Errorf(e.GetErrCode(), "%s", e.GetErrMsg())
	}
	if err != nil {
		if async {
			b.endOp(ctx, s, opKey, opSub)
		}
		return errMsg(id, err), true
	}
	out := m.GetBody().GetResponse().GetOperateResp()
	var waiting []*wire.OperateResp_OperationResult
	for _, r := range out.GetOperationResults() {
		if r.GetReqObjPath() != "" {
			waiting = append(waiting, r)
		}
	}
	if async {
		var wg sync.WaitGroup
		for _, r := range waiting {
			svcReq, cmd := r.GetReqObjPath(), r.GetExecutedCommand()
			b.mu.Lock()
			ch := opChan(b.ss.ops[opKey], cmd)
			b.mu.Unlock()
			wg.Add(1)
			r.OperationResp = &wire.OperateResp_OperationResult_ReqObjPath{ReqObjPath: b.a.reqs.start(ctx, c.EndpointID, cmd, o.GetCommandKey(),
				func(rctx context.Context) (map[string]string, error) {
					defer wg.Done()
					return b.await(rctx, s, svcReq, ch)
				})}
		}
		go func() {
			wg.Wait()
			b.endOp(context.WithoutCancel(ctx), s, opKey, opSub)
		}()
	}
	if !o.GetSendResp() {
		return nil, true
	}
	return respMsg(id, wire.Header_OPERATE_RESP, &wire.Response{RespType: &wire.Response_OperateResp{OperateResp: out}}), true
}

// await waits for the end of an asynchronous command a Service runs (its
// Request object svcReq there), for the Broker's Request object.
func (b *broker) await(ctx context.Context, s *uspService, svcReq string, ch chan *wire.Notify_OperationComplete) (map[string]string, error) {
	select {
	case oc := <-ch:
		if f := oc.GetCmdFailure(); f != nil {
			return nil, usperr.Errorf(f.GetErrCode(), "%s", f.GetErrMsg())
		}
		return oc.GetReqOutputArgs().GetOutputArgs(), nil
	case <-s.gone:
		return nil, usperr.Errorf(usperr.CodeCommandFailure, "USP Service %s: %v", s.eid, errServiceGone)
	case <-ctx.Done():
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		b.call(cctx, s, wire.Header_OPERATE, &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: svcReq + "Cancel()", SendResp: true}}})
		return nil, usperr.Errorf(usperr.CodeCommandCanceled, "cancelled")
	}
}

// endOp removes an operation's subscription on the Service.
func (b *broker) endOp(ctx context.Context, s *uspService, opKey string, opSub *svcSub) {
	b.mu.Lock()
	delete(b.ss.ops, opKey)
	b.mu.Unlock()
	select {
	case <-s.gone:
		return
	default:
	}
	b.call(ctx, s, wire.Header_DELETE, &wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{AllowPartial: true, ObjPaths: []string{opSub.path}}}})
}

// isAsync reports whether the Service's command is asynchronous, from its
// supported data model (asked once per Service and command).
func (b *broker) isAsync(ctx context.Context, s *uspService, cmd string) bool {
	sp := supportedPath(cmd)
	key := s.eid + "\x00" + strconv.FormatUint(uint64(s.inst), 10) + "\x00" + sp
	b.async.mu.Lock()
	v, ok := b.async.m[key]
	b.async.mu.Unlock()
	if ok {
		return v
	}
	obj, name := splitCommand(sp)
	m, err := b.call(ctx, s, wire.Header_GET_SUPPORTED_DM, &wire.Request{ReqType: &wire.Request_GetSupportedDm{GetSupportedDm: &wire.GetSupportedDM{
		ObjPaths: []string{obj}, FirstLevelOnly: true, ReturnCommands: true}}})
	if err != nil {
		return false
	}
	for _, r := range m.GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults() {
		for _, so := range r.GetSupportedObjs() {
			if so.GetSupportedObjPath() != obj {
				continue
			}
			for _, c := range so.GetSupportedCommands() {
				if c.GetCommandName() == name {
					v = c.GetCommandType() == wire.GetSupportedDMResp_CMD_ASYNC
				}
			}
		}
	}
	b.async.mu.Lock()
	if len(b.async.m) < 4096 {
		b.async.m[key] = v
	}
	b.async.mu.Unlock()
	return v
}

// instances answers a GetInstances whose paths may lie in Services.
func (b *broker) instances(ctx context.Context, c datamodel.Caller, id string, g *wire.GetInstances) *wire.Msg {
	paths := g.GetObjPaths()
	type part struct {
		s    *uspService
		path string
	}
	var local []string
	parts := make([][]part, len(paths))
	isLocal := make([]bool, len(paths))
	groups := map[*uspService][]string{}
	for i, p := range paths {
		s, sp := b.ownerOf(p)
		if s != nil {
			parts[i] = []part{{s, p}}
			groups[s] = append(groups[s], p)
			continue
		}
		isLocal[i] = true
		local = append(local, p)
		for _, x := range sp {
			if x.depth > 0 && g.GetFirstLevelOnly() {
				continue
			}
			parts[i] = append(parts[i], part{x.s, x.path})
			groups[x.s] = append(groups[x.s], x.path)
		}
	}
	reqs := map[*uspService]*wire.Request{}
	for s, ps := range groups {
		reqs[s] = &wire.Request{ReqType: &wire.Request_GetInstances{GetInstances: &wire.GetInstances{ObjPaths: ps, FirstLevelOnly: g.GetFirstLevelOnly()}}}
	}
	resp, errs := b.fanout(ctx, reqs, wire.Header_GET_INSTANCES)
	var localRes []*wire.GetInstancesResp_RequestedPathResult
	if len(local) > 0 {
		lm := b.a.instances(ctx, c, id, &wire.GetInstances{ObjPaths: local, FirstLevelOnly: g.GetFirstLevelOnly()})
		localRes = lm.GetBody().GetResponse().GetGetInstancesResp().GetReqPathResults()
	}
	take := func(x part) (*wire.GetInstancesResp_RequestedPathResult, error) {
		if err := errs[x.s]; err != nil {
			return nil, err
		}
		rs := resp[x.s].GetBody().GetResponse().GetGetInstancesResp().GetReqPathResults()
		for j, r := range rs {
			if r != nil && r.GetRequestedPath() == x.path {
				rs[j] = nil
				return r, nil
			}
		}
		return nil, usperr.Errorf(usperr.CodeInternal, "USP Service %s did not answer for %s", x.s.eid, x.path)
	}
	out := &wire.GetInstancesResp{}
	li := 0
	for i, p := range paths {
		var rp *wire.GetInstancesResp_RequestedPathResult
		if isLocal[i] {
			rp = at(localRes, li, func() *wire.GetInstancesResp_RequestedPathResult {
				return &wire.GetInstancesResp_RequestedPathResult{RequestedPath: p, ErrCode: usperr.CodeInternal, ErrMsg: "no result"}
			})
			li++
		} else {
			r, err := take(parts[i][0])
			if err != nil {
				r = &wire.GetInstancesResp_RequestedPathResult{RequestedPath: p, ErrCode: usperr.Code(err), ErrMsg: usperr.Message(err)}
			}
			rp = &wire.GetInstancesResp_RequestedPathResult{RequestedPath: p, ErrCode: r.GetErrCode(), ErrMsg: r.GetErrMsg(), CurrInsts: r.GetCurrInsts()}
			parts[i] = nil
		}
		for _, x := range parts[i] {
			r, err := take(x)
			if err != nil || r.GetErrCode() != 0 {
				continue
			}
			if rp.GetErrCode() != 0 && len(r.GetCurrInsts()) > 0 {
				rp = &wire.GetInstancesResp_RequestedPathResult{RequestedPath: p}
			}
			if rp.GetErrCode() == 0 {
				rp.CurrInsts = append(rp.CurrInsts, r.GetCurrInsts()...)
			}
		}
		if c.Access != nil {
			kept := rp.CurrInsts[:0:0]
			for _, ci := range rp.CurrInsts {
				if perms(c, ci.GetInstantiatedObjPath()).Has(datamodel.InstRead) {
					kept = append(kept, ci)
				}
			}
			rp.CurrInsts = kept
		}
		out.ReqPathResults = append(out.ReqPathResults, rp)
	}
	return respMsg(id, wire.Header_GET_INSTANCES_RESP, &wire.Response{RespType: &wire.Response_GetInstancesResp{GetInstancesResp: out}})
}

// supported answers a GetSupportedDM: a Service's paths from the Service,
// and the Services' registered objects added to the Broker's own under a
// covering path.
func (b *broker) supported(ctx context.Context, c datamodel.Caller, id string, g *wire.GetSupportedDM) *wire.Msg {
	paths := g.GetObjPaths()
	type part struct {
		s    *uspService
		path string
	}
	parts := make([][]part, len(paths))
	isLocal := make([]bool, len(paths))
	var local []string
	groups := map[*uspService][]string{}
	for i, p := range paths {
		s, sp := b.ownerOf(p)
		if s != nil {
			parts[i] = []part{{s, p}}
			groups[s] = append(groups[s], p)
			continue
		}
		isLocal[i] = true
		local = append(local, p)
		for _, x := range sp {
			if x.depth > 1 && g.GetFirstLevelOnly() {
				continue
			}
			parts[i] = append(parts[i], part{x.s, x.path})
			groups[x.s] = append(groups[x.s], x.path)
		}
	}
	reqs := map[*uspService]*wire.Request{}
	for s, ps := range groups {
		q := &wire.GetSupportedDM{ObjPaths: ps, FirstLevelOnly: g.GetFirstLevelOnly(), ReturnCommands: g.GetReturnCommands(),
			ReturnEvents: g.GetReturnEvents(), ReturnParams: g.GetReturnParams(), ReturnUniqueKeySets: g.GetReturnUniqueKeySets()}
		reqs[s] = &wire.Request{ReqType: &wire.Request_GetSupportedDm{GetSupportedDm: q}}
	}
	resp, errs := b.fanout(ctx, reqs, wire.Header_GET_SUPPORTED_DM)
	var localRes []*wire.GetSupportedDMResp_RequestedObjectResult
	if len(local) > 0 {
		q := &wire.GetSupportedDM{ObjPaths: local, FirstLevelOnly: g.GetFirstLevelOnly(), ReturnCommands: g.GetReturnCommands(),
			ReturnEvents: g.GetReturnEvents(), ReturnParams: g.GetReturnParams(), ReturnUniqueKeySets: g.GetReturnUniqueKeySets()}
		localRes = b.a.supported(ctx, c, id, q).GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults()
	}
	take := func(x part) (*wire.GetSupportedDMResp_RequestedObjectResult, error) {
		if err := errs[x.s]; err != nil {
			return nil, err
		}
		rs := resp[x.s].GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults()
		for j, r := range rs {
			if r != nil && r.GetReqObjPath() == x.path {
				rs[j] = nil
				return r, nil
			}
		}
		return nil, usperr.Errorf(usperr.CodeInternal, "USP Service %s did not answer for %s", x.s.eid, x.path)
	}
	out := &wire.GetSupportedDMResp{}
	li := 0
	for i, p := range paths {
		var rr *wire.GetSupportedDMResp_RequestedObjectResult
		if isLocal[i] {
			rr = at(localRes, li, func() *wire.GetSupportedDMResp_RequestedObjectResult {
				return &wire.GetSupportedDMResp_RequestedObjectResult{ReqObjPath: p, ErrCode: usperr.CodeInternal, ErrMsg: "no result"}
			})
			li++
		} else {
			r, err := take(parts[i][0])
			if err != nil {
				r = &wire.GetSupportedDMResp_RequestedObjectResult{ReqObjPath: p, ErrCode: usperr.Code(err), ErrMsg: usperr.Message(err)}
			}
			r.SupportedObjs = b.serviceObjs(ctx, parts[i][0].s, r.GetSupportedObjs())
			rr, parts[i] = r, nil
		}
		for _, x := range parts[i] {
			r, err := take(x)
			if err != nil || r.GetErrCode() != 0 || rr.GetErrCode() != 0 {
				continue
			}
			rr.SupportedObjs = append(rr.SupportedObjs, b.serviceObjs(ctx, x.s, r.GetSupportedObjs())...)
		}
		out.ReqObjResults = append(out.ReqObjResults, rr)
	}
	return respMsg(id, wire.Header_GET_SUPPORTED_DM_RESP, &wire.Response{RespType: &wire.Response_GetSupportedDmResp{GetSupportedDmResp: out}})
}

// pickAt returns the entries of all at the indexes idx, in that order.
func pickAt[T any](idx []int, all []T) []T {
	out := make([]T, len(idx))
	for k, i := range idx {
		out[k] = all[i]
	}
	return out
}
