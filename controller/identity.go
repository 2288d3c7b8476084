package controller

import (
	"errors"
	"fmt"
	"strings"

	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/mtp"
)

// Identity is an MTP's policy for binding a Record's from_id to the peer
// that sent it.
type Identity uint8

const (
	// IdentityVerified processes a Record only when its from_id is bound to
	// its sender: over WebSocket, a client certificate that names it
	// [R-SEC.0a] or a credential the MTP checked (mtp.Peer.Authenticated);
	// over MQTT and STOMP, a reply-to inside the Agent's own topic
	// (MTP.AgentTopic), or else the broker's login; over UDS, the local
	// socket's handshake.
	IdentityVerified Identity = iota
	// IdentityClaimed also accepts an Endpoint ID that is only claimed, as
	// a lab without credentials may need. Such a contact never replaces,
	// and never reaches, an Agent whose identity was once verified.
	IdentityClaimed
)

// ParseIdentity parses "verified" (or "") and "claimed".
func ParseIdentity(s string) (Identity, error) {
	switch s {
	case "", "verified":
		return IdentityVerified, nil
	case "claimed":
		return IdentityClaimed, nil
	}
	return 0, fmt.Errorf("controller: identity %q: want verified or claimed", s)
}

func (i Identity) String() string {
	if i == IdentityClaimed {
		return "claimed"
	}
	return "verified"
}

// trust is how firmly a contact is bound to the Endpoint ID it names.
type trust uint8

const (
	// trustClaimed: the peer says so and nothing checked it.
	trustClaimed trust = iota + 1
	// trustLogin: a broker authenticated the publisher, but no topic binds
	// the login to this Endpoint ID.
	trustLogin
	// trustVerified: a certificate, a checked credential, the Agent's own
	// topic or a local socket binds the Endpoint ID to the peer.
	trustVerified
)

func (t trust) String() string {
	switch t {
	case trustVerified:
		return "verified"
	case trustLogin:
		return "broker login"
	}
	return "claimed"
}

// ErrIdentity is wrapped by the errors that refuse a Record whose from_id
// is not bound to its sender.
var ErrIdentity = errors.New("controller: from_id not bound to the sender")

// trustOf decides whether a Record from p claiming Endpoint ID from may be
// processed on MTP m, and how firmly from is bound to p.
func trustOf(m *MTP, p mtp.Peer, from string) (trust, error) {
	brokered := m.Protocol == "MQTT" || m.Protocol == "STOMP"
	// A brokered MTP's certificates are the broker's, not the Agent's.
	if len(p.Certs) > 0 && !brokered {
		leaf := p.Certs[0]
		if endpoint.InCertificate(leaf, from) {
			return trustVerified, nil
		}
		if ids := endpoint.FromCertificate(leaf); len(ids) > 0 {
			return 0, fmt.Errorf("%w: the certificate names %s, the Record %s [R-SEC.0a]", ErrIdentity, strings.Join(ids, ", "), from)
		}
	}
	if p.EndpointID != "" && p.EndpointID != from {
		return 0, fmt.Errorf("%w: the connection is %s's, the Record claims %s", ErrIdentity, p.EndpointID, from)
	}
	t := trustClaimed
	switch {
	case p.Authenticated && p.EndpointID == from:
		t = trustVerified
	case m.Protocol == "UDS" && p.EndpointID == from:
		t = trustVerified
	case brokered && m.AgentTopic != "":
		if !inTopic(p.Address, strings.ReplaceAll(m.AgentTopic, "{eid}", from)) {
			return 0, fmt.Errorf("%w: reply-to %q is not %s's topic %q", ErrIdentity, p.Address, from, m.AgentTopic)
		}
		t = trustVerified
	case brokered:
		t = trustLogin
	}
	if t == trustClaimed && m.Identity != IdentityClaimed {
		return 0, fmt.Errorf("%w: %s is not authenticated (no certificate or credential names it)", ErrIdentity, from)
	}
	return t, nil
}

// inTopic reports whether topic is own or below it.
func inTopic(topic, own string) bool {
	own = strings.TrimSuffix(own, "/")
	return topic == own || strings.HasPrefix(topic, own+"/")
}
