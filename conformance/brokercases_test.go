package conformance_test

import (
	"strings"
	"testing"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/wire"
)

// TestMQTTProfileCheck: 11.1 passes only when the supported data model has
// every parameter of the MQTT profiles.
func TestMQTTProfileCheck(t *testing.T) {
	full := []string{"Device.MQTT.ClientNumberOfEntries", "Device.MQTT.Capabilities.ProtocolVersionsSupported",
		"Device.MQTT.Capabilities.TransportProtocolSupported", "Device.MQTT.Client.{i}.Enable", "Device.MQTT.Client.{i}.Status",
		"Device.MQTT.Client.{i}.ProtocolVersion", "Device.MQTT.Client.{i}.BrokerAddress", "Device.MQTT.Client.{i}.BrokerPort",
		"Device.MQTT.Client.{i}.CleanSession", "Device.MQTT.Client.{i}.KeepAliveTime", "Device.MQTT.Client.{i}.Name",
		"Device.MQTT.Client.{i}.ClientID", "Device.MQTT.Client.{i}.Username", "Device.MQTT.Client.{i}.Password",
		"Device.MQTT.Client.{i}.TransportProtocol", "Device.MQTT.Client.{i}.ConnectRetryTime",
		"Device.MQTT.Client.{i}.ConnectRetryIntervalMultiplier", "Device.MQTT.Client.{i}.ConnectRetryMaxInterval",
		"Device.MQTT.Client.{i}.ResponseInformation", "Device.MQTT.Client.{i}.SubscriptionNumberOfEntries",
		"Device.MQTT.Client.{i}.Subscription.{i}.Enable", "Device.MQTT.Client.{i}.Subscription.{i}.Topic",
		"Device.MQTT.Client.{i}.Subscription.{i}.QoS", "Device.LocalAgent.MTP.{i}.MQTT.Reference",
		"Device.LocalAgent.MTP.{i}.MQTT.ResponseTopicConfigured", "Device.LocalAgent.MTP.{i}.MQTT.ResponseTopicDiscovered",
		"Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.Reference", "Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.Topic"}
	for name, params := range map[string][]string{"full": full, "without ClientID": append(append([]string(nil), full[:11]...), full[12:]...)} {
		t.Run(name, func(t *testing.T) {
			res := run(t, profileAgent(params), "11.1")
			want := conformance.Pass
			if name != "full" {
				want = conformance.Fail
			}
			if len(res) != 1 || res[0].Status != want {
				t.Fatalf("%+v, want %s", res, want)
			}
			if want == conformance.Fail && !strings.Contains(res[0].Reason, "Device.MQTT.Client.{i}.ClientID") {
				t.Errorf("reason %q does not name the missing parameter", res[0].Reason)
			}
		})
	}
}

// profileAgent answers as an MQTT 5 agent whose supported data model has
// params.
func profileAgent(params []string) func(*wire.Request) *wire.Response {
	return func(r *wire.Request) *wire.Response {
		if g := r.GetGet(); g != nil {
			switch path := g.GetParamPaths()[0]; path {
			case "Device.LocalAgent.EndpointID":
				return getResp(path, "Device.LocalAgent.", map[string]string{"EndpointID": fakeID})
			case "Device.LocalAgent.SupportedProtocols":
				return getResp(path, "Device.LocalAgent.", map[string]string{"SupportedProtocols": "MQTT"})
			case "Device.MQTT.Client.*.ProtocolVersion":
				return getResp(path, "Device.MQTT.Client.1.", map[string]string{"ProtocolVersion": "5.0"})
			}
			return nil
		}
		if r.GetGetSupportedDm() == nil {
			return nil
		}
		objs := map[string]*wire.GetSupportedDMResp_SupportedObjectResult{}
		var order []string
		for _, p := range params {
			i := strings.LastIndexByte(p, '.')
			o := objs[p[:i+1]]
			if o == nil {
				o = &wire.GetSupportedDMResp_SupportedObjectResult{SupportedObjPath: p[:i+1]}
				objs[p[:i+1]] = o
				order = append(order, p[:i+1])
			}
			o.SupportedParams = append(o.SupportedParams, &wire.GetSupportedDMResp_SupportedParamResult{ParamName: p[i+1:]})
		}
		res := &wire.GetSupportedDMResp_RequestedObjectResult{ReqObjPath: "Device.MQTT."}
		for _, o := range order {
			res.SupportedObjs = append(res.SupportedObjs, objs[o])
		}
		return &wire.Response{RespType: &wire.Response_GetSupportedDmResp{GetSupportedDmResp: &wire.GetSupportedDMResp{ReqObjResults: []*wire.GetSupportedDMResp_RequestedObjectResult{res}}}}
	}
}
