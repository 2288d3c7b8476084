// Package broker is uspkit's embedded MQTT broker: github.com/mochi-mqtt/server
// (MQTT 5 [R-MQTT.39] and 3.1.1 [R-MQTT.40], QoS 0–2 [R-MQTT.46]) behind
// a small API, with the authentication and topic ACLs a USP deployment
// needs (TR-369 "MQTT Server Requirements").
//
// It owns: the listeners (TCP [R-MQTT.41] with optional TLS or mutual
// TLS, and optional MQTT over WebSocket), authentication by user name and
// password (compared in constant time), by verified client certificate
// (the Endpoint ID of its urn:bbf:usp:id: URI SAN, else its Common Name)
// or by a caller's AuthFunc [R-MQTT.42], [R-MQTT.43]; and a topic ACL.
// Anonymous clients are refused unless Options.AllowAnonymous.
//
// With Options.USPPolicy an Agent may subscribe only within its own topic
// (Options.AgentTopicPattern, "usp/agent/{user}/#" by default) and publish
// only to Controller topics ("usp/controller/#"); a Controller account
// subscribes within its own Controller topic and may publish to Agent
// topics too. Denials are logged. A successful MQTT 5 CONNACK carries one
// "subscribe-topic" user property per filter the client may subscribe to
// [R-MQTT.44] and, when the client requested it, its own topic as
// Response Information [R-MQTT.12], [R-MQTT.21]; so an Agent with no
// configured topic learns where to listen [R-MQTT.15], [R-MQTT.16].
// Options.ReportTopicPattern ("usp/bulkdata/{user}/#", say) adds a topic
// where each Agent publishes data that is not USP Records, such as Bulk
// Data reports, under its own name only, and which Controllers may
// subscribe to.
//
//	b, err := broker.New(&broker.Options{
//		Addr:      "127.0.0.1:0",
//		TLS:       serverTLS, // ClientAuth: tls.RequireAndVerifyClientCert
//		Users:     map[string]string{"controller": secret},
//		Controllers: []string{"controller"},
//		USPPolicy: true,
//	})
//	if err := b.Start(ctx); err != nil { ... }
//	defer b.Close()
//	addr := b.Addrs().TCP
//
// Agent accounts (Options.Accounts, see Accounts) are named by the
// Agent's Endpoint ID, so its own topic is usp/agent/<EndpointID>; they
// hold a generated password, kept as a salted PBKDF2 hash in a 0600 file,
// and the client certificates registered with them. Revoking or
// replacing a credential cuts the connections that logged in with it.
//
// Under USPPolicy an Agent's PUBLISH to a Controller topic must carry a
// "reply to" Topic [R-MQTT.22] inside its own topic, as the Response
// Topic [R-MQTT.23] or after "/reply-to=" in the Topic Name [R-MQTT.24];
// otherwise it is refused. So the account, the Agent's topic and the
// reply-to a Controller answers to form one chain, which a Controller
// can check against the Record's from_id.
//
// Resource limits, each with a default (see Options): connected clients
// (MaxClients) and connections before CONNECT (MaxPending); retained
// messages (none on USP topics under USPPolicy; MaxRetained and
// MaxRetainedBytes elsewhere); the QoS 1 and 2 messages held per session
// (SessionQueue, SessionQueueBytes) and unacknowledged inbound
// (ReceiveMaximum); how long an offline session is kept
// (MaxSessionExpiry); failed logins and TLS handshakes per source
// address (LoginFailures in LoginFailureWindow, after which the
// address's connections are closed at accept); a client that stops
// reading (WriteTimeout). Refused logins, ACL denials and limits are logged once per
// LogInterval plus a summary line; Broker.Stats counts them.
//
// A client whose session ends with its connection (Clean Session in
// 3.1.1, Session Expiry Interval 0 in MQTT 5: every uspkit endpoint by
// default) is granted QoS 0 for its subscriptions, whatever it asks: a
// QoS 1 PUBLISH still unacknowledged when such a connection drops is
// discarded with the session, so QoS 1 would deliver nothing more, and
// keeping these deliveries out of mochi-mqtt's in-flight table avoids its
// v2.7.9 deadlock under load. Clients that keep a session, and every
// client with Options.KeepQoS, get the QoS they ask for.
//
// The broker never looks inside messages: it moves USP Records as opaque
// MQTT payloads and imports no other uspkit package.
package broker
