package agent

import (
	"context"
	"strings"

	"github.com/uspkit/uspkit/wire"
)

// serviceObjs keeps, of the supported objects Service s reported, those
// below the paths it registered (a Service describes no other part of
// Device.), and reduces an object with divergent_paths to the fields
// TR-369 gives a divergent object ("only the supported_obj_path, access,
// is_multi_instance, and divergent_paths fields will be populated"): the
// supported data model of the divergent instances is only had by asking
// for their Object Instance Paths, which the Broker routes to the Service.
func (b *broker) serviceObjs(ctx context.Context, s *uspService, objs []*wire.GetSupportedDMResp_SupportedObjectResult) []*wire.GetSupportedDMResp_SupportedObjectResult {
	b.mu.RLock()
	paths := append([]string(nil), s.paths...)
	b.mu.RUnlock()
	out := objs[:0:0]
	for _, o := range objs {
		p := o.GetSupportedObjPath()
		if !registeredBelow(paths, p) {
			b.a.log.WarnContext(ctx, "broker: a USP Service described an object it did not register; dropped", "endpoint", s.eid, "object", p)
			continue
		}
		if len(o.GetDivergentPaths()) > 0 && (len(o.GetSupportedParams()) > 0 || len(o.GetSupportedCommands()) > 0 ||
			len(o.GetSupportedEvents()) > 0 || len(o.GetUniqueKeySets()) > 0) {
			b.a.log.WarnContext(ctx, "broker: a USP Service described a divergent object in full; reduced", "endpoint", s.eid, "object", p)
			o = &wire.GetSupportedDMResp_SupportedObjectResult{SupportedObjPath: p, Access: o.GetAccess(),
				IsMultiInstance: o.GetIsMultiInstance(), DivergentPaths: o.GetDivergentPaths()}
		}
		out = append(out, o)
	}
	return out
}

// registeredBelow reports whether the supported object path p lies at or
// below one of the registered paths.
func registeredBelow(registered []string, p string) bool {
	for _, r := range registered {
		if strings.HasPrefix(p, r) {
			return true
		}
	}
	return false
}
