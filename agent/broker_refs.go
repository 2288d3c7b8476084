package agent

import (
	"context"
	"strconv"
	"strings"
)

// pathUSPServices is the table of connected USP Services.
const pathUSPServices = "Device.USPServices.USPService."

// linkControllers fills USPServiceRef in the MTP rows of
// Device.LocalAgent.Controller.{i}: the Controller of a USP Service talks
// to the Broker's Agent with the Service's Endpoint ID (over the Broker's
// Agent socket, or over MQTT, STOMP or WebSocket for a Service elsewhere),
// and the protocol's object of its MTP row (MTP.{i}.UDS. and so on, as
// TR-181 2.16 defines USPServiceRef in each) references the Service's
// Device.USPServices.USPService.{i} row (TR-369 appendix "Software
// Modularization", "Data Model Implications": "Each LocalAgent.Controller
// instance would have a UDS MTP object that contains a reference to the
// USPService Object instance"). The reference is strong: it is emptied
// when the Service disconnects and its row goes.
func (b *broker) linkControllers(ctx context.Context) {
	a := b.a
	if a == nil || a.eng == nil || a.opt.Mux.Model().Object(pathUSPServices+"{i}.") == nil {
		return
	}
	m := a.opt.Mux.Model()
	refs := map[string]string{} // Endpoint ID → its USPService row
	for _, s := range b.snapshot() {
		refs[s.eid] = pathUSPServices + strconv.FormatUint(uint64(s.inst), 10)
	}
	rows := a.rows(ctx, pathControllers)
	for p, params := range rows {
		// p is Device.LocalAgent.Controller.N.MTP.M.PROTOCOL.
		rest, ok := strings.CutPrefix(p, pathControllers)
		if !ok {
			continue
		}
		parts := strings.Split(rest, ".") // N, "MTP", M, PROTOCOL, ""
		if len(parts) != 5 || parts[1] != "MTP" || parts[4] != "" ||
			m.Param("Device.LocalAgent.Controller.{i}.MTP.{i}."+parts[3]+".USPServiceRef") == nil {
			continue
		}
		ctl := rows[pathControllers+parts[0]+"."]
		mtpRow := rows[pathControllers+parts[0]+".MTP."+parts[2]+"."]
		want := ""
		if mtpRow["Protocol"] == parts[3] {
			want = refs[ctl["EndpointID"]]
		}
		if params["USPServiceRef"] == want {
			continue
		}
		if err := a.eng.Update(ctx, p, map[string]string{"USPServiceRef": want}); err != nil {
			a.log.WarnContext(ctx, "broker: USPServiceRef not updated", "path", p, "err", err)
		}
	}
}
