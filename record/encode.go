package record

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// AppendBinary appends the protobuf encoding of r to dst and returns the
// extended buffer. Fields are written in field-number order and fields at
// their zero value are omitted, as protobuf's deterministic encoding does.
// It fails only for a Type that is not defined.
func (r *Record) AppendBinary(dst []byte) ([]byte, error) {
	num := r.Type.fieldNumber()
	if num == 0 && r.Type != TypeNone {
		return dst, fmt.Errorf("record: cannot encode record type %v", r.Type)
	}
	dst = grow(dst, r.Size())
	dst = appendString(dst, fieldVersion, r.Version)
	dst = appendString(dst, fieldToID, r.ToID)
	dst = appendString(dst, fieldFromID, r.FromID)
	dst = appendVarint(dst, fieldPayloadSec, uint64(int32(r.PayloadSecurity)))
	dst = appendBytes(dst, fieldMAC, r.MACSignature)
	dst = appendBytes(dst, fieldSenderCert, r.SenderCert)
	if num == 0 {
		return dst, nil
	}
	dst = protowire.AppendTag(dst, protowire.Number(num), protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(r.bodySize()))
	return r.appendBody(dst), nil
}

// MarshalBinary returns the encoding of r in a new slice.
func (r *Record) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(nil)
}

// Size returns the length of r's encoding.
func (r *Record) Size() int {
	n := sizeBytes(fieldVersion, len(r.Version)) + sizeBytes(fieldToID, len(r.ToID)) +
		sizeBytes(fieldFromID, len(r.FromID)) + sizeVarint(fieldPayloadSec, uint64(int32(r.PayloadSecurity))) +
		sizeBytes(fieldMAC, len(r.MACSignature)) + sizeBytes(fieldSenderCert, len(r.SenderCert))
	if r.Type.fieldNumber() != 0 {
		n += protowire.SizeTag(protowire.Number(r.Type.fieldNumber())) + protowire.SizeBytes(r.bodySize())
	}
	return n
}

func (r *Record) bodySize() int {
	switch r.Type {
	case TypeNoSessionContext:
		return sizeBytes(fieldNoSessionPl, len(r.Payload))
	case TypeSessionContext:
		s := &r.Session
		n := sizeVarint(fieldSessID, s.SessionID) + sizeVarint(fieldSessSeq, s.SequenceID) +
			sizeVarint(fieldSessExpected, s.ExpectedID) + sizeVarint(fieldSessRetrans, s.RetransmitID) +
			sizeVarint(fieldSessSAR, uint64(int32(s.PayloadSAR))) + sizeVarint(fieldSessRecSAR, uint64(int32(s.PayloadRecSAR)))
		for _, p := range s.Payload {
			n += protowire.SizeTag(fieldSessPayload) + protowire.SizeBytes(len(p))
		}
		return n
	case TypeMQTTConnect:
		return sizeVarint(fieldConnVersion, uint64(int32(r.MQTT.Version))) + sizeBytes(fieldConnTopic, len(r.MQTT.SubscribedTopic))
	case TypeSTOMPConnect:
		return sizeVarint(fieldConnVersion, uint64(int32(r.STOMP.Version))) + sizeBytes(fieldConnTopic, len(r.STOMP.SubscribedDestination))
	case TypeDisconnect:
		n := sizeBytes(fieldDiscReason, len(r.Disconnect.Reason))
		if r.Disconnect.Code != 0 {
			n += protowire.SizeTag(fieldDiscCode) + protowire.SizeFixed32()
		}
		return n
	}
	return 0
}

func (r *Record) appendBody(dst []byte) []byte {
	switch r.Type {
	case TypeNoSessionContext:
		return appendBytes(dst, fieldNoSessionPl, r.Payload)
	case TypeSessionContext:
		s := &r.Session
		dst = appendVarint(dst, fieldSessID, s.SessionID)
		dst = appendVarint(dst, fieldSessSeq, s.SequenceID)
		dst = appendVarint(dst, fieldSessExpected, s.ExpectedID)
		dst = appendVarint(dst, fieldSessRetrans, s.RetransmitID)
		dst = appendVarint(dst, fieldSessSAR, uint64(int32(s.PayloadSAR)))
		dst = appendVarint(dst, fieldSessRecSAR, uint64(int32(s.PayloadRecSAR)))
		for _, p := range s.Payload {
			// Repeated bytes are written even when empty.
			dst = protowire.AppendTag(dst, fieldSessPayload, protowire.BytesType)
			dst = protowire.AppendBytes(dst, p)
		}
		return dst
	case TypeMQTTConnect:
		dst = appendVarint(dst, fieldConnVersion, uint64(int32(r.MQTT.Version)))
		return appendString(dst, fieldConnTopic, r.MQTT.SubscribedTopic)
	case TypeSTOMPConnect:
		dst = appendVarint(dst, fieldConnVersion, uint64(int32(r.STOMP.Version)))
		return appendString(dst, fieldConnTopic, r.STOMP.SubscribedDestination)
	case TypeDisconnect:
		dst = appendString(dst, fieldDiscReason, r.Disconnect.Reason)
		if r.Disconnect.Code != 0 {
			dst = protowire.AppendTag(dst, fieldDiscCode, protowire.Fixed32Type)
			dst = protowire.AppendFixed32(dst, r.Disconnect.Code)
		}
	}
	return dst
}

func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	out := make([]byte, len(dst), len(dst)+n)
	copy(out, dst)
	return out
}

func sizeBytes(num protowire.Number, n int) int {
	if n == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

func sizeVarint(num protowire.Number, v uint64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

func appendString(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, s)
}

func appendBytes(dst []byte, num protowire.Number, b []byte) []byte {
	if len(b) == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, b)
}

func appendVarint(dst []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.VarintType)
	return protowire.AppendVarint(dst, v)
}
