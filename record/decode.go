package record

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/uspkit/uspkit/usperr"
)

// DefaultMaxSize is the largest encoded Record Decode accepts when
// DecodeOptions.MaxSize is zero.
const DefaultMaxSize = 8 << 20

// Field numbers of the Record schema.
const (
	fieldVersion     = 1
	fieldToID        = 2
	fieldFromID      = 3
	fieldPayloadSec  = 4
	fieldMAC         = 5
	fieldSenderCert  = 6
	fieldNoSession   = 7
	fieldSession     = 8
	fieldWebSocket   = 9
	fieldMQTT        = 10
	fieldSTOMP       = 11
	fieldDisconnect  = 12
	fieldUDS         = 13
	fieldNoSessionPl = 2

	fieldSessID       = 1
	fieldSessSeq      = 2
	fieldSessExpected = 3
	fieldSessRetrans  = 4
	fieldSessSAR      = 5
	fieldSessRecSAR   = 6
	fieldSessPayload  = 7
	fieldConnVersion  = 1
	fieldConnTopic    = 2
	fieldDiscReason   = 1
	fieldDiscCode     = 2
)

// DecodeOptions tune Decode. A nil *DecodeOptions means the defaults.
type DecodeOptions struct {
	// MaxSize is the largest encoded Record accepted, in bytes; larger input
	// is rejected before any decoding. Zero means DefaultMaxSize.
	MaxSize int
}

func (o *DecodeOptions) maxSize() int {
	if o == nil || o.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return o.MaxSize
}

// decoder holds the string fields as slices of the input until the end of
// Decode, which turns them into strings with a single allocation.
type decoder struct {
	r                 *Record
	version, to, from []byte
	topic, reason     []byte
}

// Decode parses one encoded Record from b into r, replacing r's contents (a
// reused r keeps the capacity of its session payload list). Byte fields of r
// alias b. Decode follows protobuf's rules: unknown fields and fields of an
// unexpected wire type are skipped, a repeated scalar keeps its last value,
// and a repeated member of the record_type oneof is merged.
//
// Malformed input, invalid UTF-8 in a string field, or input larger than the
// size limit gives an *usperr.Error with code 7100 (Record could not be
// parsed). Decode does not check the values; see Validate.
func Decode(b []byte, r *Record, o *DecodeOptions) error {
	if max := o.maxSize(); len(b) > max {
		return usperr.Errorf(usperr.CodeRecordNotParsed, "record of %d bytes exceeds the limit of %d bytes", len(b), max)
	}
	payloads := r.Session.Payload[:0]
	*r = Record{}
	r.Session.Payload = payloads
	d := decoder{r: r}
	if err := d.record(b); err != nil {
		*r = Record{}
		return usperr.Errorf(usperr.CodeRecordNotParsed, "record could not be parsed: %w", err)
	}
	d.strings()
	return nil
}

func (d *decoder) record(b []byte) error {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		n, err := d.recordField(num, typ, b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// recordField consumes the value of one top-level field and returns its
// length.
func (d *decoder) recordField(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	r := d.r
	switch {
	case typ == protowire.BytesType && num >= fieldVersion && num <= fieldSenderCert && num != fieldPayloadSec:
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		return n, d.recordBytes(num, v)
	case typ == protowire.VarintType && num == fieldPayloadSec:
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		r.PayloadSecurity = PayloadSecurity(int32(v))
		return n, nil
	case typ == protowire.BytesType && num >= fieldNoSession && num <= fieldUDS:
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		return n, d.body(num, v)
	}
	n := protowire.ConsumeFieldValue(num, typ, b)
	if n < 0 {
		return 0, protowire.ParseError(n)
	}
	return n, nil
}

func (d *decoder) recordBytes(num protowire.Number, v []byte) error {
	switch num {
	case fieldVersion:
		d.version = v
	case fieldToID:
		d.to = v
	case fieldFromID:
		d.from = v
	case fieldMAC:
		d.r.MACSignature = v
		return nil
	case fieldSenderCert:
		d.r.SenderCert = v
		return nil
	}
	return checkUTF8(v)
}

// body parses one member of the record_type oneof. A member different from
// the current one replaces it; the same member again is merged into it.
func (d *decoder) body(num protowire.Number, b []byte) error {
	r := d.r
	t := typeOf(num)
	if r.Type != t {
		r.Payload, r.MQTT, r.STOMP, r.Disconnect = nil, MQTTConnect{}, STOMPConnect{}, Disconnect{}
		r.Session = SessionContext{Payload: r.Session.Payload[:0]}
		d.topic, d.reason = nil, nil
		r.Type = t
	}
	return eachField(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch t {
		case TypeNoSessionContext:
			return d.noSessionField(num, typ, b)
		case TypeSessionContext:
			return d.sessionField(num, typ, b)
		case TypeMQTTConnect, TypeSTOMPConnect:
			return d.connectField(num, typ, b)
		case TypeDisconnect:
			return d.disconnectField(num, typ, b)
		}
		return skip(num, typ, b)
	})
}

func typeOf(num protowire.Number) Type {
	switch num {
	case fieldNoSession:
		return TypeNoSessionContext
	case fieldSession:
		return TypeSessionContext
	case fieldWebSocket:
		return TypeWebSocketConnect
	case fieldMQTT:
		return TypeMQTTConnect
	case fieldSTOMP:
		return TypeSTOMPConnect
	case fieldDisconnect:
		return TypeDisconnect
	}
	return TypeUDSConnect
}

func (d *decoder) noSessionField(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	if num != fieldNoSessionPl || typ != protowire.BytesType {
		return skip(num, typ, b)
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return 0, protowire.ParseError(n)
	}
	d.r.Payload = v
	return n, nil
}

func (d *decoder) sessionField(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	s := &d.r.Session
	if num == fieldSessPayload && typ == protowire.BytesType {
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		s.Payload = append(s.Payload, v)
		return n, nil
	}
	if num < fieldSessID || num > fieldSessRecSAR || typ != protowire.VarintType {
		return skip(num, typ, b)
	}
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, protowire.ParseError(n)
	}
	switch num {
	case fieldSessID:
		s.SessionID = v
	case fieldSessSeq:
		s.SequenceID = v
	case fieldSessExpected:
		s.ExpectedID = v
	case fieldSessRetrans:
		s.RetransmitID = v
	case fieldSessSAR:
		s.PayloadSAR = SARState(int32(v))
	case fieldSessRecSAR:
		s.PayloadRecSAR = SARState(int32(v))
	}
	return n, nil
}

// connectField parses MQTTConnectRecord and STOMPConnectRecord, which share
// their field numbers and types.
func (d *decoder) connectField(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	switch {
	case num == fieldConnVersion && typ == protowire.VarintType:
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		if d.r.Type == TypeMQTTConnect {
			d.r.MQTT.Version = MQTTVersion(int32(v))
		} else {
			d.r.STOMP.Version = STOMPVersion(int32(v))
		}
		return n, nil
	case num == fieldConnTopic && typ == protowire.BytesType:
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		d.topic = v
		return n, checkUTF8(v)
	}
	return skip(num, typ, b)
}

func (d *decoder) disconnectField(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	switch {
	case num == fieldDiscReason && typ == protowire.BytesType:
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		d.reason = v
		return n, checkUTF8(v)
	case num == fieldDiscCode && typ == protowire.Fixed32Type:
		v, n := protowire.ConsumeFixed32(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		d.r.Disconnect.Code = v
		return n, nil
	}
	return skip(num, typ, b)
}

// strings sets the string fields from their input slices with one
// allocation shared by all of them.
func (d *decoder) strings() {
	parts := [...][]byte{d.version, d.to, d.from, d.topic, d.reason}
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	if total == 0 {
		return
	}
	var sb strings.Builder
	sb.Grow(total)
	for _, p := range parts {
		sb.Write(p)
	}
	all := sb.String()
	var out [len(parts)]string
	for i, p := range parts {
		out[i], all = all[:len(p)], all[len(p):]
	}
	r := d.r
	r.Version, r.ToID, r.FromID = out[0], out[1], out[2]
	switch r.Type {
	case TypeMQTTConnect:
		r.MQTT.SubscribedTopic = out[3]
	case TypeSTOMPConnect:
		r.STOMP.SubscribedDestination = out[3]
	case TypeDisconnect:
		r.Disconnect.Reason = out[4]
	}
}

func eachField(b []byte, f func(protowire.Number, protowire.Type, []byte) (int, error)) error {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		n, err := f(num, typ, b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// consumeTag is protowire.ConsumeTag that, like protobuf's decoder, also
// rejects field numbers above protowire.MaxValidNumber.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, -2 // protowire's code for an invalid field number
	}
	return num, typ, n
}

func skip(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
	n := protowire.ConsumeFieldValue(num, typ, b)
	if n < 0 {
		return 0, protowire.ParseError(n)
	}
	return n, nil
}

// errInvalidUTF8 matches protobuf's rejection of non-UTF-8 proto3 strings.
type errInvalidUTF8 struct{}

func (errInvalidUTF8) Error() string { return "string field contains invalid UTF-8" }

func checkUTF8(b []byte) error {
	if !utf8.Valid(b) {
		return errInvalidUTF8{}
	}
	return nil
}
