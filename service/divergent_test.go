package service_test

import (
	"slices"
	"testing"

	"github.com/uspkit/uspkit/wire"
)

// TestBrokerDivergentPaths: TR-369 fills divergent_paths when instances of
// one object have different supported data models (Mounted Objects under
// a Mountpoint). [R-REG.2] lets no two Services, nor a Service and the
// Broker, share the instances of one table, so through a Broker the
// divergence is a Service's own (a Service proxying devices, say): the
// Broker keeps the Service's divergent_paths, and the divergent object's
// short form, in a GetSupportedDM it merges (reducing a divergent object a
// Service describes in full, dropping objects outside the Service's
// registered paths), and routes a GetSupportedDM
// on one of those Object Instance Paths to the Service, which alone can
// describe it.
func TestBrokerDivergentPaths(t *testing.T) {
	w := startBroker(t)
	a, _ := startService(t, w, "os::012345-SVCA", "Device.X_USPKIT_A.", true)
	c := a.Broker()
	px := dialRaw(t, w, "os::012345-PROXY")
	px.send(&wire.Msg{Header: &wire.Header{MsgId: "r1", MsgType: wire.Header_REGISTER}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{ReqType: &wire.Request_Register{Register: &wire.Register{
		RegPaths: []*wire.Register_RegistrationPath{{Path: "Device.X_USPKIT_Proxy."}}}}}}}})
	if m := px.next(); m.GetBody().GetResponse().GetRegisterResp() == nil {
		t.Fatalf("Register: %v", m)
	}
	divergent := []string{"Device.X_USPKIT_Proxy.Device.1.", "Device.X_USPKIT_Proxy.Device.2."}
	// The proxy answers each GetSupportedDM: its table's instances diverge;
	// an instance path gets that instance's model.
	served := make(chan []string, 4)
	go func() {
		for range 2 {
			m := px.next()
			g := m.GetBody().GetRequest().GetGetSupportedDm()
			if g == nil {
				t.Errorf("the proxy got %v", m)
				return
			}
			served <- g.GetObjPaths()
			out := &wire.GetSupportedDMResp{}
			for _, p := range g.GetObjPaths() {
				rr := &wire.GetSupportedDMResp_RequestedObjectResult{ReqObjPath: p, DataModelInstUri: "urn:example:proxy"}
				switch p {
				case "Device.X_USPKIT_Proxy.Device.2.":
					rr.SupportedObjs = []*wire.GetSupportedDMResp_SupportedObjectResult{{SupportedObjPath: "Device.X_USPKIT_Proxy.Device.{i}.",
						Access: wire.GetSupportedDMResp_OBJ_READ_ONLY, IsMultiInstance: true,
						SupportedParams: []*wire.GetSupportedDMResp_SupportedParamResult{{ParamName: "Temperature", ValueType: wire.GetSupportedDMResp_PARAM_INT}}}}
				default:
					rr.SupportedObjs = []*wire.GetSupportedDMResp_SupportedObjectResult{
						{SupportedObjPath: "Device.X_USPKIT_Proxy.", Access: wire.GetSupportedDMResp_OBJ_READ_ONLY},
						// In full, which TR-369 does not give a divergent object:
						// the Broker reduces it.
						{SupportedObjPath: "Device.X_USPKIT_Proxy.Device.{i}.", Access: wire.GetSupportedDMResp_OBJ_READ_ONLY, IsMultiInstance: true, DivergentPaths: divergent,
							SupportedParams: []*wire.GetSupportedDMResp_SupportedParamResult{{ParamName: "Name"}}},
						// Not the proxy's: the Broker drops it.
						{SupportedObjPath: "Device.LocalAgent.X_USPKIT_Stolen.", Access: wire.GetSupportedDMResp_OBJ_READ_ONLY},
					}
				}
				out.ReqObjResults = append(out.ReqObjResults, rr)
			}
			px.send(&wire.Msg{Header: &wire.Header{MsgId: m.GetHeader().GetMsgId(), MsgType: wire.Header_GET_SUPPORTED_DM_RESP},
				Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{RespType: &wire.Response_GetSupportedDmResp{GetSupportedDmResp: out}}}}})
		}
	}()

	// Device.: the Broker's objects, Service A's and the proxy's, with the
	// divergent object in its short form.
	rs := do(t, c, &wire.GetSupportedDM{ObjPaths: []string{"Device."}, ReturnParams: true}).GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults()
	if len(rs) != 1 || rs[0].GetErrCode() != 0 {
		t.Fatalf("GetSupportedDM Device.: %v", rs)
	}
	if got := <-served; !slices.Equal(got, []string{"Device.X_USPKIT_Proxy."}) {
		t.Errorf("the proxy was asked for %v", got)
	}
	var found bool
	for _, so := range rs[0].GetSupportedObjs() {
		if so.GetSupportedObjPath() == "Device.X_USPKIT_Proxy.Device.{i}." {
			found = true
			if !slices.Equal(so.GetDivergentPaths(), divergent) || len(so.GetSupportedParams()) != 0 || !so.GetIsMultiInstance() {
				t.Errorf("divergent object: %v", so)
			}
		}
	}
	for _, so := range rs[0].GetSupportedObjs() {
		if so.GetSupportedObjPath() == "Device.LocalAgent.X_USPKIT_Stolen." {
			t.Errorf("the Broker kept an object the proxy did not register")
		}
	}
	if !found {
		t.Errorf("GetSupportedDM Device. lacks the proxy's table: %v", rs[0])
	}
	// One of the divergent Object Instance Paths: the proxy's answer.
	rs = do(t, c, &wire.GetSupportedDM{ObjPaths: []string{divergent[1], "Device.X_USPKIT_A."}, ReturnParams: true}).GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults()
	if got := <-served; !slices.Equal(got, []string{divergent[1]}) {
		t.Errorf("the proxy was asked for %v", got)
	}
	if len(rs) != 2 || rs[0].GetReqObjPath() != divergent[1] || len(rs[0].GetSupportedObjs()) != 1 ||
		rs[0].GetSupportedObjs()[0].GetSupportedParams()[0].GetParamName() != "Temperature" || rs[1].GetSupportedObjs()[0].GetSupportedObjPath() != "Device.X_USPKIT_A." {
		t.Errorf("GetSupportedDM %s: %v", divergent[1], rs)
	}
}
