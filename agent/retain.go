package agent

import (
	"context"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/wire"
)

// retainResponse returns ctx asking the MTP to retain reply (mtp.WithRetain)
// when reply is a USP Response Message going over MQTT to a Controller whose
// MQTT MTP row has PublishRetainResponse true (TR-181
// Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.PublishRetainResponse):
// the row whose MQTT.Reference names the client t, else the Controller's
// first MQTT row. Error Messages, and Records over other MTPs, are not
// retained. The MQTT client clears RETAIN when the server said Retain
// Available = 0. Notify Messages follow PublishRetainNotify (deliverOver).
func (a *Agent) retainResponse(ctx context.Context, protocol string, t mtp.Transport, to string, reply *wire.Msg) context.Context {
	if !a.retainAny.Load() || protocol != "MQTT" || reply.GetBody().GetResponse() == nil {
		return ctx
	}
	a.mu.Lock()
	c := a.ctrls[to]
	var rows []controllerMTP
	if c != nil {
		rows = c.mtps
	}
	var clients []string
	for _, l := range a.linkList {
		if l.Transport == t && l.mqtt != "" {
			clients = append(clients, l.mqtt)
		}
	}
	a.mu.Unlock()
	first, found := false, false
	for _, m := range rows {
		if m.protocol != "MQTT" {
			continue
		}
		for _, cl := range clients {
			if m.client == cl {
				if m.retainResponse {
					return mtp.WithRetain(ctx, true)
				}
				return ctx
			}
		}
		if !found {
			first, found = m.retainResponse, true
		}
	}
	if first {
		return mtp.WithRetain(ctx, true)
	}
	return ctx
}
