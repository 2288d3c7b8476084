package agent

import (
	"context"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// The functions here translate between USP Msgs and the engine's calls;
// they hold no protocol state.

// errMsg builds an Error. Its messages and paths repeat at most
// usperr.MaxMsg and usperr.MaxEchoPath bytes of the request, whatever its
// size.
func errMsg(id string, err error) *wire.Msg {
	e := &wire.Error{ErrCode: usperr.Code(err), ErrMsg: usperr.Message(err)}
	if me, ok := err.(*datamodel.MessageError); ok {
		e.ErrCode, e.ErrMsg = me.Code, usperr.Clip(me.Msg, usperr.MaxMsg)
		for _, pe := range me.ParamErrs {
			e.ParamErrs = append(e.ParamErrs, &wire.Error_ParamError{ParamPath: usperr.EchoPath(pe.Param), ErrCode: pe.Code,
				ErrMsg: usperr.Clip(pe.Msg, usperr.MaxMsg)})
		}
	}
	return &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_ERROR}, Body: &wire.Body{MsgBody: &wire.Body_Error{Error: e}}}
}

func respMsg(id string, t wire.Header_MsgType, r *wire.Response) *wire.Msg {
	return &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: t}, Body: &wire.Body{MsgBody: &wire.Body_Response{Response: r}}}
}

func (a *Agent) get(ctx context.Context, c datamodel.Caller, id string, g *wire.Get) *wire.Msg {
	res := a.eng.Get(ctx, c, g.GetParamPaths(), g.GetMaxDepth())
	// The response's messages come in a few blocks rather than one
	// allocation each: a Get is the most frequent request.
	m := &getRespMsg{}
	m.rt.GetResp, m.resp.RespType = &m.gr, &m.rt
	m.body.Response, m.b.MsgBody = &m.resp, &m.body
	m.hdr.MsgId, m.hdr.MsgType = id, wire.Header_GET_RESP
	m.msg.Header, m.msg.Body = &m.hdr, &m.b
	n := 0
	for _, r := range res {
		n += len(r.Objects)
	}
	var rps []wire.GetResp_RequestedPathResult
	var rpPtrs []*wire.GetResp_RequestedPathResult
	if len(res) == 1 { // the usual Get: one path, in the same block
		rps, rpPtrs = m.rp1[:], m.rpPtr1[:]
	} else {
		rps = make([]wire.GetResp_RequestedPathResult, len(res))
		rpPtrs = make([]*wire.GetResp_RequestedPathResult, len(res))
	}
	var objs []wire.GetResp_ResolvedPathResult
	var objPtrs []*wire.GetResp_ResolvedPathResult
	if n == 1 {
		objs, objPtrs = m.obj1[:], m.objPtr1[:]
	} else {
		objs = make([]wire.GetResp_ResolvedPathResult, n)
		objPtrs = make([]*wire.GetResp_ResolvedPathResult, n)
	}
	for i, r := range res {
		rp := &rps[i]
		rp.RequestedPath = r.Path
		if r.Err != nil {
			rp.ErrCode, rp.ErrMsg = usperr.Code(r.Err), usperr.Message(r.Err)
		}
		if len(r.Objects) > 0 {
			rp.ResolvedPathResults = objPtrs[:len(r.Objects):len(r.Objects)]
			for j, o := range r.Objects {
				objs[j].ResolvedPath, objs[j].ResultParams = o.Path, o.Params
				objPtrs[j] = &objs[j]
			}
			objs, objPtrs = objs[len(r.Objects):], objPtrs[len(r.Objects):]
		}
		rpPtrs[i] = rp
	}
	if len(res) > 0 {
		m.gr.ReqPathResults = rpPtrs
	}
	return &m.msg
}

// getRespMsg holds the messages of a GetResp Msg in one allocation.
type getRespMsg struct {
	msg  wire.Msg
	hdr  wire.Header
	b    wire.Body
	body wire.Body_Response
	resp wire.Response
	rt   wire.Response_GetResp
	gr   wire.GetResp
	// A Get of one path resolving to one object needs no other block.
	rp1     [1]wire.GetResp_RequestedPathResult
	rpPtr1  [1]*wire.GetResp_RequestedPathResult
	obj1    [1]wire.GetResp_ResolvedPathResult
	objPtr1 [1]*wire.GetResp_ResolvedPathResult
}

func (a *Agent) set(ctx context.Context, c datamodel.Caller, id string, s *wire.Set) *wire.Msg {
	var objs []datamodel.UpdateObject
	for _, uo := range s.GetUpdateObjs() {
		o := datamodel.UpdateObject{Path: uo.GetObjPath()}
		for _, ps := range uo.GetParamSettings() {
			o.Params = append(o.Params, datamodel.ParamSetting{Param: ps.GetParam(), Value: ps.GetValue(), Required: ps.GetRequired()})
		}
		objs = append(objs, o)
	}
	res, err := a.eng.Set(ctx, c, s.GetAllowPartial(), objs)
	if err != nil {
		return errMsg(id, err)
	}
	out := &wire.SetResp{}
	for _, r := range res {
		st := &wire.SetResp_UpdatedObjectResult_OperationStatus{}
		if r.Err != nil {
			f := &wire.SetResp_UpdatedObjectResult_OperationStatus_OperationFailure{ErrCode: usperr.Code(r.Err), ErrMsg: usperr.Message(r.Err)}
			for _, inst := range r.Failures {
				f.UpdatedInstFailures = append(f.UpdatedInstFailures, &wire.SetResp_UpdatedInstanceFailure{AffectedPath: inst.Path, ParamErrs: setParamErrs(inst.ParamErrs)})
			}
			st.OperStatus = &wire.SetResp_UpdatedObjectResult_OperationStatus_OperFailure{OperFailure: f}
		} else {
			ok := &wire.SetResp_UpdatedObjectResult_OperationStatus_OperationSuccess{}
			for _, u := range r.Updated {
				ok.UpdatedInstResults = append(ok.UpdatedInstResults, &wire.SetResp_UpdatedInstanceResult{AffectedPath: u.Path, UpdatedParams: u.Params, ParamErrs: setParamErrs(u.ParamErrs)})
			}
			st.OperStatus = &wire.SetResp_UpdatedObjectResult_OperationStatus_OperSuccess{OperSuccess: ok}
		}
		out.UpdatedObjResults = append(out.UpdatedObjResults, &wire.SetResp_UpdatedObjectResult{RequestedPath: r.RequestedPath, OperStatus: st})
	}
	return respMsg(id, wire.Header_SET_RESP, &wire.Response{RespType: &wire.Response_SetResp{SetResp: out}})
}

func setParamErrs(pes []datamodel.ParamError) []*wire.SetResp_ParameterError {
	var out []*wire.SetResp_ParameterError
	for _, pe := range pes {
		out = append(out, &wire.SetResp_ParameterError{Param: usperr.EchoPath(pe.Param), ErrCode: pe.Code, ErrMsg: usperr.Clip(pe.Msg, usperr.MaxMsg)})
	}
	return out
}

func (a *Agent) add(ctx context.Context, c datamodel.Caller, id string, m *wire.Add) *wire.Msg {
	var objs []datamodel.CreateObject
	for _, co := range m.GetCreateObjs() {
		o := datamodel.CreateObject{Path: co.GetObjPath()}
		for _, ps := range co.GetParamSettings() {
			o.Params = append(o.Params, datamodel.ParamSetting{Param: ps.GetParam(), Value: ps.GetValue(), Required: ps.GetRequired()})
		}
		objs = append(objs, o)
	}
	res, err := a.eng.Add(ctx, c, m.GetAllowPartial(), objs)
	if err != nil {
		return errMsg(id, err)
	}
	out := &wire.AddResp{}
	for _, r := range res {
		st := &wire.AddResp_CreatedObjectResult_OperationStatus{}
		if r.Err != nil {
			st.OperStatus = &wire.AddResp_CreatedObjectResult_OperationStatus_OperFailure{OperFailure: &wire.AddResp_CreatedObjectResult_OperationStatus_OperationFailure{
				ErrCode: usperr.Code(r.Err), ErrMsg: usperr.Message(r.Err)}}
		} else {
			ok := &wire.AddResp_CreatedObjectResult_OperationStatus_OperationSuccess{InstantiatedPath: r.Path, UniqueKeys: r.UniqueKeys}
			for _, pe := range r.ParamErrs {
				ok.ParamErrs = append(ok.ParamErrs, &wire.AddResp_ParameterError{Param: usperr.EchoPath(pe.Param), ErrCode: pe.Code,
					ErrMsg: usperr.Clip(pe.Msg, usperr.MaxMsg)})
			}
			st.OperStatus = &wire.AddResp_CreatedObjectResult_OperationStatus_OperSuccess{OperSuccess: ok}
		}
		out.CreatedObjResults = append(out.CreatedObjResults, &wire.AddResp_CreatedObjectResult{RequestedPath: r.RequestedPath, OperStatus: st})
	}
	return respMsg(id, wire.Header_ADD_RESP, &wire.Response{RespType: &wire.Response_AddResp{AddResp: out}})
}

func (a *Agent) delete(ctx context.Context, c datamodel.Caller, id string, m *wire.Delete) *wire.Msg {
	res, err := a.eng.Delete(ctx, c, m.GetAllowPartial(), m.GetObjPaths())
	if err != nil {
		return errMsg(id, err)
	}
	out := &wire.DeleteResp{}
	for _, r := range res {
		st := &wire.DeleteResp_DeletedObjectResult_OperationStatus{}
		if r.Err != nil {
			st.OperStatus = &wire.DeleteResp_DeletedObjectResult_OperationStatus_OperFailure{OperFailure: &wire.DeleteResp_DeletedObjectResult_OperationStatus_OperationFailure{
				ErrCode: usperr.Code(r.Err), ErrMsg: usperr.Message(r.Err)}}
		} else {
			ok := &wire.DeleteResp_DeletedObjectResult_OperationStatus_OperationSuccess{AffectedPaths: r.Affected}
			for _, u := range r.Unaffected {
				ok.UnaffectedPathErrs = append(ok.UnaffectedPathErrs, &wire.DeleteResp_UnaffectedPathError{UnaffectedPath: u.Path, ErrCode: u.Code,
					ErrMsg: usperr.Clip(u.Msg, usperr.MaxMsg)})
			}
			st.OperStatus = &wire.DeleteResp_DeletedObjectResult_OperationStatus_OperSuccess{OperSuccess: ok}
		}
		out.DeletedObjResults = append(out.DeletedObjResults, &wire.DeleteResp_DeletedObjectResult{RequestedPath: r.RequestedPath, OperStatus: st})
	}
	return respMsg(id, wire.Header_DELETE_RESP, &wire.Response{RespType: &wire.Response_DeleteResp{DeleteResp: out}})
}

func (a *Agent) instances(ctx context.Context, c datamodel.Caller, id string, m *wire.GetInstances) *wire.Msg {
	out := &wire.GetInstancesResp{}
	for _, r := range a.eng.Instances(ctx, c, m.GetObjPaths(), m.GetFirstLevelOnly()) {
		rp := &wire.GetInstancesResp_RequestedPathResult{RequestedPath: r.Path}
		if r.Err != nil {
			rp.ErrCode, rp.ErrMsg = usperr.Code(r.Err), usperr.Message(r.Err)
		}
		for _, i := range r.Instances {
			rp.CurrInsts = append(rp.CurrInsts, &wire.GetInstancesResp_CurrInstance{InstantiatedObjPath: i.Path, UniqueKeys: i.UniqueKeys})
		}
		out.ReqPathResults = append(out.ReqPathResults, rp)
	}
	return respMsg(id, wire.Header_GET_INSTANCES_RESP, &wire.Response{RespType: &wire.Response_GetInstancesResp{GetInstancesResp: out}})
}

func (a *Agent) supported(ctx context.Context, c datamodel.Caller, id string, m *wire.GetSupportedDM) *wire.Msg {
	o := datamodel.SupportedOptions{FirstLevelOnly: m.GetFirstLevelOnly(), Commands: m.GetReturnCommands(), Events: m.GetReturnEvents(), Params: m.GetReturnParams()}
	out := &wire.GetSupportedDMResp{}
	for _, r := range a.eng.Supported(ctx, c, m.GetObjPaths(), o) {
		rr := &wire.GetSupportedDMResp_RequestedObjectResult{ReqObjPath: r.Path, DataModelInstUri: r.URI}
		if r.Err != nil {
			rr.ErrCode, rr.ErrMsg = usperr.Code(r.Err), usperr.Message(r.Err)
		}
		for _, so := range r.Objects {
			rr.SupportedObjs = append(rr.SupportedObjs, supportedObj(so, m.GetReturnUniqueKeySets()))
		}
		out.ReqObjResults = append(out.ReqObjResults, rr)
	}
	return respMsg(id, wire.Header_GET_SUPPORTED_DM_RESP, &wire.Response{RespType: &wire.Response_GetSupportedDmResp{GetSupportedDmResp: out}})
}

func supportedObj(so datamodel.SupportedObject, keys bool) *wire.GetSupportedDMResp_SupportedObjectResult {
	w := &wire.GetSupportedDMResp_SupportedObjectResult{SupportedObjPath: so.Path, Access: wire.GetSupportedDMResp_ObjAccessType(so.Access),
		IsMultiInstance: so.Multi, DivergentPaths: so.Divergent}
	for _, p := range so.Params {
		w.SupportedParams = append(w.SupportedParams, &wire.GetSupportedDMResp_SupportedParamResult{ParamName: p.Name,
			Access: wire.GetSupportedDMResp_ParamAccessType(p.Access), ValueType: wire.GetSupportedDMResp_ParamValueType(p.Type.ValueType()),
			ValueChange: wire.GetSupportedDMResp_ValueChangeType(p.ValueChange)})
	}
	for _, c := range so.Commands {
		sc := &wire.GetSupportedDMResp_SupportedCommandResult{CommandName: c.Name, InputArgNames: argNames(c.Input), OutputArgNames: argNames(c.Output),
			CommandType: wire.GetSupportedDMResp_CMD_SYNC}
		if c.Async {
			sc.CommandType = wire.GetSupportedDMResp_CMD_ASYNC
		}
		w.SupportedCommands = append(w.SupportedCommands, sc)
	}
	for _, e := range so.Events {
		w.SupportedEvents = append(w.SupportedEvents, &wire.GetSupportedDMResp_SupportedEventResult{EventName: e.Name, ArgNames: argNames(e.Args)})
	}
	if keys && so.Multi {
		for _, k := range so.UniqueKeySets {
			w.UniqueKeySets = append(w.UniqueKeySets, &wire.GetSupportedDMResp_SupportedUniqueKeySet{KeyNames: k})
		}
	}
	return w
}

// argNames lists argument names in supported form; arguments inside
// argument objects ("Result.{i}.Name") are listed with their object
// ("Result.{i}.") before them.
func argNames(ps []*schema.Param) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range ps {
		if i := strings.LastIndexByte(p.Name, '.'); i >= 0 {
			if obj := p.Name[:i+1]; !seen[obj] {
				seen[obj] = true
				out = append(out, obj)
			}
		}
		out = append(out, p.Name)
	}
	return out
}
