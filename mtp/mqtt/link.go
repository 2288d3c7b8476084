package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// errLink marks a publication that failed because its connection broke
// or stalled: the Record may be sent again on the next connection.
var errLink = errors.New("mqtt: connection lost")

// byeTimeout bounds the write of DISCONNECT when closing.
const byeTimeout = 250 * time.Millisecond

// session is one MQTT connection with its protocol client, MQTT 5.0 or
// 3.1.1.
type session interface {
	// link returns what both versions share.
	link() *link
	// publish sends rec to the Topic dest with our "reply to" Topic; at
	// QoS 1 and 2 it keeps a copy until the acknowledgement and does not
	// wait for it. tries counts the connections already lost under rec;
	// fromQueue exempts it from the bound on publications held back by
	// the server's Receive Maximum; retain sets RETAIN unless the server
	// said Retain Available = 0. An error wrapping errLink means the
	// connection is gone and rec was not taken.
	publish(ctx context.Context, dest string, rec []byte, tries int, fromQueue, retain bool) error
	// close says DISCONNECT [R-MQTT.35] if the connection is up, closes
	// it and waits for the reader's goroutines. It may be called more
	// than once and from any goroutine.
	close()
}

// link is the part of a connection both versions share: the network
// connection, the plan, and the hand-over of received Records to the
// Handler.
type link struct {
	o    *Options // the Client's, read only
	log  *slog.Logger
	nc   net.Conn
	peer mtp.Peer // the URL and the server's chain
	plan plan     // set once connected, before the link is shared

	handle   func(mtp.Inbound) // called by the reader for each received Record
	stop     chan struct{}     // closed when closing starts
	stopOnce sync.Once
	done     chan struct{} // closed when the connection has ended
	doneOnce sync.Once
	err      error // why it ended; written before done is closed
}

func newLink(o *Options, log *slog.Logger, nc net.Conn, peer mtp.Peer, handle func(mtp.Inbound)) *link {
	return &link{o: o, log: log, peer: peer, nc: nc, handle: handle,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// finish records why the connection ended, the first time it is called.
func (l *link) finish(err error) {
	l.doneOnce.Do(func() {
		l.err = err
		close(l.done)
	})
}

// stopping marks the start of closing: a read error from now on is ours.
func (l *link) stopping() { l.stopOnce.Do(func() { close(l.stop) }) }

// writeFailed ends the link after a failed write, unless it is closing.
func (l *link) writeFailed(err error) {
	select {
	case <-l.stop:
	default:
		l.finish(fmt.Errorf("mqtt: connection: %w", err))
	}
}

// broken ends a connection that failed under a publication and returns
// the error to give the publisher.
func (l *link) broken(err error) error {
	l.finish(fmt.Errorf("mqtt: publish: %w", err))
	l.nc.Close()
	return fmt.Errorf("%w: %w", errLink, err)
}

// lost waits for the end of the connection and returns an error wrapping
// errLink and why it ended.
func (l *link) lost() error {
	<-l.done
	if l.err == nil {
		return fmt.Errorf("%w: closed", errLink)
	}
	return fmt.Errorf("%w: %w", errLink, l.err)
}

// received is one inbound PUBLISH, whatever the MQTT version.
type received struct {
	topic         string
	responseTopic string // MQTT 5.0 Response Topic property
	contentType   []byte // MQTT 5.0 Content Type property
	payload       []byte
	// MQTT 3.1.1: the "reply to" Topic in topic, as ParseReplyTopic
	// returns it.
	replyTo string
	replyOK bool
}

// accept checks a received PUBLISH and hands its Record to the Handler,
// in the reader's goroutine. A Content Type other than a USP Record's [R-MQTT.27a] or an
// oversize payload drops it.
func (l *link) accept(r received) {
	if len(r.contentType) > 0 && string(r.contentType) != ContentType && !isUSP(string(r.contentType)) {
		l.log.Debug("mqtt: dropping non-USP message", "topic", r.topic, "content_type", string(r.contentType))
		return
	}
	if len(r.payload) > l.o.MaxRecord {
		l.log.Warn("mqtt: dropping oversize record", "topic", r.topic, "size", len(r.payload), "max", l.o.MaxRecord)
		return
	}
	in := mtp.Inbound{Record: r.payload, From: mtp.Peer{Address: l.replyAddress(r), Certs: l.peer.Certs}}
	if in.Record == nil {
		in.Record = []byte{}
	}
	l.handle(in)
}

// replyAddress is where to answer a received PUBLISH: its Response
// Topic [R-MQTT.26], else the "reply to" Topic in its Topic Name
// [R-MQTT.25], else the configured DefaultPeerTopic.
func (l *link) replyAddress(r received) string {
	if validTopicName(r.responseTopic) {
		return r.responseTopic
	}
	if r.replyOK {
		return r.replyTo
	}
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug("mqtt: message without reply-to topic", "topic", r.topic, "default", l.o.DefaultPeerTopic)
	}
	return l.o.DefaultPeerTopic
}

// isUSP reports whether a Content Type names a USP Record: "usp.msg" or
// the registered media type [R-MQTT.27a], whatever its parameters.
func isUSP(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(ct, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt == ContentType || mt == ContentTypeMedia
}
