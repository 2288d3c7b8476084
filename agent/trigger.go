package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/pathname"
	"github.com/uspkit/uspkit/usperr"
)

// Values of Device.LocalAgent.Subscription.{i}.TriggerAction (TR-181
// 2.16, TR-369 "TriggerAction Parameter"): what the Agent does when the
// subscription's event occurs.
const (
	triggerNotify          = "Notify"          // send the Notify (the default)
	triggerConfig          = "Config"          // apply TriggerConfigSettings, no Notify
	triggerNotifyAndConfig = "NotifyAndConfig" // both: the Notify first
)

// maxTriggerDepth bounds how many configuration changes made by triggered
// subscriptions may in turn trigger others, so that two subscriptions
// configuring what the other watches cannot loop.
const maxTriggerDepth = 4

// triggerDepthKey carries, in the context of a change made by a triggered
// subscription, how many triggers led to it.
type triggerDepthKey struct{}

// triggerSetting is one entry of TriggerConfigSettings:
// "<Parameter Name>=<Parameter Value>".
type triggerSetting struct {
	obj, param, value string
}

// parseTriggerSettings reads TriggerConfigSettings: a comma-separated list
// of "Path=Value" entries; a value may be quoted ("a,b" keeps its comma,
// the quotes are removed). Each Path is a parameter path; a search path
// sets the parameter in every instance it resolves to.
func parseTriggerSettings(v string) ([]triggerSetting, error) {
	var out []triggerSetting
	for _, item := range splitQuoted(v) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		path, value, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not <Parameter Name>=<Parameter Value>", item)
		}
		path, value = strings.TrimSpace(path), strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		pp, err := pathname.Parse(path)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", path, err)
		}
		if pp.Kind != pathname.KindParameter || pp.IsPattern() {
			return nil, fmt.Errorf("%q is not a parameter path", path)
		}
		obj, name := pp.Split()
		out = append(out, triggerSetting{obj: obj.String(), param: name, value: value})
	}
	return out, nil
}

// splitQuoted splits a list at the commas outside double quotes.
func splitQuoted(v string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// checkTrigger validates TriggerConfigSettings when a Controller writes it,
// so that a subscription never holds settings it could not apply.
func checkTrigger(values map[string]string) error {
	v, ok := values["TriggerConfigSettings"]
	if !ok {
		return nil
	}
	if _, err := parseTriggerSettings(v); err != nil {
		return usperr.Errorf(usperr.CodeInvalidValue, "TriggerConfigSettings: %v", err)
	}
	return nil
}

// notifies reports whether the subscription sends a Notify when it fires.
func (x *sub) notifies() bool { return x.action != triggerConfig }

// configures reports whether the subscription applies its
// TriggerConfigSettings when it fires.
func (x *sub) configures() bool {
	return x.action == triggerConfig || x.action == triggerNotifyAndConfig
}

// trigger applies a fired subscription's TriggerConfigSettings with the
// permissions of its Recipient, the Controller that configured it: one
// Set, all or nothing. A failure is logged; the subscription stays as it
// is.
func (s *subscriptions) trigger(ctx context.Context, x *sub, c *controller) {
	depth, _ := ctx.Value(triggerDepthKey{}).(int)
	if depth >= maxTriggerDepth {
		s.a.log.WarnContext(ctx, "subscription trigger not applied: too many triggers in a row", "subscription", x.path)
		return
	}
	if x.settingsErr != nil {
		s.a.log.WarnContext(ctx, "subscription trigger not applied", "subscription", x.path, "err", x.settingsErr)
		return
	}
	if len(x.settings) == 0 {
		return
	}
	var objs []datamodel.UpdateObject
	idx := map[string]int{}
	for _, st := range x.settings {
		i, ok := idx[st.obj]
		if !ok {
			i = len(objs)
			idx[st.obj] = i
			objs = append(objs, datamodel.UpdateObject{Path: st.obj})
		}
		objs[i].Params = append(objs[i].Params, datamodel.ParamSetting{Param: st.param, Value: st.value, Required: true})
	}
	ctx = context.WithValue(ctx, triggerDepthKey{}, depth+1)
	if _, err := s.a.eng.Set(ctx, s.a.caller(c.endpointID), false, objs); err != nil {
		s.a.log.WarnContext(ctx, "subscription trigger not applied", "subscription", x.path, "err", err)
		return
	}
	s.a.log.InfoContext(ctx, "subscription trigger applied", "subscription", x.path, "settings", len(x.settings))
}
