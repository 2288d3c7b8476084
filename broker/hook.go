package broker

import (
	"context"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// subscribeTopicProperty names the CONNACK user property that tells an
// MQTT 5 client a Topic Filter to subscribe to [R-MQTT.15], [R-MQTT.44].
const subscribeTopicProperty = "subscribe-topic"

// hook plugs authentication, ACLs and the USP CONNACK properties into
// mochi. mochi calls it from each client's goroutine.
type hook struct {
	mqtt.HookBase
	b *Broker
}

func (h *hook) ID() string { return "uspkit-broker" }

// Provides is asked for every event of every packet, so it is a switch.
func (h *hook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish, mqtt.OnPacketEncode, mqtt.OnSubscribe,
		mqtt.OnQosPublish, mqtt.OnWill:
		return true
	}
	return false
}

// OnConnect authenticates the client and works out its rights
// [R-MQTT.42]; on refusal it sends the CONNACK itself, with a reason that
// tells "who are you" (bad user name or password) from "you may not"
// (not authorized).
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	c, ok := cl.Net.Conn.(*conn)
	if !ok {
		return packets.ErrNotAuthorized
	}
	cfg := h.b.cfg
	cr := creds{clientID: cl.ID, username: string(pk.Connect.Username), password: pk.Connect.Password,
		hasPass: pk.Connect.PasswordFlag, certs: c.certs}
	log := h.b.log.With("client", cl.ID, "user", cr.username, "remote", cl.Net.Remote, "listener", cl.Net.Listener)
	ctx, cancel := context.WithTimeout(h.b.ctx, cfg.ConnectTimeout)
	acct, cred, err := cfg.authenticate(ctx, cr)
	cancel()
	if err != nil {
		h.b.loginFailed(log, cl.Net.Remote, err)
		return h.refuse(cl, packets.ErrBadUsernameOrPassword)
	}
	if acct.Name == "" && cfg.USPPolicy && cfg.Authenticate == nil {
		// An anonymous client (AllowAnonymous) is named by its ClientId,
		// which must not be a known account's name.
		if cfg.knownName(cl.ID) {
			if h.b.sum.refused.event(cl.Net.Remote) {
				log.Warn("connect refused: anonymous client uses an account's name as ClientId")
			}
			return h.refuse(cl, packets.ErrNotAuthorized)
		}
		acct.Name = cl.ID
	}
	s, err := cfg.newSession(acct, cl.ID)
	if err != nil {
		if h.b.sum.refused.event(cl.Net.Remote) {
			log.Warn("connect refused", "account", acct.Name, "reason", err)
		}
		return h.refuse(cl, packets.ErrNotAuthorized)
	}
	s.cred = cred
	if pk.Connect.WillFlag && (!s.mayPublish(pk.Connect.WillTopic) || !s.replyBound(pk.Connect.WillTopic, pk.Connect.WillProperties.ResponseTopic)) {
		if h.b.sum.denied.event(cl.Net.Remote) {
			log.Warn("connect refused: ACL denies the Will topic or its reply-to", "account", s.name, "topic", pk.Connect.WillTopic)
		}
		return h.refuse(cl, packets.ErrNotAuthorized)
	}
	// mochi hands an existing session, subscriptions included, to a new
	// connection with the same ClientId; only the same account may take it.
	if old, ok := h.b.srv.Clients.Get(cl.ID); ok {
		if prev := sessionOf(old.Net.Conn); prev == nil || prev.name != s.name {
			if h.b.sum.refused.event(cl.Net.Remote) {
				log.Warn("connect refused: client id in use by another account", "account", s.name)
			}
			return h.refuse(cl, packets.ErrNotAuthorized)
		}
	}
	c.sess.Store(s)
	// A revocation between the password check and now found no session
	// to cut (Broker.recheck looks at stored sessions): check again.
	if s.cred != "" && !cfg.Accounts.valid(s.name, s.cred) {
		c.sess.Store(nil)
		log.Warn("connect refused: credential revoked during login", "account", s.name)
		return h.refuse(cl, packets.ErrBadUsernameOrPassword)
	}
	log.Debug("client authenticated", "account", s.name, "controller", s.controller)
	return nil
}

// refuse sends a failure CONNACK and returns the code as the error that
// ends the connection. MQTT 3.1.1 has only "not authorized" (5) for both.
func (h *hook) refuse(cl *mqtt.Client, code packets.Code) error {
	send := code
	if cl.Properties.ProtocolVersion < 5 {
		send = packets.ErrBadUsernameOrPassword // mochi maps it to the 3.1.1 code 5
	}
	_ = h.b.srv.SendConnack(cl, send, false, nil)
	return code
}

// OnConnectAuthenticate admits the clients OnConnect accepted.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	return sessionOf(cl.Net.Conn) != nil
}

// OnACLCheck enforces the topic ACL on SUBSCRIBE filters and PUBLISH
// topics [R-MQTT.42]. An empty PUBLISH topic is an MQTT 5 topic alias,
// which mochi resolves only later: OnPublish checks it then.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	s := sessionOf(cl.Net.Conn)
	var ok bool
	switch {
	case s == nil:
	case write && topic == "":
		return true
	case write:
		ok = s.mayPublish(topic)
	default:
		ok = s.maySubscribe(topic)
	}
	if !ok {
		h.deny(cl, s, topic, write)
	}
	return ok
}

// deny counts and logs (rate-limited) a refused SUBSCRIBE or PUBLISH.
func (h *hook) deny(cl *mqtt.Client, s *session, topic string, write bool) {
	h.denyWhy(cl, s, topic, write, "ACL denied")
}

func (h *hook) denyWhy(cl *mqtt.Client, s *session, topic string, write bool, msg string) {
	atomic.AddInt64(&h.b.stats.denied, 1)
	if !h.b.sum.denied.event(cl.Net.Remote) {
		return
	}
	action, name := "subscribe", ""
	if write {
		action = "publish"
	}
	if s != nil {
		name = s.name
	}
	h.b.log.Warn(msg, "action", action, "topic", topic, "client", cl.ID, "account", name, "remote", cl.Net.Remote)
}

// OnSubscribe grants QoS 0 to the subscriptions of a client whose session
// ends with its connection (MQTT 3.1.1 Clean Session, MQTT 5 Session
// Expiry Interval 0). For such a client QoS 1 adds nothing to what TCP
// gives: a PUBLISH not acknowledged when the connection drops is discarded
// with the session, never sent again. Granting QoS 0 keeps those
// deliveries out of mochi-mqtt's in-flight table, whose v2.7.9 locking can
// deadlock a client's connection under load (a read lock taken twice in
// Inflight.NextImmediate with a writer waiting between) and whose packet
// identifiers can clash with the client's own. Clients that keep their
// session get the QoS they ask for, up to 2 [R-MQTT.46].
func (h *hook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if h.b.cfg.KeepQoS || !sessionEndsWithConnection(cl) {
		return pk
	}
	filters := make(packets.Subscriptions, len(pk.Filters))
	copy(filters, pk.Filters)
	for i := range filters {
		filters[i].Qos = 0
	}
	pk.Filters = filters
	return pk
}

// sessionEndsWithConnection reports whether the server discards cl's
// session when its connection closes.
func sessionEndsWithConnection(cl *mqtt.Client) bool {
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval == 0
	}
	return cl.Properties.Clean
}

// OnPublish checks the topic of a PUBLISH that used a topic alias, once
// mochi has resolved it; the reply-to binding of an Agent's PUBLISH to a
// Controller topic; and whether a retained PUBLISH may be stored.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	s := sessionOf(cl.Net.Conn)
	if (pk.Properties.TopicAliasFlag || pk.TopicName == "") && (s == nil || !s.mayPublish(pk.TopicName)) {
		h.deny(cl, s, pk.TopicName, true)
		return pk, h.refusePublish(cl, pk)
	}
	if s != nil && !s.replyBound(pk.TopicName, pk.Properties.ResponseTopic) {
		h.denyWhy(cl, s, pk.TopicName, true, "PUBLISH refused: an Agent's reply-to must lie in its own topic")
		return pk, h.refusePublish(cl, pk)
	}
	if pk.FixedHeader.Retain {
		if ok, why := h.b.retainAllowed(&pk); !ok {
			pk.FixedHeader.Retain = false
			atomic.AddInt64(&h.b.stats.retainDropped, 1)
			if h.b.sum.limited.event(cl.Net.Remote) {
				h.b.log.Info("retained message delivered but not stored", "topic", pk.TopicName, "client", cl.ID, "reason", why)
			}
		}
	}
	return pk, nil
}

// refusePublish is OnPublish's error for a refused PUBLISH: an MQTT 5
// QoS 1 or 2 PUBLISH gets PUBACK/PUBREC 0x87; an MQTT 3.1.1 one, which
// has no way to say no, ends the connection (as mochi does for its own
// ACL refusals); a QoS 0 one is dropped.
func (h *hook) refusePublish(cl *mqtt.Client, pk packets.Packet) error {
	switch {
	case pk.FixedHeader.Qos > 0 && cl.Properties.ProtocolVersion == 5:
		return packets.ErrNotAuthorized
	case pk.FixedHeader.Qos > 0:
		cl.Stop(packets.ErrNotAuthorized)
	}
	return packets.ErrRejectPacket
}

// OnWill applies the retained-message limits to a Will.
func (h *hook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	if will.Retain {
		pk := packets.Packet{TopicName: will.TopicName, Payload: will.Payload}
		if ok, _ := h.b.retainAllowed(&pk); !ok {
			will.Retain = false
			atomic.AddInt64(&h.b.stats.retainDropped, 1)
		}
	}
	return will, nil
}

// OnQosPublish keeps the client's queue of QoS 1 and 2 messages within
// SessionQueueBytes. It is called for each such message queued for a
// client, so the check is skipped while the queue cannot be over.
func (h *hook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, _ int) {
	if pk.FixedHeader.Type != packets.Publish {
		return
	}
	if int64(cl.State.Inflight.Len())*int64(h.b.cfg.MaxPacketSize) <= h.b.cfg.SessionQueueBytes {
		return
	}
	h.b.trimQueue(cl)
}

// OnPacketEncode adds to a successful MQTT 5 CONNACK the broker's Maximum
// Packet Size, one "subscribe-topic" user property per filter the client
// may subscribe to [R-MQTT.44], and, if the client asked for it, its own
// topic as Response Information [R-MQTT.12].
func (h *hook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type != packets.Connack || pk.ReasonCode != packets.CodeSuccess.Code || pk.ProtocolVersion != 5 {
		return pk
	}
	pk.Properties.MaximumPacketSize = h.b.cfg.MaxPacketSize
	// Request Problem Information 0 forbids user properties on packets
	// other than PUBLISH, CONNACK and DISCONNECT [MQTT-3.1.2-29]; mochi
	// drops them from CONNACK too, and paho sends 0 by default.
	pk.Mods.DisallowProblemInfo = false
	s := sessionOf(cl.Net.Conn)
	if s == nil {
		return pk
	}
	user := make([]packets.UserProperty, 0, len(pk.Properties.User)+len(s.subscribe))
	user = append(user, pk.Properties.User...)
	for _, f := range s.subscribe {
		user = append(user, packets.UserProperty{Key: subscribeTopicProperty, Val: f})
	}
	pk.Properties.User = user
	if s.reply != "" && pk.Properties.ResponseInfo == "" {
		pk.Properties.ResponseInfo = s.reply
	}
	return pk
}
