package agent

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
)

// sortMTPs puts a Controller's MTPs in the order they are tried for the
// messages the Agent starts: by Order (Device.LocalAgent.Controller.{i}.
// MTP.{i}.Order, lowest first; 0 means unset and comes last), then by
// instance number.
func sortMTPs(ms []controllerMTP) {
	slices.SortStableFunc(ms, func(a, b controllerMTP) int {
		ao, bo := a.order, b.order
		if ao == 0 {
			ao = ^uint32(0)
		}
		if bo == 0 {
			bo = ^uint32(0)
		}
		if ao != bo {
			if ao < bo {
				return -1
			}
			return 1
		}
		return int(a.instance) - int(b.instance)
	})
}

// lastInstance returns the instance number that ends an instance path
// ("Device.LocalAgent.Controller.1.MTP.2." gives 2), or 0.
func lastInstance(path string) uint32 {
	p := strings.TrimSuffix(path, ".")
	n, err := strconv.ParseUint(p[strings.LastIndexByte(p, '.')+1:], 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// deliver sends a Record the Agent starts (a Notify) to a Controller over
// its enabled MTPs in their configured order (see sortMTPs), the first
// that takes it winning:
//   - MQTT to the row's MQTT.Topic, the topic TR-181 gives "for Notify
//     messages sent by the USP Agent", through the MQTT client its
//     MQTT.Reference names, whatever reply-to topic the Controller last
//     used (a temporary one may have no subscriber left);
//   - STOMP likewise to STOMP.Destination through the connection its
//     STOMP.Reference names;
//   - WebSocket and UDS over the connection the Controller was last heard
//     on, else any that reaches it.
//
// A Controller with no usable MTP row (one registered when it first wrote)
// is reached where it was last heard. deliver reports whether a transport
// took the Record.
func (a *Agent) deliver(ctx context.Context, c *controller, rec *record.Record) bool {
	a.mu.Lock()
	r, heard := a.routes[c.endpointID]
	a.mu.Unlock()
	heard = heard && r.addr != ""
	for _, m := range c.mtps {
		if a.deliverOver(ctx, m, r, heard, rec) {
			return true
		}
	}
	if heard {
		if a.linked(r.t) && a.sendRecord(ctx, r.t, r.addr, rec) {
			return true
		}
		if t := a.transport(r.protocol, r.addr); t != nil && t != r.t && a.sendRecord(ctx, t, r.addr, rec) {
			return true
		}
	}
	return false
}

func (a *Agent) deliverOver(ctx context.Context, m controllerMTP, r route, heard bool, rec *record.Record) bool {
	if m.protocol == "MQTT" && m.retainNotify {
		ctx = mtp.WithRetain(ctx, true) // MQTT.PublishRetainNotify
	}
	switch {
	case (m.protocol == "MQTT" || m.protocol == "STOMP") && m.addr != "":
		t := a.referenced(m.protocol, m.client, m.addr)
		return t != nil && a.sendRecord(ctx, t, m.addr, rec)
	case heard && r.protocol == m.protocol:
		if a.linked(r.t) && a.sendRecord(ctx, r.t, r.addr, rec) {
			return true
		}
		if t := a.transport(r.protocol, r.addr); t != nil && t != r.t && a.sendRecord(ctx, t, r.addr, rec) {
			return true
		}
	}
	if m.addr == "" {
		return false
	}
	t := a.transport(m.protocol, m.addr)
	return t != nil && a.sendRecord(ctx, t, m.addr, rec)
}

// referenced returns the transport of the MQTT client or STOMP connection
// row ref (a Controller MTP's Reference); with no reference, or one that
// no transport serves (a fixed transport of Options.MTPs has no row), any
// transport of the protocol that reaches addr.
func (a *Agent) referenced(protocol, ref, addr string) mtp.Transport {
	if ref != "" {
		a.mu.Lock()
		for _, l := range a.linkList {
			if l.Protocol == protocol && (l.mqtt == ref || l.stomp == ref) {
				a.mu.Unlock()
				return l.Transport
			}
		}
		a.mu.Unlock()
	}
	return a.transport(protocol, addr)
}
