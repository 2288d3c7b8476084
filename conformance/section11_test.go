package conformance_test

import (
	"strings"
	"testing"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/wire"
)

// TestMTPCasesNeedAddDelete: an Agent whose MQTT client and STOMP
// connection tables take no Add skips the cases that point it at the
// runner's own servers, with the reason, instead of failing them.
func TestMTPCasesNeedAddDelete(t *testing.T) {
	answer := func(r *wire.Request) *wire.Response {
		if g := r.GetGet(); g != nil {
			switch path := g.GetParamPaths()[0]; path {
			case "Device.LocalAgent.EndpointID":
				return getResp(path, "Device.LocalAgent.", map[string]string{"EndpointID": fakeID})
			case "Device.LocalAgent.SupportedProtocols":
				return getResp(path, "Device.LocalAgent.", map[string]string{"SupportedProtocols": "MQTT,STOMP"})
			}
			return nil
		}
		s := r.GetGetSupportedDm()
		if s == nil {
			return nil
		}
		resp := &wire.GetSupportedDMResp{}
		for _, path := range s.GetObjPaths() {
			resp.ReqObjResults = append(resp.ReqObjResults, &wire.GetSupportedDMResp_RequestedObjectResult{ReqObjPath: path,
				SupportedObjs: []*wire.GetSupportedDMResp_SupportedObjectResult{{SupportedObjPath: path, Access: wire.GetSupportedDMResp_OBJ_READ_ONLY}}})
		}
		return &wire.Response{RespType: &wire.Response_GetSupportedDmResp{GetSupportedDmResp: resp}}
	}
	for _, id := range []string{"11.2", "6.2"} {
		res := run(t, answer, id)
		if len(res) != 1 || res[0].Status != conformance.Skip || !strings.Contains(res[0].Reason, "Add and Delete") {
			t.Errorf("%s: %+v, want a skip for want of Add and Delete", id, res)
		}
	}
}
