package mqtt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The client's own codec of the MQTT 5.0 and 3.1.1 control packets it
// sends and receives. Packets are read into buffers the client reuses and
// written by appending to one buffer per write (see packetWriter).

// Control packet types (MQTT 5.0 §2.1.2, MQTT 3.1.1 §2.2.1).
const (
	typeConnect     = 1
	typeConnack     = 2
	typePublish     = 3
	typePuback      = 4
	typePubrec      = 5
	typePubrel      = 6
	typePubcomp     = 7
	typeSubscribe   = 8
	typeSuback      = 9
	typeUnsubscribe = 10
	typeUnsuback    = 11
	typePingreq     = 12
	typePingresp    = 13
	typeDisconnect  = 14
	typeAuth        = 15
)

// MQTT 5.0 property identifiers (§2.2.2.2).
const (
	propPayloadFormat       = 0x01
	propMessageExpiry       = 0x02
	propContentType         = 0x03
	propResponseTopic       = 0x08
	propCorrelationData     = 0x09
	propSubscriptionID      = 0x0b
	propSessionExpiry       = 0x11
	propAssignedClientID    = 0x12
	propServerKeepAlive     = 0x13
	propAuthMethod          = 0x15
	propAuthData            = 0x16
	propRequestProblemInfo  = 0x17
	propWillDelay           = 0x18
	propRequestResponseInfo = 0x19
	propResponseInfo        = 0x1a
	propServerReference     = 0x1c
	propReasonString        = 0x1f
	propReceiveMaximum      = 0x21
	propTopicAliasMaximum   = 0x22
	propTopicAlias          = 0x23
	propMaximumQoS          = 0x24
	propRetainAvailable     = 0x25
	propUserProperty        = 0x26
	propMaximumPacketSize   = 0x27
	propWildcardAvailable   = 0x28
	propSubIDAvailable      = 0x29
	propSharedAvailable     = 0x2a
)

// maxRemaining is the largest Remaining Length MQTT can encode.
const maxRemaining = 268435455

// errMalformed marks a packet that does not follow the MQTT encoding.
var errMalformed = errors.New("mqtt: malformed packet")

// packetReader reads control packets through a buffer. It is used by one
// goroutine at a time.
type packetReader struct {
	r   *bufio.Reader
	buf []byte // body of the last packet read by body
}

// readBufSize is the size of a packetReader's read buffer: a small packet
// costs one system call, and several arriving together one for all.
const readBufSize = 8 << 10

// keepBuf is the largest packet buffer kept for the next packet; a larger
// one (a large Record) is let go once used.
const keepBuf = 64 << 10

func newPacketReader(r io.Reader) *packetReader {
	return &packetReader{r: bufio.NewReaderSize(r, readBufSize)}
}

// header reads a fixed header: the packet type, its flags and the
// Remaining Length.
func (pr *packetReader) header() (typ, flags byte, n int, err error) {
	b, err := pr.r.ReadByte()
	if err != nil {
		return 0, 0, 0, err
	}
	for i := range 4 {
		c, err := pr.r.ReadByte()
		if err != nil {
			return 0, 0, 0, noEOF(err)
		}
		n |= int(c&0x7f) << (7 * i)
		if c < 0x80 {
			return b >> 4, b & 0x0f, n, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("%w: Remaining Length of more than 4 bytes", errMalformed)
}

// body reads n bytes of packet body into the reader's own buffer, valid
// until the next call.
func (pr *packetReader) body(n int) ([]byte, error) {
	if cap(pr.buf) < n {
		pr.buf = make([]byte, n)
	}
	b := pr.buf[:n]
	if _, err := io.ReadFull(pr.r, b); err != nil {
		return nil, noEOF(err)
	}
	if cap(pr.buf) > keepBuf {
		pr.buf = nil
	}
	return b, nil
}

// into reads n bytes of packet body into b, grown if needed.
func (pr *packetReader) into(b []byte, n int) ([]byte, error) {
	if cap(b) < n {
		b = make([]byte, n)
	}
	b = b[:n]
	if _, err := io.ReadFull(pr.r, b); err != nil {
		return b, noEOF(err)
	}
	return b, nil
}

// buffered returns how many bytes were read from the connection and not
// yet consumed.
func (pr *packetReader) buffered() int { return pr.r.Buffered() }

// skip discards n bytes of packet body.
func (pr *packetReader) skip(n int) error {
	_, err := pr.r.Discard(n)
	return noEOF(err)
}

// noEOF turns an end of stream inside a packet into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// dec reads the fields of a packet body. A read past the end sets bad and
// returns zero values.
type dec struct {
	b   []byte
	bad bool
}

func (d *dec) u8() byte {
	if len(d.b) < 1 {
		d.bad = true
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) u16() uint16 {
	if len(d.b) < 2 {
		d.bad = true
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *dec) u32() uint32 {
	if len(d.b) < 4 {
		d.bad = true
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

// varint reads a Variable Byte Integer.
func (d *dec) varint() int {
	n := 0
	for i := range 4 {
		c := d.u8()
		if d.bad {
			return 0
		}
		n |= int(c&0x7f) << (7 * i)
		if c < 0x80 {
			return n
		}
	}
	d.bad = true
	return 0
}

// bytes reads a length-prefixed string or binary field, without copying.
func (d *dec) bytes() []byte {
	n := int(d.u16())
	if d.bad || len(d.b) < n {
		d.bad = true
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// take reads n bytes.
func (d *dec) take(n int) []byte {
	if n < 0 || len(d.b) < n {
		d.bad = true
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// prop is one MQTT 5.0 property: integer properties in n, string and
// binary ones in s, User Properties in s (key) and s2 (value).
type prop struct {
	id    byte
	n     uint32
	s, s2 []byte
}

// props returns a dec over the property block at the start of d, which
// it skips.
func (d *dec) props() dec {
	n := d.varint()
	return dec{b: d.take(n), bad: d.bad}
}

// next reads the next property; ok is false at the end or on a malformed
// block (d.bad tells which).
func (d *dec) next() (p prop, ok bool) {
	if len(d.b) == 0 || d.bad {
		return p, false
	}
	p.id = d.u8()
	switch p.id {
	case propPayloadFormat, propRequestProblemInfo, propRequestResponseInfo, propMaximumQoS,
		propRetainAvailable, propWildcardAvailable, propSubIDAvailable, propSharedAvailable:
		p.n = uint32(d.u8())
	case propServerKeepAlive, propReceiveMaximum, propTopicAliasMaximum, propTopicAlias:
		p.n = uint32(d.u16())
	case propMessageExpiry, propSessionExpiry, propWillDelay, propMaximumPacketSize:
		p.n = d.u32()
	case propSubscriptionID:
		p.n = uint32(d.varint())
	case propContentType, propResponseTopic, propCorrelationData, propAssignedClientID, propAuthMethod,
		propAuthData, propResponseInfo, propServerReference, propReasonString:
		p.s = d.bytes()
	case propUserProperty:
		p.s, p.s2 = d.bytes(), d.bytes()
	default:
		d.bad = true
	}
	return p, !d.bad
}

// publishIn is a received PUBLISH. Its byte slices point into the packet
// body.
type publishIn struct {
	qos           byte
	dup, retain   bool
	id            uint16
	topic         []byte
	responseTopic []byte
	contentType   []byte
	payload       []byte
}

// parsePublish decodes the body of a PUBLISH with fixed-header flags.
func parsePublish(v5 bool, flags byte, body []byte) (publishIn, error) {
	p := publishIn{qos: flags >> 1 & 3, dup: flags&8 != 0, retain: flags&1 != 0}
	if p.qos == 3 {
		return p, fmt.Errorf("%w: PUBLISH with QoS 3", errMalformed)
	}
	d := dec{b: body}
	p.topic = d.bytes()
	if p.qos > 0 {
		p.id = d.u16()
		if p.id == 0 && !d.bad {
			return p, fmt.Errorf("%w: PUBLISH with packet identifier 0", errMalformed)
		}
	}
	if v5 {
		ps := d.props()
		for {
			pr, ok := ps.next()
			if !ok {
				break
			}
			switch pr.id {
			case propResponseTopic:
				p.responseTopic = pr.s
			case propContentType:
				p.contentType = pr.s
			}
		}
		d.bad = d.bad || ps.bad
	}
	if d.bad {
		return p, fmt.Errorf("%w: PUBLISH", errMalformed)
	}
	p.payload = d.b
	return p, nil
}

// publishHead is the most of a PUBLISH body parsePublishHead needs to
// read the Topic Name and the packet identifier.
const publishHead = 2 + maxTopicLen + 2

// parsePublishHead decodes the Topic Name and the packet identifier at
// the start of a PUBLISH body, for a PUBLISH the client drops unread.
func parsePublishHead(flags byte, head []byte) (topic []byte, id uint16, err error) {
	d := dec{b: head}
	topic = d.bytes()
	if flags>>1&3 > 0 {
		id = d.u16()
	}
	if d.bad {
		return nil, 0, fmt.Errorf("%w: PUBLISH", errMalformed)
	}
	return topic, id, nil
}

// ackIn is a received PUBACK, PUBREC, PUBREL, PUBCOMP or SUBACK.
type ackIn struct {
	id     uint16
	reason byte   // MQTT 5.0 reason code; 0 on MQTT 3.1.1
	codes  []byte // SUBACK reason or return codes, in the packet body
}

// parseAck decodes a PUBACK, PUBREC, PUBREL or PUBCOMP body: a packet
// identifier, then on MQTT 5.0 an optional reason code and properties.
func parseAck(v5 bool, body []byte) (ackIn, error) {
	d := dec{b: body}
	a := ackIn{id: d.u16()}
	if v5 && len(d.b) > 0 {
		a.reason = d.u8()
		if len(d.b) > 0 {
			d.props()
		}
	}
	if d.bad || a.id == 0 {
		return a, fmt.Errorf("%w: acknowledgement", errMalformed)
	}
	return a, nil
}

// parseSuback decodes a SUBACK body.
func parseSuback(v5 bool, body []byte) (ackIn, error) {
	d := dec{b: body}
	a := ackIn{id: d.u16()}
	if v5 {
		d.props()
	}
	a.codes = d.b
	if d.bad || a.id == 0 || len(a.codes) == 0 {
		return a, fmt.Errorf("%w: SUBACK", errMalformed)
	}
	return a, nil
}

// connackIn is a received CONNACK.
type connackIn struct {
	sessionPresent bool
	code           byte // MQTT 5.0 reason code, MQTT 3.1.1 return code
	grant          grant
	receiveMax     uint16 // 0: none given
	keepAlive      int    // Server Keep Alive in seconds; -1: none given
	reasonString   string
	maxQoS         byte // MQTT 5.0 Maximum QoS; 2 when none given
	noRetain       bool // MQTT 5.0 Retain Available = 0
}

// parseConnack decodes a CONNACK body.
func parseConnack(v5 bool, body []byte) (connackIn, error) {
	d := dec{b: body}
	c := connackIn{keepAlive: -1, maxQoS: 2}
	flags := d.u8()
	c.sessionPresent = flags&1 != 0
	c.code = d.u8()
	if v5 && len(d.b) > 0 {
		ps := d.props()
		for {
			p, ok := ps.next()
			if !ok {
				break
			}
			switch p.id {
			case propAssignedClientID:
				c.grant.assignedID = string(p.s)
			case propResponseInfo:
				c.grant.responseInfo = string(p.s)
			case propUserProperty:
				if string(p.s) == userSubscribeTopic {
					c.grant.subscribeTopics = append(c.grant.subscribeTopics, string(p.s2))
				}
			case propMaximumPacketSize:
				c.grant.maxPacket = p.n
			case propReceiveMaximum:
				c.receiveMax = uint16(p.n)
			case propServerKeepAlive:
				c.keepAlive = int(p.n)
			case propReasonString:
				c.reasonString = string(p.s)
			case propMaximumQoS:
				c.maxQoS = byte(min(p.n, 2))
			case propRetainAvailable:
				c.noRetain = p.n == 0
			}
		}
		d.bad = d.bad || ps.bad
	}
	if d.bad || flags&^1 != 0 {
		return c, fmt.Errorf("%w: CONNACK", errMalformed)
	}
	return c, nil
}

// disconnectIn is a DISCONNECT received from an MQTT 5.0 server.
type disconnectIn struct {
	reason       byte
	reasonString string
}

func parseDisconnect(body []byte) (disconnectIn, error) {
	d := dec{b: body}
	var v disconnectIn
	if len(d.b) > 0 {
		v.reason = d.u8()
	}
	if len(d.b) > 0 {
		ps := d.props()
		for {
			p, ok := ps.next()
			if !ok {
				break
			}
			if p.id == propReasonString {
				v.reasonString = string(p.s)
			}
		}
		d.bad = d.bad || ps.bad
	}
	if d.bad {
		return v, fmt.Errorf("%w: DISCONNECT", errMalformed)
	}
	return v, nil
}

// appendVarint appends n as a Variable Byte Integer.
func appendVarint(b []byte, n int) []byte {
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

// appendString appends a length-prefixed UTF-8 string.
func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// appendBinary appends length-prefixed binary data.
func appendBinary(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// stringProp is the size of a string property of length n.
func stringProp(n int) int { return 1 + 2 + n }

// publishOut is a PUBLISH to send.
type publishOut struct {
	topic         string
	qos           byte
	id            uint16
	dup           bool   // a retransmission [MQTT-4.4.0-1]
	retain        bool   // the RETAIN flag (mtp.WithRetain, Message.Retain)
	responseTopic string // MQTT 5.0 only; empty: none
	contentType   string // MQTT 5.0 only; empty: none
	payload       []byte
}

// appendPublish appends a PUBLISH packet.
func appendPublish(b []byte, v5 bool, p *publishOut) []byte {
	props := 0
	if v5 {
		if p.responseTopic != "" {
			props += stringProp(len(p.responseTopic))
		}
		if p.contentType != "" {
			props += stringProp(len(p.contentType))
		}
	}
	rem := 2 + len(p.topic) + len(p.payload)
	if p.qos > 0 {
		rem += 2
	}
	if v5 {
		rem += varintLen(props) + props
	}
	var dup byte
	if p.dup {
		dup = 8
	}
	if p.retain {
		dup |= 1
	}
	b = append(b, typePublish<<4|dup|p.qos<<1)
	b = appendVarint(b, rem)
	b = appendString(b, p.topic)
	if p.qos > 0 {
		b = binary.BigEndian.AppendUint16(b, p.id)
	}
	if v5 {
		b = appendVarint(b, props)
		if p.responseTopic != "" {
			b = append(b, propResponseTopic)
			b = appendString(b, p.responseTopic)
		}
		if p.contentType != "" {
			b = append(b, propContentType)
			b = appendString(b, p.contentType)
		}
	}
	return append(b, p.payload...)
}

// appendAck appends a PUBACK, PUBREC, PUBREL or PUBCOMP with reason
// code 0 (Success), which MQTT 5.0 lets a packet leave out.
func appendAck(b []byte, typ byte, id uint16) []byte {
	var flags byte
	if typ == typePubrel {
		flags = 2
	}
	return append(b, typ<<4|flags, 2, byte(id>>8), byte(id))
}

// appendSubscribe appends a SUBSCRIBE of filters, each at the level
// qos gives it.
func appendSubscribe(b []byte, v5 bool, id uint16, filters []string, qos func(filter string) byte) []byte {
	rem := 2
	if v5 {
		rem++ // no properties
	}
	for _, f := range filters {
		rem += 2 + len(f) + 1
	}
	b = append(b, typeSubscribe<<4|2)
	b = appendVarint(b, rem)
	b = binary.BigEndian.AppendUint16(b, id)
	if v5 {
		b = append(b, 0)
	}
	for _, f := range filters {
		b = appendString(b, f)
		b = append(b, qos(f))
	}
	return b
}

// appendPingreq appends a PINGREQ.
func appendPingreq(b []byte) []byte { return append(b, typePingreq<<4, 0) }

// appendDisconnect appends a DISCONNECT; on MQTT 5.0 with reason code
// reason (written even when 0, Normal disconnection, which MQTT 5.0 lets
// a packet leave out: some servers' parsers want it).
func appendDisconnect(b []byte, v5 bool, reason byte) []byte {
	if v5 {
		return append(b, typeDisconnect<<4, 1, reason)
	}
	return append(b, typeDisconnect<<4, 0)
}

// connectOut is a CONNECT to send.
type connectOut struct {
	clientID           string
	cleanStart         bool
	keepAlive          uint16
	username, password string
	// MQTT 5.0 only: zero leaves a property out.
	sessionExpiry uint32
	receiveMax    uint16
	maxPacket     uint32
	endpointID    string // the "usp-endpoint-id" User Property [R-MQTT.13]
	// The Will, if willTopic is not empty; sent at QoS 1, not retained.
	willTopic   string
	willPayload []byte
}

// appendConnect appends a CONNECT. On MQTT 5.0 it asks for Response
// Information [R-MQTT.12].
func appendConnect(b []byte, v5 bool, c *connectOut) []byte {
	var body []byte
	body = appendString(body, "MQTT")
	if v5 {
		body = append(body, 5)
	} else {
		body = append(body, 4)
	}
	var flags byte
	if c.cleanStart {
		flags |= 0x02
	}
	if c.willTopic != "" {
		flags |= 0x04 | 1<<3 // Will at QoS 1, not retained
	}
	user := c.username != ""
	pass := c.password != "" && (v5 || user) // 3.1.1: no password without a user name
	if user {
		flags |= 0x80
	}
	if pass {
		flags |= 0x40
	}
	body = append(body, flags)
	body = binary.BigEndian.AppendUint16(body, c.keepAlive)
	if v5 {
		var props []byte
		if c.sessionExpiry > 0 {
			props = binary.BigEndian.AppendUint32(append(props, propSessionExpiry), c.sessionExpiry)
		}
		if c.receiveMax > 0 {
			props = binary.BigEndian.AppendUint16(append(props, propReceiveMaximum), c.receiveMax)
		}
		if c.maxPacket > 0 {
			props = binary.BigEndian.AppendUint32(append(props, propMaximumPacketSize), c.maxPacket)
		}
		props = append(props, propRequestResponseInfo, 1) // [R-MQTT.12]
		if c.endpointID != "" {
			props = append(props, propUserProperty)
			props = appendString(props, userEndpointID)
			props = appendString(props, c.endpointID) // [R-MQTT.13]
		}
		body = appendVarint(body, len(props))
		body = append(body, props...)
	}
	body = appendString(body, c.clientID)
	if c.willTopic != "" {
		if v5 {
			body = append(body, 0) // no Will properties
		}
		body = appendString(body, c.willTopic)
		body = appendBinary(body, c.willPayload)
	}
	if user {
		body = appendString(body, c.username)
	}
	if pass {
		body = appendString(body, c.password)
	}
	b = append(b, typeConnect<<4)
	b = appendVarint(b, len(body))
	return append(b, body...)
}
