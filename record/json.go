//go:build !usp_noproto

package record

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/wire"
)

// jsonFieldOrder lists the Record's JSON keys in field-number order.
var jsonFieldOrder = [...]string{
	"version", "to_id", "from_id", "payload_security", "mac_signature", "sender_cert",
	"no_session_context", "session_context", "websocket_connect", "mqtt_connect",
	"stomp_connect", "disconnect", "uds_connect",
}

// MarshalJSON renders r as protobuf JSON with the schema's field names. A
// plaintext payload is shown decoded inline, as the JSON of its Msg, in
// place of base64; an encrypted (TLS12) payload or a segment of a larger Msg
// stays base64. A plaintext payload that is not a valid Msg is an error.
func (r *Record) MarshalJSON() ([]byte, error) {
	bare := *r
	bare.Payload = nil
	bare.Session.Payload = nil
	j, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(bare.Wire())
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(j, &fields); err != nil {
		return nil, err
	}
	if err := r.inlinePayload(fields); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for _, k := range jsonFieldOrder {
		v, ok := fields[k]
		if !ok {
			continue
		}
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, "%q:", k)
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func (r *Record) inlinePayload(fields map[string]json.RawMessage) error {
	plain := r.PayloadSecurity == PayloadSecurityPlaintext
	switch r.Type {
	case TypeNoSessionContext:
		p, err := payloadJSON(r.Payload, plain)
		if err != nil {
			return err
		}
		fields["no_session_context"] = json.RawMessage(`{"payload":` + string(p) + `}`)
	case TypeSessionContext:
		var body map[string]json.RawMessage
		if err := json.Unmarshal(fields["session_context"], &body); err != nil {
			return err
		}
		whole := plain && r.Session.PayloadSAR == SARStateNone
		list := make([]json.RawMessage, 0, len(r.Session.Payload))
		for _, pl := range r.Session.Payload {
			p, err := payloadJSON(pl, whole)
			if err != nil {
				return err
			}
			list = append(list, p)
		}
		if len(list) > 0 {
			body["payload"], _ = json.Marshal(list)
		}
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		fields["session_context"] = b
	}
	return nil
}

// payloadJSON renders one payload: the Msg's JSON when decode is set, else a
// base64 string.
func payloadJSON(p []byte, decode bool) (json.RawMessage, error) {
	if !decode {
		return json.Marshal(p)
	}
	var m wire.Msg
	if err := proto.Unmarshal(p, &m); err != nil {
		return nil, fmt.Errorf("payload is not a valid USP Msg: %w", err)
	}
	return MsgJSON(&m)
}

// MsgJSON renders a Msg as compact protobuf JSON with the schema's field
// names.
func MsgJSON(m *wire.Msg) ([]byte, error) {
	j, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	// protojson varies its white space on purpose; settle it.
	var buf bytes.Buffer
	if err := json.Compact(&buf, j); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UnmarshalJSON reads the form MarshalJSON writes: protobuf JSON of a Record
// (field names in either the schema's or the lowerCamel form) in which each
// payload is either base64 or a Msg given as a JSON object. Unknown fields
// are an error.
func (r *Record) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return fmt.Errorf("record JSON: %w", err)
	}
	for _, key := range [...]string{"no_session_context", "noSessionContext", "session_context", "sessionContext"} {
		if body, ok := fields[key]; ok {
			enc, err := encodePayloads(body)
			if err != nil {
				return fmt.Errorf("record JSON: %s: %w", key, err)
			}
			fields[key] = enc
		}
	}
	j, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	var w wire.Record
	if err := protojson.Unmarshal(j, &w); err != nil {
		return fmt.Errorf("record JSON: %w", err)
	}
	*r = *FromWire(&w)
	return nil
}

// encodePayloads replaces inline Msg objects in a record body's payload
// field with their base64 encoding.
func encodePayloads(body json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, err
	}
	raw, ok := fields["payload"]
	if !ok {
		return body, nil
	}
	raw = bytes.TrimSpace(raw)
	var err error
	if len(raw) > 0 && raw[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, err
		}
		for i := range list {
			if list[i], err = encodePayload(list[i]); err != nil {
				return nil, fmt.Errorf("payload %d: %w", i, err)
			}
		}
		fields["payload"], err = json.Marshal(list)
	} else {
		fields["payload"], err = encodePayload(raw)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(fields)
}

func encodePayload(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return raw, nil
	}
	var m wire.Msg
	if err := protojson.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("payload Msg: %w", err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&m)
	if err != nil {
		return nil, err
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

// ParseMsgJSON reads a Msg from protobuf JSON.
func ParseMsgJSON(b []byte) (*wire.Msg, error) {
	var m wire.Msg
	if err := protojson.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("msg JSON: %w", err)
	}
	return &m, nil
}
