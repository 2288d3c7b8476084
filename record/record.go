package record

import (
	"fmt"
)

// Version is the USP protocol version written in the Records this package
// builds.
const Version = "1.3"

// Type says which member of the record_type oneof a Record holds.
type Type uint8

// The record types of TR-369 1.3. TypeNone means no record_type was set,
// which Validate rejects.
const (
	TypeNone Type = iota
	TypeNoSessionContext
	TypeSessionContext
	TypeWebSocketConnect
	TypeMQTTConnect
	TypeSTOMPConnect
	TypeDisconnect
	TypeUDSConnect
)

var typeNames = [...]string{
	TypeNone:             "none",
	TypeNoSessionContext: "no_session_context",
	TypeSessionContext:   "session_context",
	TypeWebSocketConnect: "websocket_connect",
	TypeMQTTConnect:      "mqtt_connect",
	TypeSTOMPConnect:     "stomp_connect",
	TypeDisconnect:       "disconnect",
	TypeUDSConnect:       "uds_connect",
}

// String returns the protobuf field name of the record type.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// fieldNumber is the record_type oneof field number of t, 0 for TypeNone.
func (t Type) fieldNumber() int {
	switch t {
	case TypeNoSessionContext:
		return fieldNoSession
	case TypeSessionContext:
		return fieldSession
	case TypeWebSocketConnect:
		return fieldWebSocket
	case TypeMQTTConnect:
		return fieldMQTT
	case TypeSTOMPConnect:
		return fieldSTOMP
	case TypeDisconnect:
		return fieldDisconnect
	case TypeUDSConnect:
		return fieldUDS
	}
	return 0
}

// PayloadSecurity is the Record's payload_security field.
type PayloadSecurity uint32

// Payload security values.
const (
	PayloadSecurityPlaintext PayloadSecurity = 0
	PayloadSecurityTLS12     PayloadSecurity = 1
)

// SARState is a segmentation-and-reassembly state of a SessionContext record.
type SARState uint32

// Segmentation states.
const (
	SARStateNone        SARState = 0
	SARStateBegin       SARState = 1
	SARStateInProcess   SARState = 2
	SARStateComplete    SARState = 3
	sarStateLastDefined          = SARStateComplete
)

// MQTTVersion is the version field of an MQTTConnect record.
type MQTTVersion uint32

// MQTT versions.
const (
	MQTTVersion311 MQTTVersion = 0
	MQTTVersion5   MQTTVersion = 1
)

// STOMPVersion is the version field of a STOMPConnect record.
type STOMPVersion uint32

// STOMPVersion12 is STOMP 1.2, the only version USP defines.
const STOMPVersion12 STOMPVersion = 0

// Record is one USP Record. Only the fields of the member named by Type are
// encoded; the others are ignored by AppendBinary.
//
// The zero value is an empty Record of TypeNone.
type Record struct {
	Version         string
	ToID            string
	FromID          string
	PayloadSecurity PayloadSecurity
	MACSignature    []byte
	SenderCert      []byte
	Type            Type

	// Payload is the serialized Msg of a TypeNoSessionContext record.
	Payload []byte
	// Session holds the fields of a TypeSessionContext record.
	Session SessionContext
	// MQTT holds the fields of a TypeMQTTConnect record.
	MQTT MQTTConnect
	// STOMP holds the fields of a TypeSTOMPConnect record.
	STOMP STOMPConnect
	// Disconnect holds the fields of a TypeDisconnect record.
	Disconnect Disconnect
}

// SessionContext is the body of a session_context record.
type SessionContext struct {
	SessionID     uint64
	SequenceID    uint64
	ExpectedID    uint64
	RetransmitID  uint64
	PayloadSAR    SARState
	PayloadRecSAR SARState
	Payload       [][]byte
}

// MQTTConnect is the body of an mqtt_connect record.
type MQTTConnect struct {
	Version         MQTTVersion
	SubscribedTopic string
}

// STOMPConnect is the body of a stomp_connect record.
type STOMPConnect struct {
	Version               STOMPVersion
	SubscribedDestination string
}

// Disconnect is the body of a disconnect record. Code is usually one of the
// record error codes (7100–7106) [R-MTP.9].
type Disconnect struct {
	Reason string
	Code   uint32
}

// NewNoSession returns a plaintext no_session_context Record carrying the
// serialized Msg payload from one Endpoint to another.
func NewNoSession(toID, fromID string, payload []byte) *Record {
	return &Record{Version: Version, ToID: toID, FromID: fromID, Type: TypeNoSessionContext, Payload: payload}
}

// NewWebSocketConnect returns a websocket_connect Record.
func NewWebSocketConnect(toID, fromID string) *Record {
	return &Record{Version: Version, ToID: toID, FromID: fromID, Type: TypeWebSocketConnect}
}

// NewUDSConnect returns a uds_connect Record.
func NewUDSConnect(toID, fromID string) *Record {
	return &Record{Version: Version, ToID: toID, FromID: fromID, Type: TypeUDSConnect}
}

// NewMQTTConnect returns an mqtt_connect Record announcing the topic the
// sender is subscribed to.
func NewMQTTConnect(toID, fromID string, v MQTTVersion, topic string) *Record {
	return &Record{Version: Version, ToID: toID, FromID: fromID, Type: TypeMQTTConnect,
		MQTT: MQTTConnect{Version: v, SubscribedTopic: topic}}
}

// NewSTOMPConnect returns a stomp_connect Record announcing the destination
// the sender is subscribed to.
func NewSTOMPConnect(toID, fromID, destination string) *Record {
	return &Record{Version: Version, ToID: toID, FromID: fromID, Type: TypeSTOMPConnect,
		STOMP: STOMPConnect{Version: STOMPVersion12, SubscribedDestination: destination}}
}

// NewDisconnect returns a disconnect Record with a reason code and text.
func NewDisconnect(toID, fromID string, code uint32, reason string) *Record {
	return &Record{Version: Version, ToID: toID, FromID: fromID, Type: TypeDisconnect,
		Disconnect: Disconnect{Reason: reason, Code: code}}
}
