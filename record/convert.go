package record

import "github.com/uspkit/uspkit/wire"

// Wire returns r as the generated protobuf type. Byte fields are shared, not
// copied.
func (r *Record) Wire() *wire.Record {
	w := &wire.Record{
		Version:         r.Version,
		ToId:            r.ToID,
		FromId:          r.FromID,
		PayloadSecurity: wire.Record_PayloadSecurity(int32(r.PayloadSecurity)),
		MacSignature:    r.MACSignature,
		SenderCert:      r.SenderCert,
	}
	switch r.Type {
	case TypeNoSessionContext:
		w.RecordType = &wire.Record_NoSessionContext{NoSessionContext: &wire.NoSessionContextRecord{Payload: r.Payload}}
	case TypeSessionContext:
		s := &r.Session
		w.RecordType = &wire.Record_SessionContext{SessionContext: &wire.SessionContextRecord{
			SessionId: s.SessionID, SequenceId: s.SequenceID, ExpectedId: s.ExpectedID, RetransmitId: s.RetransmitID,
			PayloadSarState:    wire.SessionContextRecord_PayloadSARState(int32(s.PayloadSAR)),
			PayloadrecSarState: wire.SessionContextRecord_PayloadSARState(int32(s.PayloadRecSAR)),
			Payload:            s.Payload,
		}}
	case TypeWebSocketConnect:
		w.RecordType = &wire.Record_WebsocketConnect{WebsocketConnect: &wire.WebSocketConnectRecord{}}
	case TypeMQTTConnect:
		w.RecordType = &wire.Record_MqttConnect{MqttConnect: &wire.MQTTConnectRecord{
			Version: wire.MQTTConnectRecord_MQTTVersion(int32(r.MQTT.Version)), SubscribedTopic: r.MQTT.SubscribedTopic}}
	case TypeSTOMPConnect:
		w.RecordType = &wire.Record_StompConnect{StompConnect: &wire.STOMPConnectRecord{
			Version: wire.STOMPConnectRecord_STOMPVersion(int32(r.STOMP.Version)), SubscribedDestination: r.STOMP.SubscribedDestination}}
	case TypeDisconnect:
		w.RecordType = &wire.Record_Disconnect{Disconnect: &wire.DisconnectRecord{Reason: r.Disconnect.Reason, ReasonCode: r.Disconnect.Code}}
	case TypeUDSConnect:
		w.RecordType = &wire.Record_UdsConnect{UdsConnect: &wire.UDSConnectRecord{}}
	}
	return w
}

// FromWire returns the Record held by a generated protobuf value. Byte
// fields are shared, not copied.
func FromWire(w *wire.Record) *Record {
	r := &Record{
		Version:         w.GetVersion(),
		ToID:            w.GetToId(),
		FromID:          w.GetFromId(),
		PayloadSecurity: PayloadSecurity(w.GetPayloadSecurity()),
		MACSignature:    w.GetMacSignature(),
		SenderCert:      w.GetSenderCert(),
	}
	switch t := w.GetRecordType().(type) {
	case *wire.Record_NoSessionContext:
		r.Type, r.Payload = TypeNoSessionContext, t.NoSessionContext.GetPayload()
	case *wire.Record_SessionContext:
		s := t.SessionContext
		r.Type = TypeSessionContext
		r.Session = SessionContext{
			SessionID: s.GetSessionId(), SequenceID: s.GetSequenceId(), ExpectedID: s.GetExpectedId(),
			RetransmitID: s.GetRetransmitId(), PayloadSAR: SARState(s.GetPayloadSarState()),
			PayloadRecSAR: SARState(s.GetPayloadrecSarState()), Payload: s.GetPayload(),
		}
	case *wire.Record_WebsocketConnect:
		r.Type = TypeWebSocketConnect
	case *wire.Record_MqttConnect:
		r.Type = TypeMQTTConnect
		r.MQTT = MQTTConnect{Version: MQTTVersion(t.MqttConnect.GetVersion()), SubscribedTopic: t.MqttConnect.GetSubscribedTopic()}
	case *wire.Record_StompConnect:
		r.Type = TypeSTOMPConnect
		r.STOMP = STOMPConnect{Version: STOMPVersion(t.StompConnect.GetVersion()), SubscribedDestination: t.StompConnect.GetSubscribedDestination()}
	case *wire.Record_Disconnect:
		r.Type = TypeDisconnect
		r.Disconnect = Disconnect{Reason: t.Disconnect.GetReason(), Code: t.Disconnect.GetReasonCode()}
	case *wire.Record_UdsConnect:
		r.Type = TypeUDSConnect
	}
	return r
}
