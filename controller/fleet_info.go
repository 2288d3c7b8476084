package controller

import (
	"context"
	"maps"

	"github.com/uspkit/uspkit/wire"
)

// refreshInfo reads Device.DeviceInfo again after an Agent's Boot!, so
// that what a search looks at (SoftwareVersion after a firmware upgrade,
// say) follows the device; the registry keeps the values read at first
// contact until then.
func (c *Controller) refreshInfo(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.RequestTimeout)
	defer cancel()
	m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.DeviceInfo."}, MaxDepth: 1}}})
	if err := respErr(m, err); err != nil {
		c.log.DebugContext(ctx, "DeviceInfo not read again after Boot!", "agent", id, "err", err)
		return
	}
	info := map[string]string{}
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, r := range rp.GetResolvedPathResults() {
			maps.Copy(info, r.GetResultParams())
		}
	}
	if len(info) == 0 {
		return
	}
	c.mu.Lock()
	a := c.agents[id]
	if a == nil || maps.Equal(a.Info, info) {
		c.mu.Unlock()
		return
	}
	a.Info = info
	snapshot := *a
	c.mu.Unlock()
	c.persistAgent(ctx, &snapshot)
}
