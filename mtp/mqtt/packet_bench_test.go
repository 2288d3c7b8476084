package mqtt

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/mtp"
)

// loopReader returns the same bytes over and over.
type loopReader struct {
	b   []byte
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

// discardConn is a net.Conn that takes every write.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error) { return len(b), nil }
func (discardConn) Close() error                { return nil }

// benchPublish is a Get's PUBLISH as a Controller's broker sends it to an
// Agent (MQTT 5.0, QoS 1, Response Topic and Content Type).
func benchPublish(v5 bool) []byte {
	rec := bytes.Repeat([]byte{0x5a}, 120)
	return appendPublish(nil, v5, &publishOut{topic: "usp/agent/os::012345-final", qos: 1, id: 77,
		responseTopic: "usp/controller/agentbench", contentType: ContentType, payload: rec})
}

// BenchmarkReadPublish reads a PUBLISH as the connection's reader does:
// header, body, properties, the PUBACK queued for the writer and the
// Record handed to the Handler (here one that does nothing).
func BenchmarkReadPublish(b *testing.B) {
	for _, v5 := range []bool{true, false} {
		b.Run(map[bool]string{true: "v5", false: "v311"}[v5], func(b *testing.B) {
			p := benchPublish(v5)
			o := (&Options{Version: map[bool]Version{true: V5, false: V311}[v5]}).withDefaults()
			l := newLink(&o, slog.New(slog.DiscardHandler), discardConn{}, mtp.Peer{}, func(mtp.Inbound) {})
			s := newConn(&Client{o: o}, l)
			defer s.w.stop()
			s.r = newPacketReader(&loopReader{b: p})
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				_, flags, n, err := s.r.header()
				if err == nil {
					err = s.readPublish(s.turn.Load(), flags, n)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadPublishPaho reads the same PUBLISH with paho.golang's
// packets.ReadPacket, which the client used before (through a 4 KiB
// buffered reader).
func BenchmarkReadPublishPaho(b *testing.B) {
	p := benchPublish(true)
	r := newPacketReader(&loopReader{b: p}).r
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := packets.ReadPacket(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWritePublish writes a GetResp-sized PUBLISH as conn.publish
// does, through the packetWriter.
func BenchmarkWritePublish(b *testing.B) {
	w := newPacketWriter(discardConn{}, func(error) {})
	defer w.stop()
	rec := bytes.Repeat([]byte{0x5a}, 200)
	p := publishOut{topic: "usp/controller/agentbench", qos: 1, id: 9, responseTopic: "usp/agent/os::012345-final",
		contentType: ContentType, payload: rec}
	b.SetBytes(int64(len(appendPublish(nil, true, &p))))
	b.ReportAllocs()
	for b.Loop() {
		buf, err := w.begin()
		if err != nil {
			b.Fatal(err)
		}
		w.send(appendPublish(buf, true, &p))
	}
}

// BenchmarkWritePublishPaho writes the same PUBLISH with paho.golang's
// Publish.WriteTo into a reused buffer.
func BenchmarkWritePublishPaho(b *testing.B) {
	rec := bytes.Repeat([]byte{0x5a}, 200)
	p := &packets.Publish{Topic: "usp/controller/agentbench", QoS: 1, PacketID: 9, Payload: rec,
		Properties: &packets.Properties{ResponseTopic: "usp/agent/os::012345-final", ContentType: ContentType}}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if _, err := p.WriteTo(&buf); err != nil {
			b.Fatal(err)
		}
		_, _ = io.Discard.Write(buf.Bytes())
	}
}
