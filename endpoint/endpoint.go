package endpoint

import (
	"fmt"
	"strings"
)

// Scheme is an authority-scheme.
type Scheme string

// The authority schemes of TR-369 1.3.
const (
	SchemeOUI   Scheme = "oui"
	SchemeCID   Scheme = "cid"
	SchemePEN   Scheme = "pen"
	SchemeSelf  Scheme = "self"
	SchemeUser  Scheme = "user"
	SchemeOS    Scheme = "os"
	SchemeOPS   Scheme = "ops"
	SchemeUUID  Scheme = "uuid"
	SchemeIMEI  Scheme = "imei"
	SchemeProto Scheme = "proto"
	SchemeDoc   Scheme = "doc"
	SchemeFQDN  Scheme = "fqdn"
)

// URNPrefix starts an Endpoint ID carried in a certificate.
const URNPrefix = "urn:bbf:usp:id:"

// MaxInstanceLen is the longest instance-id allowed [R-ARC.6].
const MaxInstanceLen = 50

// ID is a parsed Endpoint ID.
type ID struct {
	Scheme    Scheme
	Authority string
	Instance  string
}

// String returns the Endpoint ID in its plain form.
func (id ID) String() string {
	return string(id.Scheme) + ":" + id.Authority + ":" + id.Instance
}

// URN returns the Endpoint ID in the form used in certificates.
func (id ID) URN() string { return URNPrefix + id.String() }

// Error says what is wrong with an Endpoint ID.
type Error struct {
	ID     string
	Part   string // "scheme", "authority-id" or "instance-id"
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("endpoint ID %q: %s: %s", e.ID, e.Part, e.Reason)
}

// USPErrorCode returns 7004, Invalid arguments.
func (e *Error) USPErrorCode() uint32 { return 7004 }

// Parse parses and validates an Endpoint ID in its plain form.
func Parse(s string) (ID, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return ID{}, &Error{s, "scheme", `missing ":" after the authority-scheme`}
	}
	auth, inst, ok := strings.Cut(rest, ":")
	if !ok {
		return ID{}, &Error{s, "authority-id", `missing ":" after the authority-id`}
	}
	id := ID{Scheme: Scheme(scheme), Authority: auth, Instance: inst}
	rule, ok := rules[id.Scheme]
	if !ok {
		return ID{}, &Error{s, "scheme", fmt.Sprintf("unknown authority-scheme %q", scheme)}
	}
	if err := checkInstanceChars(inst); err != "" {
		return ID{}, &Error{s, "instance-id", err}
	}
	if err := rule.authority(auth); err != "" {
		return ID{}, &Error{s, "authority-id", err}
	}
	if rule.instance != nil {
		if err := rule.instance(inst); err != "" {
			return ID{}, &Error{s, "instance-id", err}
		}
	}
	return id, nil
}

// ParseURN parses the certificate form "urn:bbf:usp:id:..." (the prefix is
// matched without regard to case, as URN namespaces are).
func ParseURN(s string) (ID, error) {
	if len(s) < len(URNPrefix) || !strings.EqualFold(s[:len(URNPrefix)], URNPrefix) {
		return ID{}, &Error{s, "scheme", "not a " + URNPrefix + " URN"}
	}
	return Parse(s[len(URNPrefix):])
}

// Validate reports whether s is a valid Endpoint ID.
func Validate(s string) error {
	_, err := Parse(s)
	return err
}

// ForOS returns the "os" Endpoint ID of a device from its OUI and serial
// number, percent-encoding what the instance-id may not hold (including
// '-', as TR-069 §3.4.4 requires).
func ForOS(oui, serial string) ID {
	return ID{Scheme: SchemeOS, Instance: strings.ToUpper(oui) + "-" + Escape(serial)}
}

// ForOPS returns the "ops" Endpoint ID of a device from its OUI, product
// class and serial number.
func ForOPS(oui, productClass, serial string) ID {
	return ID{Scheme: SchemeOPS, Instance: strings.ToUpper(oui) + "-" + Escape(productClass) + "-" + Escape(serial)}
}

// Escape percent-encodes every byte of s that is not an unreserved
// character other than '-'.
func Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) && c != '-' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
