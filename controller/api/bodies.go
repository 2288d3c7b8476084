package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/wire"
)

// Request bodies. Unknown fields are errors, so that a typo does not pass
// silently.

// GetBody is the body of POST …/get.
type GetBody struct {
	Paths    []string `json:"paths"`
	MaxDepth uint32   `json:"max_depth,omitempty"`
}

// ObjectBody is one object of a Set or Add: its path and parameters.
// Parameters are required unless named in Optional.
type ObjectBody struct {
	Path     string            `json:"path"`
	Params   map[string]string `json:"params,omitempty"`
	Optional []string          `json:"optional,omitempty"`
}

// SetBody is the body of POST …/set.
type SetBody struct {
	AllowPartial bool         `json:"allow_partial,omitempty"`
	Objects      []ObjectBody `json:"objects"`
}

// AddBody is the body of POST …/add.
type AddBody = SetBody

// DeleteBody is the body of POST …/delete.
type DeleteBody struct {
	AllowPartial bool     `json:"allow_partial,omitempty"`
	Paths        []string `json:"paths"`
}

// OperateBody is the body of POST …/operate.
type OperateBody struct {
	Command    string            `json:"command"`
	CommandKey string            `json:"command_key,omitempty"`
	Args       map[string]string `json:"args,omitempty"`
	// SendResp defaults to true: the API waits for the OperateResp.
	SendResp *bool `json:"send_resp,omitempty"`
}

// InstancesBody is the body of POST …/instances.
type InstancesBody struct {
	Paths          []string `json:"paths"`
	FirstLevelOnly bool     `json:"first_level_only,omitempty"`
}

// SupportedBody is the body of POST …/supported.
type SupportedBody struct {
	Paths          []string `json:"paths"`
	FirstLevelOnly bool     `json:"first_level_only,omitempty"`
	Commands       bool     `json:"commands,omitempty"`
	Events         bool     `json:"events,omitempty"`
	Params         bool     `json:"params,omitempty"`
	UniqueKeys     bool     `json:"unique_keys,omitempty"`
}

func decode(b []byte, v any) error {
	if len(b) == 0 {
		b = []byte("{}")
	}
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}

func getReq(b []byte) (*wire.Request, error) {
	var g GetBody
	if err := decode(b, &g); err != nil {
		return nil, err
	}
	if len(g.Paths) == 0 {
		return nil, errors.New("request body: paths is empty")
	}
	return &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: g.Paths, MaxDepth: g.MaxDepth}}}, nil
}

func settings(o ObjectBody) []struct {
	name, value string
	required    bool
} {
	optional := map[string]bool{}
	for _, n := range o.Optional {
		optional[n] = true
	}
	names := make([]string, 0, len(o.Params))
	for n := range o.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]struct {
		name, value string
		required    bool
	}, len(names))
	for i, n := range names {
		out[i].name, out[i].value, out[i].required = n, o.Params[n], !optional[n]
	}
	return out
}

func setReq(b []byte) (*wire.Request, error) {
	var s SetBody
	if err := decode(b, &s); err != nil {
		return nil, err
	}
	if len(s.Objects) == 0 {
		return nil, errors.New("request body: objects is empty")
	}
	m := &wire.Set{AllowPartial: s.AllowPartial}
	for _, o := range s.Objects {
		uo := &wire.Set_UpdateObject{ObjPath: o.Path}
		for _, p := range settings(o) {
			uo.ParamSettings = append(uo.ParamSettings, &wire.Set_UpdateParamSetting{Param: p.name, Value: p.value, Required: p.required})
		}
		m.UpdateObjs = append(m.UpdateObjs, uo)
	}
	return &wire.Request{ReqType: &wire.Request_Set{Set: m}}, nil
}

func addReq(b []byte) (*wire.Request, error) {
	var s AddBody
	if err := decode(b, &s); err != nil {
		return nil, err
	}
	if len(s.Objects) == 0 {
		return nil, errors.New("request body: objects is empty")
	}
	m := &wire.Add{AllowPartial: s.AllowPartial}
	for _, o := range s.Objects {
		co := &wire.Add_CreateObject{ObjPath: o.Path}
		for _, p := range settings(o) {
			co.ParamSettings = append(co.ParamSettings, &wire.Add_CreateParamSetting{Param: p.name, Value: p.value, Required: p.required})
		}
		m.CreateObjs = append(m.CreateObjs, co)
	}
	return &wire.Request{ReqType: &wire.Request_Add{Add: m}}, nil
}

func deleteReq(b []byte) (*wire.Request, error) {
	var d DeleteBody
	if err := decode(b, &d); err != nil {
		return nil, err
	}
	if len(d.Paths) == 0 {
		return nil, errors.New("request body: paths is empty")
	}
	return &wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{AllowPartial: d.AllowPartial, ObjPaths: d.Paths}}}, nil
}

func operateReq(b []byte) (*wire.Request, error) {
	var o OperateBody
	if err := decode(b, &o); err != nil {
		return nil, err
	}
	if o.Command == "" {
		return nil, errors.New("request body: command is empty")
	}
	send := o.SendResp == nil || *o.SendResp
	return &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: o.Command, CommandKey: o.CommandKey, SendResp: send, InputArgs: o.Args}}}, nil
}

func instancesReq(b []byte) (*wire.Request, error) {
	var i InstancesBody
	if err := decode(b, &i); err != nil {
		return nil, err
	}
	if len(i.Paths) == 0 {
		return nil, errors.New("request body: paths is empty")
	}
	return &wire.Request{ReqType: &wire.Request_GetInstances{GetInstances: &wire.GetInstances{ObjPaths: i.Paths, FirstLevelOnly: i.FirstLevelOnly}}}, nil
}

func supportedReq(b []byte) (*wire.Request, error) {
	var s SupportedBody
	if err := decode(b, &s); err != nil {
		return nil, err
	}
	if len(s.Paths) == 0 {
		return nil, errors.New("request body: paths is empty")
	}
	return &wire.Request{ReqType: &wire.Request_GetSupportedDm{GetSupportedDm: &wire.GetSupportedDM{ObjPaths: s.Paths, FirstLevelOnly: s.FirstLevelOnly,
		ReturnCommands: s.Commands, ReturnEvents: s.Events, ReturnParams: s.Params, ReturnUniqueKeySets: s.UniqueKeys}}}, nil
}

func protocolReq(b []byte) (*wire.Request, error) {
	return &wire.Request{ReqType: &wire.Request_GetSupportedProtocol{GetSupportedProtocol: &wire.GetSupportedProtocol{
		ControllerSupportedProtocolVersions: controller.SupportedVersions}}}, nil
}

// rawReq takes a whole Msg in protobuf JSON and sends its request.
func rawReq(b []byte) (*wire.Request, error) {
	m, err := controller.ParseMsgJSON(b)
	if err != nil {
		return nil, fmt.Errorf("request body: %w", err)
	}
	req := m.GetBody().GetRequest()
	if req == nil || req.GetReqType() == nil {
		return nil, errors.New("request body: the Msg holds no request")
	}
	return req, nil
}
