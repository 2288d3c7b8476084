package agent

import (
	"context"
	"strconv"
	"strings"
)

// pathUSPServices is the table of connected USP Services.
const pathUSPServices = "Device.USPServices.USPService."

// linkControllers fills Device.LocalAgent.Controller.{i}.MTP.{i}.UDS.
// USPServiceRef: the Controller of a USP Service connects to the Broker's
// Agent socket with the Service's Endpoint ID, and its MTP row over UDS
// references the Service's Device.USPServices.USPService.{i} row (TR-369
// appendix "Software Modularization", "Data Model Implications":
// "Each LocalAgent.Controller instance would have a UDS MTP object that
// contains a reference to the USPService Object instance"). The reference
// is strong: it is emptied when the Service disconnects and its row goes.
func (b *broker) linkControllers(ctx context.Context) {
	a := b.a
	if a == nil || a.eng == nil || a.opt.Mux.Model().Object(pathUSPServices+"{i}.") == nil ||
		a.opt.Mux.Model().Param("Device.LocalAgent.Controller.{i}.MTP.{i}.UDS.USPServiceRef") == nil {
		return
	}
	refs := map[string]string{} // Endpoint ID → its USPService row
	for _, s := range b.snapshot() {
		refs[s.eid] = pathUSPServices + strconv.FormatUint(uint64(s.inst), 10)
	}
	rows := a.rows(ctx, pathControllers)
	for p, params := range rows {
		// p is Device.LocalAgent.Controller.N.MTP.M.UDS.
		rest, ok := strings.CutPrefix(p, pathControllers)
		if !ok || !strings.HasSuffix(rest, ".UDS.") {
			continue
		}
		parts := strings.Split(rest, ".") // N, "MTP", M, "UDS", ""
		if len(parts) != 5 || parts[1] != "MTP" {
			continue
		}
		ctl := rows[pathControllers+parts[0]+"."]
		mtpRow := rows[pathControllers+parts[0]+".MTP."+parts[2]+"."]
		want := ""
		if mtpRow["Protocol"] == "UDS" {
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
