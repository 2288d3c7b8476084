package cli_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/wire"
)

// TestAgentBrokerFromDataModel: `usp agent` reaches its MQTT broker as
// Device.MQTT.Client.1 says. A Controller on broker A moves it to broker B
// with a Set of BrokerPort; the agent answers the Set, moves, and a
// Controller on broker B manages it; after a restart the agent goes to B
// straight away, from its stored data model.
func TestAgentBrokerFromDataModel(t *testing.T) {
	bin := buildUSP(t)
	brokerA, brokerB := testenv.Mosquitto(t), testenv.Mosquitto(t)
	const agentID = "os::012345-MOVER"
	onBroker := func(addr string) *controller.Controller {
		return runController(t, "MQTT", func(onState mtp.StateFunc) mtp.Transport {
			return mqtt.NewClient(&mqtt.Options{URL: "tcp://" + addr, EndpointID: mtpCtrlID, Topic: "usp/controller",
				MinWait: 200 * time.Millisecond, OnState: onState})
		})
	}
	ctlA := onBroker(brokerA)
	stop := startAgentProcessWith(t, bin, agentID,
		fmt.Sprintf("  - protocol: MQTT\n    url: tcp://%s\n    topic: usp/agent/mover\n", brokerA),
		fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: MQTT\n          topic: usp/controller\n", mtpCtrlID))
	waitAgent(t, ctlA, agentID, true)
	ctx := context.Background()

	// The data model shows the connection the agent was started with.
	got := getParams(t, ctlA, agentID, "Device.MQTT.Client.1.", "Device.LocalAgent.MTP.1.")
	_, portA, _ := strings.Cut(brokerA, ":")
	for k, want := range map[string]string{"Device.MQTT.Client.1.BrokerAddress": "127.0.0.1", "Device.MQTT.Client.1.BrokerPort": portA,
		"Device.MQTT.Client.1.ProtocolVersion": "5.0", "Device.MQTT.Client.1.Status": "Connected", "Device.MQTT.Client.1.Password": "",
		"Device.LocalAgent.MTP.1.Protocol": "MQTT", "Device.LocalAgent.MTP.1.Status": "Up", "Device.LocalAgent.MTP.1.Enable": "true",
		"Device.LocalAgent.MTP.1.MQTT.Reference": "Device.MQTT.Client.1", "Device.LocalAgent.MTP.1.MQTT.ResponseTopicConfigured": "usp/agent/mover"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}

	// The ClientID the broker assigned is kept in the data model [R-MQTT.11].
	var clientID string
	for range 50 {
		if clientID = getParams(t, ctlA, agentID, "Device.MQTT.Client.1.ClientID")["Device.MQTT.Client.1.ClientID"]; clientID != "" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if clientID == "" {
		t.Error("Device.MQTT.Client.1.ClientID stays empty after connecting")
	}

	// Move it: the response comes back over broker A, then the agent
	// reconnects to broker B.
	ctlB := onBroker(brokerB)
	_, portB, _ := strings.Cut(brokerB, ":")
	set := &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.MQTT.Client.1.",
		ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "BrokerPort", Value: portB, Required: true}}}}}}}
	if m, err := ctlA.Do(ctx, agentID, set); err != nil || m.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("set BrokerPort: %v %v", m, err)
	}
	start := time.Now()
	waitAgent(t, ctlB, agentID, true)
	t.Logf("agent on broker B %v after the Set", time.Since(start).Round(time.Millisecond))
	got = getParams(t, ctlB, agentID, "Device.MQTT.Client.1.")
	if got["Device.MQTT.Client.1.BrokerPort"] != portB || got["Device.MQTT.Client.1.Status"] != "Connected" {
		t.Errorf("on broker B: %v", got)
	}

	// Restarted, it goes to broker B at once.
	restart := stop()
	restart()
	deadline := time.Now().Add(20 * time.Second)
	for {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		m, err := ctlB.Do(short, agentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.UpTime"}}}})
		cancel()
		if err == nil {
			v := m.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetResolvedPathResults()[0].GetResultParams()["UpTime"]
			if up, err := strconv.Atoi(v); err == nil && up < 15 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the restarted agent did not answer on broker B")
		}
		time.Sleep(200 * time.Millisecond)
	}

	if id := getParams(t, ctlB, agentID, "Device.MQTT.Client.1.ClientID")["Device.MQTT.Client.1.ClientID"]; id != clientID {
		t.Errorf("ClientID after restart %q, want %q (TP-469 11.5)", id, clientID)
	}

	// Disabling the MTP cuts the agent off; the response still comes.
	dis := &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.LocalAgent.MTP.1.",
		ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Enable", Value: "false", Required: true}}}}}}}
	if m, err := ctlB.Do(ctx, agentID, dis); err != nil || m.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("disable: %v %v", m, err)
	}
	time.Sleep(500 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if m, err := ctlB.Do(short, agentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.UpTime"}}}}); err == nil {
		t.Errorf("the agent answered with its MTP disabled: %v", m)
	}
}

// getParams returns the values under paths, by full parameter path.
func getParams(t *testing.T, c *controller.Controller, agentID string, paths ...string) map[string]string {
	t.Helper()
	m, err := c.Do(context.Background(), agentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths}}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		if rp.GetErrCode() != 0 {
			t.Fatalf("get %s: %d %s", rp.GetRequestedPath(), rp.GetErrCode(), rp.GetErrMsg())
		}
		for _, r := range rp.GetResolvedPathResults() {
			for k, v := range r.GetResultParams() {
				out[r.GetResolvedPath()+k] = v
			}
		}
	}
	return out
}
