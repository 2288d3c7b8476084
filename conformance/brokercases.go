package conformance

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Cases of sections 6 (STOMP) and 11 (MQTT) that a Controller can judge
// through the Agent's data model and its own connection to the server:
// the required profiles, and destinations and subscriptions changed
// through USP. The cases that need to watch or shape the server's frames
// (CONNECT contents, CONNACK properties, heart-beats) skip.

// Profile parameters, as TR-181 2.16 lists them and TP-469 6.1 and 11.1
// require them.
var (
	stompProfiles = []string{
		"Device.LocalAgent.Controller.{i}.MTP.{i}.STOMP.Reference",
		"Device.LocalAgent.Controller.{i}.MTP.{i}.STOMP.Destination",
		"Device.STOMP.ConnectionNumberOfEntries",
		"Device.STOMP.Connection.{i}.Alias",
		"Device.STOMP.Connection.{i}.Enable",
		"Device.STOMP.Connection.{i}.Status",
		"Device.STOMP.Connection.{i}.Host",
		"Device.STOMP.Connection.{i}.Port",
		"Device.STOMP.Connection.{i}.VirtualHost",
	}
	// MQTTClientCon:1, MQTTClientSubscribe:1, MQTTAgent:1 and
	// MQTTController:1; MessageRetryTime is left to MQTT 3.1.1 agents.
	mqttProfiles = []string{
		"Device.MQTT.ClientNumberOfEntries",
		"Device.MQTT.Capabilities.ProtocolVersionsSupported",
		"Device.MQTT.Capabilities.TransportProtocolSupported",
		"Device.MQTT.Client.{i}.Enable",
		"Device.MQTT.Client.{i}.Status",
		"Device.MQTT.Client.{i}.ProtocolVersion",
		"Device.MQTT.Client.{i}.BrokerAddress",
		"Device.MQTT.Client.{i}.BrokerPort",
		"Device.MQTT.Client.{i}.CleanSession",
		"Device.MQTT.Client.{i}.KeepAliveTime",
		"Device.MQTT.Client.{i}.Name",
		"Device.MQTT.Client.{i}.ClientID",
		"Device.MQTT.Client.{i}.Username",
		"Device.MQTT.Client.{i}.Password",
		"Device.MQTT.Client.{i}.TransportProtocol",
		"Device.MQTT.Client.{i}.ConnectRetryTime",
		"Device.MQTT.Client.{i}.ConnectRetryIntervalMultiplier",
		"Device.MQTT.Client.{i}.ConnectRetryMaxInterval",
		"Device.MQTT.Client.{i}.ResponseInformation",
		"Device.MQTT.Client.{i}.SubscriptionNumberOfEntries",
		"Device.MQTT.Client.{i}.Subscription.{i}.Enable",
		"Device.MQTT.Client.{i}.Subscription.{i}.Topic",
		"Device.MQTT.Client.{i}.Subscription.{i}.QoS",
		"Device.LocalAgent.MTP.{i}.MQTT.Reference",
		"Device.LocalAgent.MTP.{i}.MQTT.ResponseTopicConfigured",
		"Device.LocalAgent.MTP.{i}.MQTT.ResponseTopicDiscovered",
		"Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.Reference",
		"Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.Topic",
	}
)

func sectionsBroker() map[string]caseFunc {
	m := map[string]caseFunc{}
	m["6.1"] = caseFunc{run: func(t *T) {
		t.needProtocol("STOMP")
		t.hasProfile(stompProfiles, "Device.STOMP.", "Device.LocalAgent.")
	}}
	m["11.1"] = caseFunc{run: func(t *T) {
		t.needProtocol("MQTT")
		want := mqttProfiles
		if t.mqttVersion() == "3.1.1" {
			want = append(want, "Device.MQTT.Client.{i}.MessageRetryTime")
		}
		t.hasProfile(want, "Device.MQTT.", "Device.LocalAgent.")
	}}
	m["6.10"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		t.overProtocol("STOMP")
		mtpRow := t.activeMTP("STOMP")
		old := t.c.addr
		next := fmt.Sprintf("/queue/tp469-6.10-%d", time.Now().UnixNano()%1e9)
		t.setOK(mtpRow+"STOMP.", p("Destination", next))
		t.Cleanup(func() {
			t.c.doTo(t.ctx, next, setReq(false, obj(mtpRow+"STOMP.", p("Destination", old))), t.r.o.ReplyTimeout)
			t.c.pingAt(t.ctx, old, 20*time.Second)
		})
		// The Agent now listens at the new destination (it subscribed to
		// it) and no longer at the old one (it unsubscribed).
		t.Check(t.c.pingAt(t.ctx, next, 20*time.Second) == nil, "the agent does not answer at its new destination %s", next)
		_, err := t.c.doTo(t.ctx, old, getReq("Device.LocalAgent.EndpointID"), 3*time.Second)
		t.Check(err != nil, "the agent still answers at its old destination %s", old)
	}}
	m["11.9"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		t.overProtocol("MQTT")
		client := t.activeMQTTClient()
		topic, addr := "newTopic-11-9", "newTopic-11-9"
		if t.mqttVersion() == "3.1.1" {
			topic = "newTopic-11-9/#"
		}
		r := t.addResp(t.Do(addReq(false, obj(client+"Subscription.", p("Enable", "true"), p("Topic", topic)))))
		sub := t.created(r, 1)[0]
		t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, sub), t.r.o.ReplyTimeout) })
		// Subscribed: a Get published on the new topic is answered.
		t.Check(t.c.pingAt(t.ctx, addr, 20*time.Second) == nil, "no answer to a Get published on %s", addr)
		m, err := t.c.doTo(t.ctx, addr, getReq(sub), t.r.o.ReplyTimeout)
		t.Check(err == nil && m.GetBody().GetResponse().GetGetResp() != nil, "Get of %s on %s: %v %v", sub, addr, brief(m), err)
		t.setOK(sub, preq("Enable", "false"))
		// Unsubscribed: the topic is no longer served.
		time.Sleep(2 * time.Second)
		t.Check(t.c.ping(t.ctx, 20*time.Second) == nil, "the agent stopped answering on its own topic")
		_, err = t.c.doTo(t.ctx, addr, getReq("Device.LocalAgent.EndpointID"), 3*time.Second)
		t.Check(err != nil, "the agent still answers on %s after the subscription was disabled", addr)
	}}
	return m
}

// needProtocol skips the case unless the Agent supports an MTP.
func (t *T) needProtocol(protocol string) {
	v := t.value("Device.LocalAgent.SupportedProtocols")
	for p := range strings.SplitSeq(v, ",") {
		if strings.TrimSpace(p) == protocol {
			return
		}
	}
	t.Skipf("the agent does not support the %s MTP (SupportedProtocols %q)", protocol, v)
}

// overProtocol skips the case unless the runner reaches the Agent over
// protocol.
func (t *T) overProtocol(protocol string) {
	t.needProtocol(protocol)
	if got := t.protocol(); got != protocol {
		t.Skipf("needs the runner to reach the agent over %s (it uses %s)", protocol, got)
	}
}

// hasProfile checks that the supported data model below roots has every
// parameter of want.
func (t *T) hasProfile(want []string, roots ...string) {
	r := t.supportedResp(t.Do(supportedReq(false, false, false, true, false, roots...)))
	have := map[string]bool{}
	for _, ro := range r.GetReqObjResults() {
		t.Check(ro.GetErrCode() == 0, "GetSupportedDM %s: %d %s", ro.GetReqObjPath(), ro.GetErrCode(), ro.GetErrMsg())
		for _, o := range ro.GetSupportedObjs() {
			for _, prm := range o.GetSupportedParams() {
				have[o.GetSupportedObjPath()+prm.GetParamName()] = true
			}
		}
	}
	var missing []string
	for _, w := range want {
		if !have[w] {
			missing = append(missing, w)
		}
	}
	t.Check(len(missing) == 0, "the supported data model lacks %s", strings.Join(missing, ", "))
}

// activeMTP returns the enabled Device.LocalAgent.MTP.{i}. of protocol.
func (t *T) activeMTP(protocol string) string {
	r := t.getResp(t.Do(getReq("Device.LocalAgent.MTP.*.")))
	vals := flat(r)
	for _, row := range t.instances("Device.LocalAgent.MTP.") {
		if vals[row+"Protocol"] == protocol && vals[row+"Enable"] == "true" {
			return row
		}
	}
	t.Skipf("the agent has no enabled %s MTP", protocol)
	return ""
}

// activeMQTTClient returns the Device.MQTT.Client.{i}. the active MQTT MTP
// references.
func (t *T) activeMQTTClient() string {
	ref := t.value(t.activeMTP("MQTT") + "MQTT.Reference")
	if ref == "" {
		t.Skipf("the agent's MQTT MTP references no Device.MQTT.Client")
	}
	return strings.TrimSuffix(ref, ".") + "."
}

// mqttVersion returns the ProtocolVersion of the active MQTT client, or
// "" when the Agent has none.
func (t *T) mqttVersion() string {
	for k, v := range flat(t.getResp(t.Do(getReq("Device.MQTT.Client.*.ProtocolVersion")))) {
		_ = k
		return v
	}
	return ""
}

// pingAt is ping at addr.
func (c *client) pingAt(ctx context.Context, addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if _, err = c.doTo(ctx, addr, getReq("Device.LocalAgent.EndpointID"), time.Second); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return err
}
