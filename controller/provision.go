package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/wire"
)

// Profile is what the Controller applies to an Agent at its first contact,
// chosen by the ProvisioningCode the Agent reports. Applying it again
// changes nothing: Sets write the same values, an Add is skipped when an
// instance with the same unique key exists, a subscription when one with
// its ID does.
type Profile struct {
	Sets          []ProfileSet   `json:"sets,omitempty" yaml:"sets"`
	Adds          []ProfileAdd   `json:"adds,omitempty" yaml:"adds"`
	Subscriptions []Subscription `json:"subscriptions,omitempty" yaml:"subscriptions"`
}

// ProfileSet sets parameters of one object (a path that may hold
// wildcards or unique keys).
type ProfileSet struct {
	Object string            `json:"object" yaml:"object"`
	Params map[string]string `json:"params" yaml:"params"`
}

// ProfileAdd creates an instance of a multi-instance object unless one
// with the same value of its unique-key parameter Key exists.
type ProfileAdd struct {
	Object string            `json:"object" yaml:"object"`
	Key    string            `json:"key" yaml:"key"`
	Params map[string]string `json:"params" yaml:"params"`
}

// Provisioning is the result of applying a profile to an Agent.
type Provisioning struct {
	Code string `json:"code"`
	// Applied is when the profile was applied; zero when no profile has
	// the Agent's code.
	Applied time.Time `json:"applied,omitzero"`
	// Errors lists the steps that failed; empty when all were applied.
	Errors []string `json:"errors,omitempty"`
}

// Validate checks a profile's shape.
func (p *Profile) Validate() error {
	for _, s := range p.Sets {
		if !strings.HasSuffix(s.Object, ".") || len(s.Params) == 0 {
			return fmt.Errorf("controller: profile set %q: want an object path ending in '.' and parameters", s.Object)
		}
	}
	for _, a := range p.Adds {
		if !strings.HasSuffix(a.Object, ".") || a.Key == "" || a.Params[a.Key] == "" {
			return fmt.Errorf("controller: profile add %q: want an object path ending in '.' and a unique key with its value", a.Object)
		}
	}
	for _, s := range p.Subscriptions {
		if s.ID == "" || s.NotifType == "" || s.ReferenceList == "" {
			return fmt.Errorf("controller: profile subscription %q: want id, notif_type and reference_list", s.ID)
		}
	}
	return nil
}

// provision applies the profile for code to an Agent not yet provisioned
// and records the result.
func (c *Controller) provision(ctx context.Context, id, code string) {
	p, ok := c.opt.Profiles[code]
	c.mu.Lock()
	a := c.agents[id]
	done := a == nil || a.Provisioned != nil
	c.mu.Unlock()
	if done {
		return
	}
	if !ok {
		c.setProvisioned(ctx, id, &Provisioning{Code: code})
		return
	}
	var errs []string
	fail := func(step string, err error) { errs = append(errs, step+": "+err.Error()) }
	for _, s := range p.Sets {
		if err := c.profileSet(ctx, id, s); err != nil {
			fail("set "+s.Object, err)
		}
	}
	for _, ad := range p.Adds {
		if err := c.profileAdd(ctx, id, ad); err != nil {
			fail("add "+ad.Object, err)
		}
	}
	if len(p.Subscriptions) > 0 {
		if err := c.createSubscriptions(ctx, id, p.Subscriptions); err != nil {
			fail("subscriptions", err)
		}
	}
	if !c.setProvisioned(ctx, id, &Provisioning{Code: code, Applied: time.Now().UTC(), Errors: errs}) {
		return
	}
	kind := "provisioned"
	if len(errs) > 0 {
		kind = "provisioning_failed"
		c.log.WarnContext(ctx, "provisioning profile not fully applied", "agent", id, "code", code, "errors", errs)
	}
	c.event(ctx, Event{Agent: id, Kind: kind})
}

// provisioningCode is the code an Agent holds for this Controller: the
// ProvisioningCode of its Device.LocalAgent.Controller row for our
// Endpoint ID (where DHCP discovery puts it), else
// Device.DeviceInfo.ProvisioningCode.
func (c *Controller) provisioningCode(ctx context.Context, id string, info map[string]string) string {
	if len(c.opt.Profiles) == 0 {
		return ""
	}
	path := "Device.LocalAgent.Controller.[EndpointID==" + strconv.Quote(c.opt.EndpointID) + "].ProvisioningCode"
	m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{path}}}})
	if respErr(m, err) == nil {
		for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
			for _, r := range rp.GetResolvedPathResults() {
				if v := r.GetResultParams()["ProvisioningCode"]; v != "" {
					return v
				}
			}
		}
	}
	return info["ProvisioningCode"]
}

// setProvisioned records and persists the provisioning result of a known
// Agent.
func (c *Controller) setProvisioned(ctx context.Context, id string, res *Provisioning) bool {
	c.mu.Lock()
	a := c.agents[id]
	var snapshot Agent
	if a != nil {
		a.Provisioned = res
		snapshot = *a
	}
	c.mu.Unlock()
	if a != nil {
		c.persistAgent(ctx, &snapshot)
	}
	return a != nil
}

func (c *Controller) profileSet(ctx context.Context, id string, s ProfileSet) error {
	obj := &wire.Set_UpdateObject{ObjPath: s.Object}
	for _, k := range slices.Sorted(maps.Keys(s.Params)) {
		obj.ParamSettings = append(obj.ParamSettings, &wire.Set_UpdateParamSetting{Param: k, Value: s.Params[k], Required: true})
	}
	m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{obj}}}})
	return respErr(m, err)
}

func (c *Controller) profileAdd(ctx context.Context, id string, ad ProfileAdd) error {
	probe := ad.Object + "[" + ad.Key + "==" + strconv.Quote(ad.Params[ad.Key]) + "]."
	m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_GetInstances{GetInstances: &wire.GetInstances{ObjPaths: []string{probe}, FirstLevelOnly: true}}})
	if err := respErr(m, err); err != nil {
		return err
	}
	for _, r := range m.GetBody().GetResponse().GetGetInstancesResp().GetReqPathResults() {
		if len(r.GetCurrInsts()) > 0 {
			return nil // already there
		}
	}
	obj := &wire.Add_CreateObject{ObjPath: ad.Object}
	for _, k := range slices.Sorted(maps.Keys(ad.Params)) {
		obj.ParamSettings = append(obj.ParamSettings, &wire.Add_CreateParamSetting{Param: k, Value: ad.Params[k], Required: true})
	}
	m, err = c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{obj}}}})
	return respErr(m, err)
}

// respErr turns a transport error, an Error Msg or a failed object result
// into an error.
func respErr(m *wire.Msg, err error) error {
	if err != nil {
		return err
	}
	if e := m.GetBody().GetError(); e != nil {
		if len(e.GetParamErrs()) > 0 {
			pe := e.GetParamErrs()[0]
			return fmt.Errorf("USP error %d: %s (%s: %d %s)", e.GetErrCode(), e.GetErrMsg(), pe.GetParamPath(), pe.GetErrCode(), pe.GetErrMsg())
		}
		return fmt.Errorf("USP error %d: %s", e.GetErrCode(), e.GetErrMsg())
	}
	resp := m.GetBody().GetResponse()
	for _, r := range resp.GetAddResp().GetCreatedObjResults() {
		if f := r.GetOperStatus().GetOperFailure(); f != nil {
			return fmt.Errorf("USP error %d: %s", f.GetErrCode(), f.GetErrMsg())
		}
	}
	for _, r := range resp.GetSetResp().GetUpdatedObjResults() {
		if f := r.GetOperStatus().GetOperFailure(); f != nil {
			return fmt.Errorf("USP error %d: %s", f.GetErrCode(), f.GetErrMsg())
		}
	}
	for _, r := range resp.GetGetInstancesResp().GetReqPathResults() {
		if code := r.GetErrCode(); code != 0 {
			return fmt.Errorf("USP error %d: %s", code, r.GetErrMsg())
		}
	}
	return nil
}
