package conformance_test

import (
	"testing"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/wire"
)

// supportedSubscription answers 1.99's GetSupportedDM with the
// Subscription table and the given unique key sets.
func supportedSubscription(keySets ...[]string) func(*wire.Request) *wire.Response {
	return func(r *wire.Request) *wire.Response {
		if r.GetGet() != nil {
			return getResp(r.GetGet().GetParamPaths()[0], "Device.LocalAgent.", map[string]string{"EndpointID": fakeID})
		}
		if r.GetGetSupportedDm() == nil {
			return nil
		}
		obj := &wire.GetSupportedDMResp_SupportedObjectResult{SupportedObjPath: "Device.LocalAgent.Subscription.{i}.",
			Access: wire.GetSupportedDMResp_OBJ_ADD_DELETE, IsMultiInstance: true}
		for _, k := range keySets {
			obj.UniqueKeySets = append(obj.UniqueKeySets, &wire.GetSupportedDMResp_SupportedUniqueKeySet{KeyNames: k})
		}
		resp := &wire.GetSupportedDMResp{}
		for _, path := range r.GetGetSupportedDm().GetObjPaths() {
			resp.ReqObjResults = append(resp.ReqObjResults, &wire.GetSupportedDMResp_RequestedObjectResult{ReqObjPath: path,
				DataModelInstUri: "urn:broadband-forum-org:tr-181-2-16-0-usp", SupportedObjs: []*wire.GetSupportedDMResp_SupportedObjectResult{obj}})
		}
		return &wire.Response{RespType: &wire.Response_GetSupportedDmResp{GetSupportedDmResp: resp}}
	}
}

// TestUniqueKeySetJudge1_99: a unique key is a set of parameter names,
// so TP-469 1.99 accepts Recipient and ID in either order, and refuses a
// set that lacks one of them or has an extra one (TR-181 Subscription
// unique keys: Alias; Recipient+ID).
func TestUniqueKeySetJudge1_99(t *testing.T) {
	cases := []struct {
		name string
		sets [][]string
		want conformance.Status
	}{
		{"spec order", [][]string{{"Recipient", "ID"}}, conformance.Pass},
		{"other order", [][]string{{"ID", "Recipient"}}, conformance.Pass},
		{"other order with Alias", [][]string{{"Alias"}, {"ID", "Recipient"}}, conformance.Pass},
		{"Recipient alone", [][]string{{"Recipient"}}, conformance.Fail},
		{"extra key", [][]string{{"ID", "Recipient", "Enable"}}, conformance.Fail},
		{"no key set", nil, conformance.Fail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := run(t, supportedSubscription(c.sets...), "1.99")
			if len(res) != 1 || res[0].Status != c.want {
				t.Fatalf("key sets %v: got %+v, want %s", c.sets, res, c.want)
			}
		})
	}
}
