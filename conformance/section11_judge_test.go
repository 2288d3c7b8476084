package conformance_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// mqttDefects make the scripted Agent's MQTT client break one rule.
type mqttDefects struct {
	noEndpointID bool   // no usp-endpoint-id User Property [R-MQTT.13]
	contentType  string // the Content Type of its PUBLISHes; "" is usp.msg [R-MQTT.27]
	noDisconnect bool   // stays connected without a topic [R-MQTT.16]
	// forgetID does not keep the Assigned Client Identifier [R-MQTT.9].
	forgetID bool
	// rushRetry connects again at once when the server ends the
	// connection, not after ConnectRetryTime [R-MQTT.33].
	rushRetry bool
}

// stompDefects make the scripted Agent's STOMP client break one rule.
type stompDefects struct {
	contentType string // the content-type of its SENDs; "" is application/vnd.bbf.usp.msg [R-STOMP.20]
	noReplyTo   bool   // SEND without reply-to-dest [R-STOMP.21]
	noEndpoint  bool   // STOMP frame without endpoint-id [R-STOMP.4]
}

// scriptedAgent answers the runner's data-model requests over the pipe
// like an Agent whose Device.MQTT.Client and Device.LocalAgent.MTP tables
// take Add, and when the runner enables the MTP row it adds, connects to
// the runner's MQTT server with a client of its own, written here from
// the packets, that breaks the rules d names.
type scriptedAgent struct {
	t  *testing.T
	d  mqttDefects
	sd stompDefects
	// stomp makes the Agent's MTP row a STOMP one.
	stomp bool

	mu     sync.Mutex
	client map[string]string // Device.MQTT.Client.1. settings
	topic  string            // ResponseTopicConfigured
	stop   []context.CancelFunc
	wg     sync.WaitGroup
}

func (a *scriptedAgent) answer(r *wire.Request) *wire.Response {
	switch {
	case r.GetGet() != nil:
		path := r.GetGet().GetParamPaths()[0]
		vals := map[string][2]string{
			"Device.LocalAgent.EndpointID":                       {"Device.LocalAgent.", "EndpointID=" + fakeID},
			"Device.LocalAgent.SupportedProtocols":               {"Device.LocalAgent.", "SupportedProtocols=MQTT,STOMP"},
			"Device.MQTT.Capabilities.ProtocolVersionsSupported": {"Device.MQTT.Capabilities.", "ProtocolVersionsSupported=5.0"},
			"Device.LocalAgent.Controller.*.EndpointID":          {"Device.LocalAgent.Controller.1.", "EndpointID=" + runnerID},
			"Device.LocalAgent.Controller.1.MTP.*.Protocol":      {"Device.LocalAgent.Controller.1.MTP.1.", "Protocol=WebSocket"},
		}
		if path == "Device.MQTT.Client.2.ClientID" {
			a.mu.Lock()
			defer a.mu.Unlock()
			return getResp(path, "Device.MQTT.Client.2.", map[string]string{"ClientID": a.client["ClientID"]})
		}
		v, ok := vals[path]
		if !ok {
			return nil
		}
		k, val, _ := strings.Cut(v[1], "=")
		return getResp(path, v[0], map[string]string{k: val})
	case r.GetGetSupportedDm() != nil:
		resp := &wire.GetSupportedDMResp{}
		for _, path := range r.GetGetSupportedDm().GetObjPaths() {
			resp.ReqObjResults = append(resp.ReqObjResults, &wire.GetSupportedDMResp_RequestedObjectResult{ReqObjPath: path,
				SupportedObjs: []*wire.GetSupportedDMResp_SupportedObjectResult{{SupportedObjPath: path, Access: wire.GetSupportedDMResp_OBJ_ADD_DELETE}}})
		}
		return &wire.Response{RespType: &wire.Response_GetSupportedDmResp{GetSupportedDmResp: resp}}
	case r.GetDelete() != nil:
		return &wire.Response{RespType: &wire.Response_DeleteResp{DeleteResp: &wire.DeleteResp{}}}
	case r.GetAdd() != nil:
		co := r.GetAdd().GetCreateObjs()[0]
		path := co.GetObjPath() + "2."
		if co.GetObjPath() == "Device.MQTT.Client." || co.GetObjPath() == "Device.STOMP.Connection." {
			a.mu.Lock()
			a.client = map[string]string{}
			for _, s := range co.GetParamSettings() {
				a.client[s.GetParam()] = s.GetValue()
			}
			a.mu.Unlock()
		}
		return &wire.Response{RespType: &wire.Response_AddResp{AddResp: &wire.AddResp{CreatedObjResults: []*wire.AddResp_CreatedObjectResult{{
			RequestedPath: co.GetObjPath(), OperStatus: &wire.AddResp_CreatedObjectResult_OperationStatus{
				OperStatus: &wire.AddResp_CreatedObjectResult_OperationStatus_OperSuccess{OperSuccess: &wire.AddResp_CreatedObjectResult_OperationStatus_OperationSuccess{
					InstantiatedPath: path}}}}}}}}
	case r.GetSet() != nil:
		for _, u := range r.GetSet().GetUpdateObjs() {
			for _, s := range u.GetParamSettings() {
				switch {
				case u.GetObjPath() == "Device.LocalAgent.MTP.2.MQTT." && s.GetParam() == "ResponseTopicConfigured",
					u.GetObjPath() == "Device.LocalAgent.MTP.2.STOMP." && s.GetParam() == "Destination":
					a.mu.Lock()
					a.topic = s.GetValue()
					a.mu.Unlock()
				case u.GetObjPath() == "Device.LocalAgent.MTP.2." && s.GetParam() == "Enable" && s.GetValue() == "true":
					a.connect()
				}
			}
		}
		return &wire.Response{RespType: &wire.Response_SetResp{SetResp: &wire.SetResp{}}}
	}
	return nil
}

func (a *scriptedAgent) close() {
	a.mu.Lock()
	for _, c := range a.stop {
		c()
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// connect runs the scripted MQTT client against the configured broker.
func (a *scriptedAgent) connect() {
	a.mu.Lock()
	cl, topic := a.client, a.topic
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = append(a.stop, cancel)
	a.mu.Unlock()
	addr := net.JoinHostPort(cl["BrokerAddress"], cl["BrokerPort"])
	if a.stomp {
		addr = net.JoinHostPort(cl["Host"], cl["Port"])
	}
	a.wg.Go(func() {
		// Connect, and after the server ends the connection, again
		// after 1.5 s (ConnectRetryTime is 1 s, the multiplier 2000).
		for ctx.Err() == nil {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			stop := context.AfterFunc(ctx, func() { nc.Close() })
			if a.stomp {
				a.stompSession(nc, cl, topic)
			} else {
				a.session(nc, cl, topic)
			}
			stop()
			wait := 1500 * time.Millisecond
			if a.d.rushRetry {
				wait = 10 * time.Millisecond
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	})
}

func (a *scriptedAgent) session(nc net.Conn, cl map[string]string, topic string) {
	defer nc.Close()
	write := func(cp *packets.ControlPacket) {
		var b bytes.Buffer
		cp.WriteTo(&b)
		nc.Write(b.Bytes())
	}
	cp := packets.NewControlPacket(packets.CONNECT)
	c := cp.Content.(*packets.Connect)
	a.mu.Lock()
	c.ClientID, c.KeepAlive, c.CleanStart = cl["ClientID"], 60, true
	a.mu.Unlock()
	c.Username, c.UsernameFlag = cl["Username"], cl["Username"] != ""
	c.Password, c.PasswordFlag = []byte(cl["Password"]), cl["Password"] != ""
	one := byte(1)
	c.Properties.RequestResponseInfo = &one
	if !a.d.noEndpointID {
		c.Properties.User = []packets.User{{Key: "usp-endpoint-id", Value: fakeID}}
	}
	write(cp)
	ack, err := packets.ReadPacket(nc)
	if err != nil || ack.Type != packets.CONNACK {
		return
	}
	props := ack.Content.(*packets.Connack).Properties
	if props.AssignedClientID != "" && !a.d.forgetID {
		a.mu.Lock()
		cl["ClientID"] = props.AssignedClientID
		a.mu.Unlock()
	}
	var filters []string
	for _, u := range props.User {
		if u.Key == "subscribe-topic" {
			filters = append(filters, u.Value)
		}
	}
	if props.ResponseInfo != "" {
		topic = props.ResponseInfo
	}
	if topic != "" {
		filters = append(filters, topic)
	}
	if len(filters) == 0 {
		if !a.d.noDisconnect {
			write(packets.NewControlPacket(packets.DISCONNECT))
			return
		}
		_, _ = io.Copy(io.Discard, nc) // until the case ends
		return
	}
	sub := packets.NewControlPacket(packets.SUBSCRIBE)
	s := sub.Content.(*packets.Subscribe)
	s.PacketID = 1
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, packets.SubOptions{Topic: f, QoS: 1})
	}
	write(sub)
	ct := a.d.contentType
	if ct == "" {
		ct = "usp.msg"
	}
	for {
		in, err := packets.ReadPacket(nc)
		if err != nil {
			return
		}
		p, ok := in.Content.(*packets.Publish)
		if !ok {
			continue
		}
		if p.QoS == 1 {
			pa := packets.NewControlPacket(packets.PUBACK)
			pa.Content.(*packets.Puback).PacketID = p.PacketID
			write(pa)
		}
		var rec record.Record
		var m wire.Msg
		if record.Decode(p.Payload, &rec, nil) != nil || proto.Unmarshal(rec.Payload, &m) != nil {
			continue
		}
		out := &wire.Msg{Header: &wire.Header{MsgId: m.GetHeader().GetMsgId(), MsgType: wire.Header_GET_RESP},
			Body: &wire.Body{MsgBody: &wire.Body_Response{Response: getResp("Device.DeviceInfo.", "Device.DeviceInfo.", map[string]string{"Manufacturer": "x"})}}}
		b, _ := proto.Marshal(out)
		rb, _ := record.NewNoSession(rec.FromID, fakeID, b).MarshalBinary()
		write((&packets.Publish{Topic: p.Properties.ResponseTopic, QoS: 1, PacketID: 2, Payload: rb,
			Properties: &packets.Properties{ResponseTopic: topic, ContentType: ct}}).ToControlPacket())
	}
}

// TestMQTTCasesJudge: the section 11 cases pass for an MQTT client that
// keeps the rules and fail, naming the rule, for one that breaks it.
func TestMQTTCasesJudge(t *testing.T) {
	for _, c := range []struct {
		name string
		d    mqttDefects
		id   string
		want conformance.Status
		why  string
	}{
		{"11.2 kept", mqttDefects{}, "11.2", conformance.Pass, ""},
		{"11.2 without usp-endpoint-id", mqttDefects{noEndpointID: true}, "11.2", conformance.Fail, "usp-endpoint-id"},
		{"11.12 kept", mqttDefects{}, "11.12", conformance.Pass, ""},
		{"11.12 with another Content Type", mqttDefects{contentType: "application/octet-stream"}, "11.12", conformance.Fail, "Content Type"},
		{"11.10 kept", mqttDefects{}, "11.10", conformance.Pass, ""},
		{"11.10 without DISCONNECT", mqttDefects{noDisconnect: true}, "11.10", conformance.Fail, "DISCONNECT"},
		{"11.4 kept", mqttDefects{}, "11.4", conformance.Pass, ""},
		{"11.4 Assigned Client Identifier not kept", mqttDefects{forgetID: true}, "11.4", conformance.Fail, "Assigned Client Identifier"},
		{"11.16 kept", mqttDefects{}, "11.16", conformance.Pass, ""},
		{"11.16 at once", mqttDefects{rushRetry: true}, "11.16", conformance.Fail, "ConnectRetryTime"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &scriptedAgent{t: t, d: c.d}
			defer a.close()
			res := run(t, a.answer, c.id)
			if len(res) != 1 || res[0].Status != c.want || !strings.Contains(res[0].Reason, c.why) {
				t.Fatalf("%+v, want %s (%q)", res, c.want, c.why)
			}
		})
	}
}

// stompSession is the scripted Agent's STOMP client: STOMP frame,
// SUBSCRIBE to its destination, and a GetResp SENT for each MESSAGE.
func (a *scriptedAgent) stompSession(nc net.Conn, cl map[string]string, dest string) {
	defer nc.Close()
	var b bytes.Buffer
	b.WriteString("STOMP\naccept-version:1.2\nhost:" + cl["VirtualHost"] + "\nlogin:" + cl["Username"] + "\npasscode:" + cl["Password"] + "\nheart-beat:0,0\n")
	if !a.sd.noEndpoint {
		b.WriteString("endpoint-id:" + strings.ReplaceAll(fakeID, ":", "\\c") + "\n")
	}
	b.WriteString("\n\x00")
	nc.Write(b.Bytes())
	r := bufio.NewReader(nc)
	connected, err := r.ReadString(0)
	if err != nil || !strings.HasPrefix(connected, "CONNECTED") {
		return
	}
	nc.Write([]byte("SUBSCRIBE\nid:0\ndestination:" + dest + "\nack:auto\n\n\x00"))
	ct := a.sd.contentType
	if ct == "" {
		ct = "application/vnd.bbf.usp.msg"
	}
	for {
		head, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if strings.TrimSpace(head) != "MESSAGE" {
			continue
		}
		var replyTo string
		n := -1
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			l = strings.TrimSuffix(l, "\n")
			if l == "" {
				break
			}
			k, v, _ := strings.Cut(l, ":")
			switch k {
			case "reply-to-dest":
				replyTo = v
			case "content-length":
				n, _ = strconv.Atoi(v)
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		r.ReadByte() // NUL
		var rec record.Record
		var m wire.Msg
		if record.Decode(body, &rec, nil) != nil || proto.Unmarshal(rec.Payload, &m) != nil {
			continue
		}
		out := &wire.Msg{Header: &wire.Header{MsgId: m.GetHeader().GetMsgId(), MsgType: wire.Header_GET_RESP},
			Body: &wire.Body{MsgBody: &wire.Body_Response{Response: getResp("Device.DeviceInfo.", "Device.DeviceInfo.", map[string]string{"Manufacturer": "x"})}}}
		pb, _ := proto.Marshal(out)
		rb, _ := record.NewNoSession(rec.FromID, fakeID, pb).MarshalBinary()
		var f bytes.Buffer
		f.WriteString("SEND\ndestination:" + replyTo + "\ncontent-type:" + ct + "\ncontent-length:" + strconv.Itoa(len(rb)) + "\n")
		if !a.sd.noReplyTo {
			f.WriteString("reply-to-dest:" + dest + "\n")
		}
		f.WriteString("\n")
		f.Write(rb)
		f.WriteByte(0)
		nc.Write(f.Bytes())
	}
}

// TestSTOMPCasesJudge: the section 6 cases pass for a STOMP client that
// keeps the rules and fail, naming the rule, for one that breaks it.
func TestSTOMPCasesJudge(t *testing.T) {
	for _, c := range []struct {
		name string
		d    stompDefects
		id   string
		want conformance.Status
		why  string
	}{
		{"6.2 kept", stompDefects{}, "6.2", conformance.Pass, ""},
		{"6.2 without endpoint-id", stompDefects{noEndpoint: true}, "6.2", conformance.Fail, "endpoint-id"},
		{"6.4 kept", stompDefects{}, "6.4", conformance.Pass, ""},
		{"6.4 with another content-type", stompDefects{contentType: "application/octet-stream"}, "6.4", conformance.Fail, "content-type"},
		{"6.4 without reply-to-dest", stompDefects{noReplyTo: true}, "6.4", conformance.Fail, "reply-to-dest"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &scriptedAgent{t: t, sd: c.d, stomp: true}
			defer a.close()
			res := run(t, a.answer, c.id)
			if len(res) != 1 || res[0].Status != c.want || !strings.Contains(res[0].Reason, c.why) {
				t.Fatalf("%+v, want %s (%q)", res, c.want, c.why)
			}
		})
	}
}
