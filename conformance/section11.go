package conformance

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// Section 11 (MQTT) against the runner's own MQTT 5.0 server
// (mqttserver.go). The runner reaches the Agent over its usual MTP, adds
// a Device.MQTT.Client, a Device.LocalAgent.MTP of protocol MQTT that
// references it and, when its own Controller entry has no MQTT MTP, one
// that names the runner's topic; the Agent then connects to the runner's
// server, where the case watches and shapes the packets. The case deletes
// what it added when it ends, which restores the Agent's configuration.
// Where the plan reboots the Agent to see it connect, the runner watches
// the first connection to its server, or cuts the connection and watches
// the next one: no reboot is needed.

// mqttRig is one case's MQTT setup.
type mqttRig struct {
	t      *T
	srv    *mqttServer
	client string  // Device.MQTT.Client.{i}.
	mtpRow string  // Device.LocalAgent.MTP.{i}.
	topic  string  // the Agent's topic
	ctl    *client // the runner as Controller over srv
	// retry is the Client's ConnectRetryTime and multiplier.
	retryMin  time.Duration
	retryMult uint32
}

// mqttOpts configures a rig.
type mqttOpts struct {
	shape mqttShape
	// client overrides or adds Device.MQTT.Client.{i}. parameters.
	client []kv
	// noTopic leaves ResponseTopicConfigured empty: the Agent takes its
	// topic from the CONNACK.
	noTopic bool
	// noWait returns without waiting for the Agent's SUBSCRIBE.
	noWait bool
	// tls serves over TLS with the runner's trusted certificate;
	// tlsConfig, if set, is the server's TLS configuration instead.
	tls       bool
	tlsConfig *tls.Config
}

// mqttSetup points the Agent at a new runner-owned MQTT server.
func (t *T) mqttSetup(o mqttOpts) *mqttRig {
	t.needProtocol("MQTT")
	t.need("Device.MQTT.Client.{i}.", "Device.LocalAgent.MTP.{i}.MQTT.")
	t.needAddDelete("Device.MQTT.Client.{i}.", "Device.LocalAgent.MTP.{i}.")
	if v := t.value("Device.MQTT.Capabilities.ProtocolVersionsSupported"); !slices.Contains(strings.Split(v, ","), "5.0") {
		t.Skipf("the runner's MQTT server speaks MQTT 5.0, which the agent does not support (%q)", v)
	}
	host := t.r.o.ProbeHost
	if host == "" {
		host = "127.0.0.1"
	}
	tag := strings.ReplaceAll(t.id, ".", "-")
	rig := &mqttRig{t: t, topic: "usp/agent/tp469-" + tag, retryMin: 2 * time.Second, retryMult: 2000}
	reply := "usp/controller/tp469-" + tag
	if o.noTopic {
		rig.topic = o.shape.responseInfo
	}
	tc := o.tlsConfig
	if tc == nil {
		tc = t.serverTLS(o.tls, host)
	}
	srv, err := listenMQTT(t.ctx, host+":0", tc, reply, t.r.o.Logger)
	t.Check(err == nil, "%v", err)
	srv.setShape(func(s *mqttShape) { *s = o.shape })
	rig.srv = srv
	rig.ctl = newClient(t.ctx, t.r.o.Logger, t.c.id, t.c.agentID, srv, rig.topic)
	t.Cleanup(rig.ctl.close)

	transport := "TCP/IP"
	if tc != nil {
		transport = "TLS"
	}
	params := []kv{p("Alias", "tp469-mqtt"), p("Enable", "true"), p("BrokerAddress", host), p("BrokerPort", fmt.Sprint(srv.Addr().Port)),
		p("ProtocolVersion", "5.0"), p("TransportProtocol", transport), p("EnableEncryption", fmt.Sprint(tc != nil)), p("ClientID", "tp469-"+tag),
		p("KeepAliveTime", "60"), p("ConnectRetryTime", "2"), p("ConnectRetryIntervalMultiplier", "2000"), p("ConnectRetryMaxInterval", "30")}
	params = withOverrides(params, o.client)
	retrySettings(params, "ConnectRetryTime", "ConnectRetryIntervalMultiplier", &rig.retryMin, &rig.retryMult)
	// Rows left by an interrupted run go first (Alias is unique).
	t.c.do(t.ctx, deleteReq(true, `Device.LocalAgent.MTP.[Alias=="tp469-mqtt"].`, `Device.MQTT.Client.[Alias=="tp469-mqtt"].`), t.r.o.ReplyTimeout)
	rig.client = t.created(t.addResp(t.Do(addReq(false, obj("Device.MQTT.Client.", params...)))), 1)[0]
	t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, rig.client), t.r.o.ReplyTimeout) })

	// Controller.{i}.MTP.{i}. names the runner's topic, for the MQTT
	// Connect Record; an entry of protocol MQTT stays as it is.
	t.controllerMTP("MQTT", rig.client, p("Topic", reply))

	rig.mtpRow = t.created(t.addResp(t.Do(addReq(false, obj("Device.LocalAgent.MTP.", p("Alias", "tp469-mqtt"), p("Enable", "false"), p("Protocol", "MQTT"))))), 1)[0]
	// Deleting the MTP first stops the Agent's connection to the server.
	t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, rig.mtpRow), t.r.o.ReplyTimeout) })
	mq := []kv{p("Reference", strings.TrimSuffix(rig.client, ".")), p("PublishQoS", "1")}
	if !o.noTopic {
		mq = append(mq, p("ResponseTopicConfigured", rig.topic))
	}
	t.setOK(rig.mtpRow+"MQTT.", mq...)
	t.setOK(rig.mtpRow, p("Enable", "true"))
	if !o.noWait {
		rig.subscribed(0)
	}
	return rig
}

// connect waits for the Agent's CONNECT recorded at index from or later.
func (r *mqttRig) connect(from int, d time.Duration) (mqttPacket, *packets.Connect) {
	pk, ok := r.srv.waitPacket(r.t.ctx, from, d, isType(packets.CONNECT, true))
	r.t.Check(ok, "the agent sent no MQTT CONNECT to the runner's server within %v", d)
	return pk, pk.cp.Content.(*packets.Connect)
}

// subscribed waits for the Agent's SUBSCRIBE recorded at index from or
// later and for its SUBACK to go out.
func (r *mqttRig) subscribed(from int) *packets.Subscribe {
	pk, ok := r.srv.waitPacket(r.t.ctx, from, 20*time.Second, isType(packets.SUBSCRIBE, true))
	r.t.Check(ok, "the agent sent no MQTT SUBSCRIBE to the runner's server")
	_, ok = r.srv.waitPacket(r.t.ctx, from, 5*time.Second, isType(packets.SUBACK, false))
	r.t.Check(ok, "no SUBACK went out")
	return pk.cp.Content.(*packets.Subscribe)
}

// do sends a request through the runner's server to the Agent's topic.
func (r *mqttRig) do(req *wire.Request) *wire.Msg {
	return r.doAt(r.topic, req)
}

func (r *mqttRig) doAt(topic string, req *wire.Request) *wire.Msg {
	var m *wire.Msg
	var err error
	for range 10 { // the SUBSCRIBE may still be on its way
		if m, err = r.ctl.doTo(r.t.ctx, topic, req, r.t.r.o.ReplyTimeout); err == nil || !strings.Contains(err.Error(), "no client subscribed") {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	r.t.Check(err == nil, "%s over the runner's MQTT server on %q: %v", describe(req), topic, err)
	return m
}

// reconnect cuts the Agent's connection and returns the index of the
// packets of the new one, once the Agent subscribed again.
func (r *mqttRig) reconnect() int {
	from := r.srv.mark()
	r.srv.cut()
	r.connect(from, 20*time.Second)
	r.subscribed(from)
	return from
}

// agentPublish is the PUBLISH of the Agent that carries a Record
// accepted by match.
func (r *mqttRig) agentPublish(from int, d time.Duration, match func(*record.Record) bool) (*packets.Publish, *record.Record) {
	var rec *record.Record
	pk, ok := r.srv.waitPacket(r.t.ctx, from, d, func(p mqttPacket) bool {
		if !isType(packets.PUBLISH, true)(p) {
			return false
		}
		var x record.Record
		if record.Decode(p.cp.Content.(*packets.Publish).Payload, &x, nil) != nil || !match(&x) {
			return false
		}
		rec = &x
		return true
	})
	if !ok {
		return nil, nil
	}
	return pk.cp.Content.(*packets.Publish), rec
}

// userProp returns the value of a User Property.
func userProp(p *packets.Properties, key string) (string, bool) {
	if p == nil {
		return "", false
	}
	for _, u := range p.User {
		if u.Key == key {
			return u.Value, true
		}
	}
	return "", false
}

// checkRetry checks that a wait took between the bounds of retry n of the
// TR-181 back-off (ConnectRetryTime m, multiplier k): m·(k/1000)^(n-1) to
// m·(k/1000)^n, with half a second of slack for timers and scheduling
// [R-MQTT.10], [R-MQTT.33].
func (r *mqttRig) checkRetry(what string, n int, got time.Duration) {
	lo := r.retryMin
	for range n - 1 {
		lo = lo * time.Duration(r.retryMult) / 1000
	}
	hi := lo * time.Duration(r.retryMult) / 1000
	const slack = 500 * time.Millisecond
	r.t.Check(got >= lo-slack && got <= hi+slack, "%s after %v, want %v to %v (ConnectRetryTime %v, ConnectRetryIntervalMultiplier %d)",
		what, got.Round(time.Millisecond), lo, hi, r.retryMin, r.retryMult)
}

func section11() map[string]caseFunc {
	m := map[string]caseFunc{}
	m["11.2"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		rig := t.mqttSetup(mqttOpts{client: []kv{p("Username", "tp469-user"), p("Password", "tp469-pass")}})
		_, c := rig.connect(0, time.Second)
		t.Check(c.ProtocolName == "MQTT" && c.ProtocolVersion == 5, "CONNECT protocol %q version %d, want MQTT 5", c.ProtocolName, c.ProtocolVersion)
		// [R-MQTT.13] the Endpoint ID in a User Property.
		id, ok := userProp(c.Properties, "usp-endpoint-id")
		t.Check(ok && id == t.c.agentID, "CONNECT User Property usp-endpoint-id = %q (present %v), want %q", id, ok, t.c.agentID)
		// [R-MQTT.7] the configured credentials.
		t.Check(c.UsernameFlag && c.Username == "tp469-user", "CONNECT User Name %q (flag %v), want tp469-user", c.Username, c.UsernameFlag)
		t.Check(c.PasswordFlag && string(c.Password) == "tp469-pass", "CONNECT Password flag %v, value %q, want tp469-pass", c.PasswordFlag, c.Password)
		t.getResp(rig.do(getReq("Device.DeviceInfo.")))
	}}
	m["11.4"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		assigned := fmt.Sprintf("tp469-assigned-%d", time.Now().UnixNano()%1e9)
		rig := t.mqttSetup(mqttOpts{shape: mqttShape{assignID: assigned}, client: []kv{p("ClientID", "")}})
		_, c := rig.connect(0, time.Second)
		// [R-MQTT.8] an empty ClientId when none is configured.
		t.Check(c.ClientID == "", "CONNECT ClientID %q, want empty (Device.MQTT.Client.{i}.ClientID is empty)", c.ClientID)
		// [R-MQTT.9] the Assigned Client Identifier is kept.
		var got string
		for range 20 {
			if got = t.value(rig.client + "ClientID"); got == assigned {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Check(got == assigned, "%sClientID is %q, want the Assigned Client Identifier %q", rig.client, got, assigned)
	}}
	m["11.5"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		assigned := fmt.Sprintf("tp469-assigned-%d", time.Now().UnixNano()%1e9)
		rig := t.mqttSetup(mqttOpts{shape: mqttShape{assignID: assigned}, client: []kv{p("ClientID", "")}})
		var id string
		for range 20 {
			if id = t.value(rig.client + "ClientID"); id != "" {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Check(id != "", "%sClientID stays empty after the connection", rig.client)
		from := rig.reconnect()
		_, c := rig.connect(from, time.Second)
		// [R-MQTT.11] the same ClientID on every later connection.
		t.Check(c.ClientID == id, "the next CONNECT has ClientID %q, want %q", c.ClientID, id)
	}}
	m["11.6"] = caseFunc{wait: 60 * time.Second, run: func(t *T) {
		rig := t.mqttSetup(mqttOpts{client: []kv{p("ConnectRetryTime", t.retryTime())}})
		rig.srv.setShape(func(s *mqttShape) { s.down = true })
		cut := time.Now()
		rig.srv.cut()
		// Two failed attempts, then the server is back.
		got := rig.srv.waitAccepts(t.ctx, cut, 2, 3*rig.retryMin*time.Duration(rig.retryMult)/1000+5*time.Second)
		t.Check(len(got) >= 2, "%d connection attempts after the server went down, want 2", len(got))
		rig.checkRetry("the first attempt", 1, got[0].Sub(cut))
		rig.checkRetry("the second attempt", 2, got[1].Sub(got[0]))
		from := rig.srv.mark()
		rig.srv.setShape(func(s *mqttShape) { s.down = false })
		rig.connect(from, 30*time.Second)
		rig.subscribed(from)
		t.getResp(rig.do(getReq("Device.MQTT.Client.")))
	}}
	m["11.7"] = caseFunc{wait: 60 * time.Second, run: func(t *T) {
		// The plan's Server Keep Alive of 30 s and wait of 45 s, scaled
		// down to 4 s and 6 s unless long waits are enabled.
		keep, limit := uint16(4), 6*time.Second
		if t.r.o.Long {
			keep, limit = 30, 45*time.Second
		}
		rig := t.mqttSetup(mqttOpts{shape: mqttShape{keepAlive: keep}, client: []kv{p("KeepAliveTime", "60")}})
		_, c := rig.connect(0, time.Second)
		// [R-MQTT.14] the configured Keep Alive.
		t.Check(c.KeepAlive == 60, "CONNECT Keep Alive %d, want 60 (KeepAliveTime)", c.KeepAlive)
		last := rig.srv.mark()
		pk, ok := rig.srv.waitPacket(t.ctx, last, limit+2*time.Second, isType(packets.PINGREQ, true))
		t.Check(ok, "no PINGREQ within %v of a CONNACK with Server Keep Alive %d s", limit, keep)
		// The last packet the Agent sent before its PINGREQ.
		var prev time.Time
		rig.srv.mu.Lock()
		for _, x := range rig.srv.packets {
			if x.in && x.at.Before(pk.at) && x.cp.Type != packets.PINGREQ {
				prev = x.at
			}
		}
		rig.srv.mu.Unlock()
		t.Check(pk.at.Sub(prev) <= limit, "PINGREQ %v after the agent's last packet, want within %v", pk.at.Sub(prev).Round(time.Millisecond), limit)
	}}
	m["11.8"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		sub, info := "usp/agent/tp469-11-8-sub/#", "usp/agent/tp469-11-8-info"
		rig := t.mqttSetup(mqttOpts{noTopic: true, shape: mqttShape{subscribeTopics: []string{sub}, responseInfo: info}})
		_, c := rig.connect(0, time.Second)
		// [R-MQTT.12] Request Response Information set to 1.
		rri := c.Properties.RequestResponseInfo
		t.Check(rri != nil && *rri == 1, "CONNECT Request Response Information %v, want 1", rri)
		s := rig.subscribed(0)
		var filters []string
		for _, o := range s.Subscriptions {
			filters = append(filters, o.Topic)
		}
		// [R-MQTT.15] the subscribe-topic and the Response Information.
		t.Check(slices.Contains(filters, sub), "SUBSCRIBE %q lacks the CONNACK subscribe-topic %q", filters, sub)
		t.Check(slices.ContainsFunc(filters, func(f string) bool { return topicMatch(f, info) }), "SUBSCRIBE %q does not cover the Response Information %q", filters, info)
	}}
	m["11.10"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		rig := t.mqttSetup(mqttOpts{noTopic: true, noWait: true})
		pk, _ := rig.connect(0, 20*time.Second)
		// [R-MQTT.16] no subscribe-topic, no Response Information, no
		// configured topic: DISCONNECT.
		_, ok := rig.srv.waitPacket(t.ctx, 0, 10*time.Second, func(p mqttPacket) bool {
			return p.conn == pk.conn && isType(packets.DISCONNECT, true)(p)
		})
		t.Check(ok, "the agent sent no DISCONNECT after a CONNACK without a subscribe-topic")
	}}
	m["11.11"] = caseFunc{wait: 150 * time.Second, run: func(t *T) {
		window := 10 * time.Second
		if t.r.o.Long {
			window = 120 * time.Second
		}
		rig := t.mqttSetup(mqttOpts{shape: mqttShape{refuseSubs: true}, noWait: true})
		pk, ok := rig.srv.waitPacket(t.ctx, 0, 20*time.Second, isType(packets.SUBSCRIBE, true))
		t.Check(ok, "the agent sent no SUBSCRIBE")
		var filters []string
		for _, o := range pk.cp.Content.(*packets.Subscribe).Subscriptions {
			filters = append(filters, o.Topic)
		}
		// [R-MQTT.17] no subscription granted: DISCONNECT.
		_, ok = rig.srv.waitPacket(t.ctx, 0, 10*time.Second, func(p mqttPacket) bool {
			return p.conn == pk.conn && isType(packets.DISCONNECT, true)(p)
		})
		t.Check(ok, "the agent sent no DISCONNECT after a SUBACK refusing every filter")
		time.Sleep(window)
		rig.srv.mu.Lock()
		defer rig.srv.mu.Unlock()
		for _, x := range rig.srv.packets {
			if isType(packets.PUBLISH, true)(x) {
				topic := x.cp.Content.(*packets.Publish).Topic
				t.Check(!slices.ContainsFunc(filters, func(f string) bool { return topicMatch(f, topic) }),
					"the agent published on %q, a topic of its refused SUBSCRIBE", topic)
			}
		}
	}}
	m["11.12"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		info := "usp/agent/tp469-11-12-info"
		rig := t.mqttSetup(mqttOpts{noTopic: true, shape: mqttShape{responseInfo: info}})
		from := rig.srv.mark()
		t.getResp(rig.do(getReq("Device.DeviceInfo.")))
		pub, _ := rig.agentPublish(from, 5*time.Second, isGetResp)
		t.Check(pub != nil, "no PUBLISH with the GetResp")
		// [R-MQTT.21], [R-MQTT.22], [R-MQTT.23] the Response Information
		// as "reply to" in the Response Topic; [R-MQTT.27] Content Type
		// usp.msg.
		t.Check(pub.Properties.ResponseTopic == info, "PUBLISH Response Topic %q, want the Response Information %q", pub.Properties.ResponseTopic, info)
		t.Check(pub.Properties.ContentType == "usp.msg", "PUBLISH Content Type %q, want usp.msg", pub.Properties.ContentType)
	}}
	m["11.13"] = caseFunc{wait: 40 * time.Second, run: func(t *T) {
		// The server grants QoS 0 on the first topic and 1 on the second;
		// the Agent answers on both [R-MQTT.20].
		q0, q1 := "newTopic-11-13-QoS0", "newTopic-11-13-QoS1"
		rig := t.mqttSetup(mqttOpts{shape: mqttShape{grant: map[string]byte{q0: 0, q1: 1}}})
		for _, c := range []struct{ topic, qos string }{{q0, "0"}, {q1, "1"}} {
			from := rig.srv.mark()
			r := t.addResp(t.Do(addReq(false, obj(rig.client+"Subscription.", p("Enable", "true"), p("Topic", c.topic), p("QoS", c.qos)))))
			sub := t.created(r, 1)[0]
			t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, sub), t.r.o.ReplyTimeout) })
			_, ok := rig.srv.waitPacket(t.ctx, from, 20*time.Second, func(p mqttPacket) bool {
				if !isType(packets.SUBSCRIBE, true)(p) {
					return false
				}
				return slices.ContainsFunc(p.cp.Content.(*packets.Subscribe).Subscriptions, func(o packets.SubOptions) bool { return o.Topic == c.topic })
			})
			t.Check(ok, "no SUBSCRIBE to %s after the Subscription was added", c.topic)
			t.getResp(rig.doAt(c.topic, getReq(sub)))
		}
	}}
	m["11.14"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		rig := t.mqttSetup(mqttOpts{})
		from := rig.srv.mark()
		t.getResp(rig.do(getReq("Device.DeviceInfo.")))
		pub, _ := rig.agentPublish(from, 5*time.Second, isGetResp)
		t.Check(pub != nil, "no PUBLISH with the GetResp")
		// [R-MQTT.26] to the Response Topic of the request; [R-MQTT.22],
		// [R-MQTT.23] with a "reply to" of its own.
		t.Check(pub.Topic == rig.srv.replyTopic, "GetResp published on %q, want the request's Response Topic %q", pub.Topic, rig.srv.replyTopic)
		t.Check(pub.Properties.ResponseTopic != "", "the GetResp PUBLISH has no Response Topic")
	}}
	m["11.15"] = caseFunc{wait: 30 * time.Second, run: func(t *T) {
		rig := t.mqttSetup(mqttOpts{})
		// [R-MQTT.27a] either Content Type is accepted.
		for _, ct := range []string{"usp.msg", "application/vnd.bbf.usp.msg"} {
			rig.srv.setContentType(ct)
			t.getResp(rig.do(getReq("Device.DeviceInfo.")))
		}
	}}
	m["11.16"] = caseFunc{wait: 40 * time.Second, run: func(t *T) {
		rig := t.mqttSetup(mqttOpts{client: []kv{p("ConnectRetryTime", t.retryTime())}})
		sent := time.Now()
		rig.srv.disconnect(0x8B) // Server shutting down
		got := rig.srv.waitAccepts(t.ctx, sent, 1, 2*rig.retryMin*time.Duration(rig.retryMult)/1000+5*time.Second)
		t.Check(len(got) >= 1, "the agent did not connect again after the server's DISCONNECT")
		// [R-MQTT.33] the first retry within ConnectRetryTime·k/1000.
		rig.checkRetry("the agent connected again", 1, got[0].Sub(sent))
	}}
	m["11.17"] = caseFunc{wait: 60 * time.Second, run: func(t *T) {
		rig := t.mqttSetup(mqttOpts{})
		from := rig.reconnect()
		s := rig.subscribed(from)
		pub, rec := rig.agentPublish(from, 30*time.Second, func(r *record.Record) bool { return r.Type == record.TypeMQTTConnect })
		// [R-MTP.6] an MQTTConnectRecord after each connection.
		t.Check(pub != nil, "no MQTTConnectRecord within 30 s of the new connection")
		t.Check(rec.MQTT.Version == record.MQTTVersion5, "MQTTConnectRecord version %v, want V5_0", rec.MQTT.Version)
		ok := slices.ContainsFunc(s.Subscriptions, func(o packets.SubOptions) bool { return topicMatch(o.Topic, rec.MQTT.SubscribedTopic) })
		t.Check(ok, "MQTTConnectRecord subscribed_topic %q is not covered by the SUBSCRIBE %v", rec.MQTT.SubscribedTopic, s.Subscriptions)
	}}
	return m
}

// needAddDelete skips the case unless a Controller may add and delete
// instances of each multi-instance object: the runner adds its own rows and
// deletes them at the end.
func (t *T) needAddDelete(objs ...string) {
	r := t.supportedResp(t.Do(supportedReq(true, false, false, false, false, objs...)))
	for _, ro := range r.GetReqObjResults() {
		for _, o := range ro.GetSupportedObjs() {
			if o.GetSupportedObjPath() == ro.GetReqObjPath() && o.GetAccess() != wire.GetSupportedDMResp_OBJ_ADD_DELETE {
				t.Skipf("needs %s to take Add and Delete (its access is %v)", ro.GetReqObjPath(), o.GetAccess())
			}
		}
	}
}

// retryTime is the first retry interval, in seconds, of the retry
// cases (6.3, 11.6, 11.16): TR-181's default of 5 with long waits
// enabled, else 1, so that two retries take seconds.
func (t *T) retryTime() string {
	if t.r.o.Long {
		return "5"
	}
	return "1"
}

// isGetResp accepts a Record carrying a GetResp.
func isGetResp(r *record.Record) bool {
	if r.Type != record.TypeNoSessionContext {
		return false
	}
	var m wire.Msg
	return protoUnmarshal(r.Payload, &m) == nil && m.GetBody().GetResponse().GetGetResp() != nil
}
