package agent

import (
	"context"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// Set, Add and Delete through the Broker. A requested path that starts
// with a Service's registered path goes to that Service. A path that
// starts above the registered paths and reaches into some of them through
// a wildcard at the level where they differ ("Device.*.Item.[Name==\"x\"].")
// is "spanning": the engine runs it on the Broker's objects and every
// Service whose registered path it reaches runs the part below its path;
// the results are merged into one result for the requested path. TR-369
// forbids registering a path below a multi-instance object [R-REG.2], so
// no instance number or search expression can lie above a registered path:
// a spanning path differs from a registered one at a name level only.

// target is one path a Service is asked to change: the requested path
// (index i) itself, or, for a spanning path, the part below the Service's
// registered path.
type target struct {
	i    int
	path string
}

// changeOps are what changed needs to know of one message type, R being
// its per-path result.
type changeOps[R any] struct {
	mt wire.Header_MsgType
	// denied says why the Controller may not change path (requested path
	// i, or the part of it in a Service), or nil.
	denied func(i int, path string) error
	// send builds a Service's request for targets ts.
	send func(ts []target, allowPartial bool) *wire.Request
	// local runs the engine on the requested paths idx.
	local func(idx []int, allowPartial bool) *wire.Msg
	// results reads the per-path results of an answer.
	results   func(m *wire.Msg) []R
	requested func(R) string
	// errOf is a result's failure, or nil.
	errOf  func(R) error
	failed func(p string, err error) R
	// merge combines the successful results of a spanning path p (the
	// Broker's first) into its results.
	merge func(p string, rs []R) []R
}

// partition assigns each requested path to its owning Service, or to the
// engine (nil), and lists, for each path of the engine's, the Services it
// reaches into (spans of depth 0: a spanning path above a registered path
// changes nothing in the Service).
func (b *broker) partition(paths []string) ([]*uspService, [][]span) {
	owners := make([]*uspService, len(paths))
	spans := make([][]span, len(paths))
	for i, p := range paths {
		s, sp := b.ownerOf(p)
		owners[i] = s
		for _, x := range sp {
			if x.depth == 0 {
				spans[i] = append(spans[i], x)
			}
		}
	}
	return owners, spans
}

// noMatch reports whether code says that a path resolves to nothing:
// the answer of a Service or of the engine whose objects a spanning path
// does not reach.
func noMatch(code uint32) bool {
	return code == usperr.CodeInvalidPath || code == usperr.CodeObjectNotFound || code == usperr.CodeInvalidPathSyntax
}

// changed runs a Set, Add or Delete split between Services and the engine
// and returns the merged results in request order, or an Error message.
// Services run first, concurrently; the engine runs last, and only when no
// Service failed if allowPartial is false.
func changed[R any](ctx context.Context, b *broker, id string, allowPartial bool, paths []string, op changeOps[R]) ([]R, *wire.Msg) {
	owners, spans := b.partition(paths)
	// A requested path may have several results (an Add on a search path
	// creates one instance per object found): out keeps them all.
	out := make([][]R, len(paths))
	var localIdx, spanIdx []int
	groups := map[*uspService][]target{}
	spanGroups := map[*uspService][]target{}
	for i, s := range owners {
		if s == nil {
			if len(spans[i]) == 0 {
				localIdx = append(localIdx, i)
				continue
			}
			spanIdx = append(spanIdx, i)
			for _, x := range spans[i] {
				if err := op.denied(i, x.path); err != nil {
					if !allowPartial {
						return nil, errMsg(id, err)
					}
					continue // the Controller's view of the Service's part is empty
				}
				spanGroups[x.s] = append(spanGroups[x.s], target{i, x.path})
			}
			continue
		}
		if err := op.denied(i, paths[i]); err != nil {
			if !allowPartial {
				return nil, errMsg(id, err)
			}
			out[i] = []R{op.failed(paths[i], err)}
			continue
		}
		groups[s] = append(groups[s], target{i, paths[i]})
	}
	reqs := map[*uspService]*wire.Request{}
	for s, ts := range groups {
		reqs[s] = op.send(ts, allowPartial)
	}
	resp, errs := b.fanout(ctx, reqs, op.mt)
	for s, ts := range groups {
		if err := errs[s]; err != nil {
			if !allowPartial {
				return nil, errMsg(id, err)
			}
			for _, t := range ts {
				out[t.i] = []R{op.failed(t.path, err)}
			}
			continue
		}
		for k, rs := range assignTargets(ts, op.results(resp[s]), op.requested, func(p string) R {
			return op.failed(p, usperr.Errorf(usperr.CodeInternal, "USP Service %s did not answer for %s", s.eid, p))
		}) {
			out[ts[k].i] = rs
		}
	}
	// Spanning paths: each Service's part with allow_partial true, so that
	// a part that reaches nothing there is told from a failure.
	spanRes := make([][]R, len(paths))
	if len(spanGroups) > 0 {
		reqs = map[*uspService]*wire.Request{}
		for s, ts := range spanGroups {
			reqs[s] = op.send(ts, true)
		}
		resp, errs = b.fanout(ctx, reqs, op.mt)
		for s, ts := range spanGroups {
			if err := errs[s]; err != nil {
				for _, t := range ts {
					spanRes[t.i] = append(spanRes[t.i], op.failed(t.path, err))
				}
				continue
			}
			for k, rs := range assignTargets(ts, op.results(resp[s]), op.requested, func(p string) R {
				return op.failed(p, usperr.Errorf(usperr.CodeInternal, "USP Service %s did not answer for %s", s.eid, p))
			}) {
				spanRes[ts[k].i] = append(spanRes[ts[k].i], rs...)
			}
		}
		for _, i := range spanIdx {
			for _, r := range spanRes[i] {
				if err := op.errOf(r); err != nil && !noMatch(usperr.Code(err)) && !allowPartial {
					return nil, errMsg(id, err)
				}
			}
		}
	}
	for _, i := range spanIdx {
		// The engine's part of a spanning path, on its own, so that a path
		// meaning nothing among the Broker's objects fails it alone.
		m := op.local([]int{i}, true)
		local := assignTargets(targetsOf([]int{i}, paths), op.results(m), op.requested, func(p string) R {
			return op.failed(p, usperr.Errorf(usperr.CodeInternal, "no result for %s", p))
		})[0]
		rs, err := mergeSpan(paths[i], local, spanRes[i], op)
		if err != nil {
			if !allowPartial {
				return nil, errMsg(id, err)
			}
			rs = []R{op.failed(paths[i], err)}
		}
		out[i] = rs
	}
	if len(localIdx) > 0 {
		m := op.local(localIdx, allowPartial)
		if m.GetBody().GetError() != nil {
			return nil, m
		}
		for k, rs := range assignTargets(targetsOf(localIdx, paths), op.results(m), op.requested, func(p string) R {
			return op.failed(p, usperr.Errorf(usperr.CodeInternal, "no result for %s", p))
		}) {
			out[localIdx[k]] = rs
		}
	}
	var flat []R
	for _, rs := range out {
		flat = append(flat, rs...)
	}
	return flat, nil
}

// mergeSpan combines the engine's results of spanning path p with the
// Services' for their parts: a failure other than "nothing there" fails
// p; otherwise the successes are merged; when nothing succeeded, p has
// the engine's answer.
func mergeSpan[R any](p string, local, services []R, op changeOps[R]) ([]R, error) {
	var ok []R
	for _, r := range append(append([]R(nil), local...), services...) {
		err := op.errOf(r)
		if err == nil {
			ok = append(ok, r)
			continue
		}
		if !noMatch(usperr.Code(err)) {
			return nil, err
		}
	}
	if len(ok) > 0 {
		return op.merge(p, ok), nil
	}
	for _, r := range local {
		if err := op.errOf(r); err != nil {
			return nil, err
		}
	}
	return local, nil
}

// targetsOf returns the targets of requested paths idx.
func targetsOf(idx []int, paths []string) []target {
	ts := make([]target, len(idx))
	for k, i := range idx {
		ts[k] = target{i, paths[i]}
	}
	return ts
}

// assignTargets hands the results rs of one answer to the targets ts they
// answer (see assign) and returns them by target.
func assignTargets[R any](ts []target, rs []R, requested func(R) string, missing func(string) R) [][]R {
	out := make([][]R, len(ts))
	idx := make([]int, len(ts))
	paths := make([]string, len(ts))
	for k, t := range ts {
		idx[k], paths[k] = k, t.path
	}
	assign(out, rs, idx, paths, requested, missing)
	return out
}

// assign hands the results rs of one answer to the requested paths idx
// they answer: in order, each taking the consecutive results that name it;
// a path left without one takes any that names it, else missing(path).
func assign[R any](out [][]R, rs []R, idx []int, paths []string, requested func(R) string, missing func(string) R) {
	used := make([]bool, len(rs))
	j := 0
	for _, i := range idx {
		for j < len(rs) && requested(rs[j]) == paths[i] {
			out[i], used[j] = append(out[i], rs[j]), true
			j++
		}
	}
	for _, i := range idx {
		if len(out[i]) > 0 {
			continue
		}
		for k, r := range rs {
			if !used[k] && requested(r) == paths[i] {
				out[i], used[k] = append(out[i], r), true
			}
		}
		if len(out[i]) == 0 {
			out[i] = []R{missing(paths[i])}
		}
	}
}

func (b *broker) set(ctx context.Context, c datamodel.Caller, id string, s *wire.Set) *wire.Msg {
	objs := s.GetUpdateObjs()
	paths := make([]string, len(objs))
	for i, o := range objs {
		paths[i] = o.GetObjPath()
	}
	res, em := changed(ctx, b, id, s.GetAllowPartial(), paths, changeOps[*wire.SetResp_UpdatedObjectResult]{
		mt: wire.Header_SET,
		denied: func(i int, path string) error {
			for _, ps := range objs[i].GetParamSettings() {
				if !perms(c, path+ps.GetParam()).Has(datamodel.ParamWrite) {
					return usperr.Errorf(usperr.CodePermissionDenied, "%s%s may not be written", path, ps.GetParam())
				}
			}
			return nil
		},
		send: func(ts []target, allowPartial bool) *wire.Request {
			us := make([]*wire.Set_UpdateObject, len(ts))
			for k, t := range ts {
				us[k] = &wire.Set_UpdateObject{ObjPath: t.path, ParamSettings: objs[t.i].GetParamSettings()}
			}
			return &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{AllowPartial: allowPartial, UpdateObjs: us}}}
		},
		local: func(idx []int, allowPartial bool) *wire.Msg {
			return b.a.set(ctx, c, id, &wire.Set{AllowPartial: allowPartial, UpdateObjs: pickAt(idx, objs)})
		},
		results: func(m *wire.Msg) []*wire.SetResp_UpdatedObjectResult {
			return m.GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()
		},
		requested: (*wire.SetResp_UpdatedObjectResult).GetRequestedPath,
		errOf: func(r *wire.SetResp_UpdatedObjectResult) error {
			if f := r.GetOperStatus().GetOperFailure(); f != nil || r.GetOperStatus().GetOperSuccess() == nil {
				return usperr.Errorf(f.GetErrCode(), "%s", f.GetErrMsg())
			}
			return nil
		},
		failed: func(p string, err error) *wire.SetResp_UpdatedObjectResult {
			return &wire.SetResp_UpdatedObjectResult{RequestedPath: p, OperStatus: &wire.SetResp_UpdatedObjectResult_OperationStatus{
				OperStatus: &wire.SetResp_UpdatedObjectResult_OperationStatus_OperFailure{OperFailure: &wire.SetResp_UpdatedObjectResult_OperationStatus_OperationFailure{
					ErrCode: usperr.Code(err), ErrMsg: usperr.Message(err)}}}}
		},
		merge: func(p string, rs []*wire.SetResp_UpdatedObjectResult) []*wire.SetResp_UpdatedObjectResult {
			ok := &wire.SetResp_UpdatedObjectResult_OperationStatus_OperationSuccess{}
			for _, r := range rs {
				ok.UpdatedInstResults = append(ok.UpdatedInstResults, r.GetOperStatus().GetOperSuccess().GetUpdatedInstResults()...)
			}
			return []*wire.SetResp_UpdatedObjectResult{{RequestedPath: p, OperStatus: &wire.SetResp_UpdatedObjectResult_OperationStatus{
				OperStatus: &wire.SetResp_UpdatedObjectResult_OperationStatus_OperSuccess{OperSuccess: ok}}}}
		},
	})
	if em != nil {
		return em
	}
	return respMsg(id, wire.Header_SET_RESP, &wire.Response{RespType: &wire.Response_SetResp{SetResp: &wire.SetResp{UpdatedObjResults: res}}})
}

func (b *broker) add(ctx context.Context, c datamodel.Caller, id string, m *wire.Add) *wire.Msg {
	objs := m.GetCreateObjs()
	paths := make([]string, len(objs))
	for i, o := range objs {
		paths[i] = o.GetObjPath()
	}
	res, em := changed(ctx, b, id, m.GetAllowPartial(), paths, changeOps[*wire.AddResp_CreatedObjectResult]{
		mt: wire.Header_ADD,
		denied: func(i int, path string) error {
			if !perms(c, path).Has(datamodel.ObjWrite) {
				return usperr.Errorf(usperr.CodePermissionDenied, "%s may not be added to", path)
			}
			return nil
		},
		send: func(ts []target, allowPartial bool) *wire.Request {
			cs := make([]*wire.Add_CreateObject, len(ts))
			for k, t := range ts {
				cs[k] = &wire.Add_CreateObject{ObjPath: t.path, ParamSettings: objs[t.i].GetParamSettings()}
			}
			return &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{AllowPartial: allowPartial, CreateObjs: cs}}}
		},
		local: func(idx []int, allowPartial bool) *wire.Msg {
			return b.a.add(ctx, c, id, &wire.Add{AllowPartial: allowPartial, CreateObjs: pickAt(idx, objs)})
		},
		results: func(m *wire.Msg) []*wire.AddResp_CreatedObjectResult {
			return m.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()
		},
		requested: (*wire.AddResp_CreatedObjectResult).GetRequestedPath,
		errOf: func(r *wire.AddResp_CreatedObjectResult) error {
			if f := r.GetOperStatus().GetOperFailure(); f != nil || r.GetOperStatus().GetOperSuccess() == nil {
				return usperr.Errorf(f.GetErrCode(), "%s", f.GetErrMsg())
			}
			return nil
		},
		failed: func(p string, err error) *wire.AddResp_CreatedObjectResult {
			return &wire.AddResp_CreatedObjectResult{RequestedPath: p, OperStatus: &wire.AddResp_CreatedObjectResult_OperationStatus{
				OperStatus: &wire.AddResp_CreatedObjectResult_OperationStatus_OperFailure{OperFailure: &wire.AddResp_CreatedObjectResult_OperationStatus_OperationFailure{
					ErrCode: usperr.Code(err), ErrMsg: usperr.Message(err)}}}}
		},
		merge: func(p string, rs []*wire.AddResp_CreatedObjectResult) []*wire.AddResp_CreatedObjectResult {
			// One result per instance created, each under the requested path.
			out := make([]*wire.AddResp_CreatedObjectResult, len(rs))
			for k, r := range rs {
				out[k] = r.CloneVT()
				out[k].RequestedPath = p
			}
			return out
		},
	})
	if em != nil {
		return em
	}
	return respMsg(id, wire.Header_ADD_RESP, &wire.Response{RespType: &wire.Response_AddResp{AddResp: &wire.AddResp{CreatedObjResults: res}}})
}

func (b *broker) delete(ctx context.Context, c datamodel.Caller, id string, m *wire.Delete) *wire.Msg {
	paths := m.GetObjPaths()
	res, em := changed(ctx, b, id, m.GetAllowPartial(), paths, changeOps[*wire.DeleteResp_DeletedObjectResult]{
		mt: wire.Header_DELETE,
		denied: func(i int, path string) error {
			if !perms(c, path).Has(datamodel.InstWrite) {
				return usperr.Errorf(usperr.CodePermissionDenied, "%s may not be deleted", path)
			}
			return nil
		},
		send: func(ts []target, allowPartial bool) *wire.Request {
			ps := make([]string, len(ts))
			for k, t := range ts {
				ps[k] = t.path
			}
			return &wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{AllowPartial: allowPartial, ObjPaths: ps}}}
		},
		local: func(idx []int, allowPartial bool) *wire.Msg {
			return b.a.delete(ctx, c, id, &wire.Delete{AllowPartial: allowPartial, ObjPaths: pickAt(idx, paths)})
		},
		results: func(m *wire.Msg) []*wire.DeleteResp_DeletedObjectResult {
			return m.GetBody().GetResponse().GetDeleteResp().GetDeletedObjResults()
		},
		requested: (*wire.DeleteResp_DeletedObjectResult).GetRequestedPath,
		errOf: func(r *wire.DeleteResp_DeletedObjectResult) error {
			if f := r.GetOperStatus().GetOperFailure(); f != nil || r.GetOperStatus().GetOperSuccess() == nil {
				return usperr.Errorf(f.GetErrCode(), "%s", f.GetErrMsg())
			}
			return nil
		},
		failed: func(p string, err error) *wire.DeleteResp_DeletedObjectResult {
			return &wire.DeleteResp_DeletedObjectResult{RequestedPath: p, OperStatus: &wire.DeleteResp_DeletedObjectResult_OperationStatus{
				OperStatus: &wire.DeleteResp_DeletedObjectResult_OperationStatus_OperFailure{OperFailure: &wire.DeleteResp_DeletedObjectResult_OperationStatus_OperationFailure{
					ErrCode: usperr.Code(err), ErrMsg: usperr.Message(err)}}}}
		},
		merge: func(p string, rs []*wire.DeleteResp_DeletedObjectResult) []*wire.DeleteResp_DeletedObjectResult {
			ok := &wire.DeleteResp_DeletedObjectResult_OperationStatus_OperationSuccess{}
			for _, r := range rs {
				s := r.GetOperStatus().GetOperSuccess()
				ok.AffectedPaths = append(ok.AffectedPaths, s.GetAffectedPaths()...)
				ok.UnaffectedPathErrs = append(ok.UnaffectedPathErrs, s.GetUnaffectedPathErrs()...)
			}
			return []*wire.DeleteResp_DeletedObjectResult{{RequestedPath: p, OperStatus: &wire.DeleteResp_DeletedObjectResult_OperationStatus{
				OperStatus: &wire.DeleteResp_DeletedObjectResult_OperationStatus_OperSuccess{OperSuccess: ok}}}}
		},
	})
	if em != nil {
		return em
	}
	return respMsg(id, wire.Header_DELETE_RESP, &wire.Response{RespType: &wire.Response_DeleteResp{DeleteResp: &wire.DeleteResp{DeletedObjResults: res}}})
}
