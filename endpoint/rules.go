package endpoint

import (
	"strings"
)

// rule validates the parts of one scheme; a check returns "" or the reason.
type rule struct {
	authority func(string) string
	instance  func(string) string
}

// rules implements the table of [R-ARC.2a].
var rules = map[Scheme]rule{
	SchemeOUI:   {authority: hex6},
	SchemeCID:   {authority: hex6},
	SchemePEN:   {authority: decimal},
	SchemeSelf:  {authority: shortName(0, 6, false)},
	SchemeUser:  {authority: shortName(0, 6, false)},
	SchemeOS:    {authority: empty, instance: parts(2)},
	SchemeOPS:   {authority: empty, instance: parts(3)},
	SchemeUUID:  {authority: empty, instance: uuid},
	SchemeIMEI:  {authority: empty, instance: imei},
	SchemeProto: {authority: shortName(0, 6, true)},
	SchemeDoc:   {authority: shortName(0, 6, false)},
	SchemeFQDN:  {authority: empty, instance: fqdn},
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// checkInstanceChars enforces [R-ARC.5] and [R-ARC.6].
func checkInstanceChars(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > MaxInstanceLen:
		return "longer than 50 characters"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			continue
		}
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			i += 2
			continue
		}
		if c == '%' {
			return "'%' not followed by two hex digits"
		}
		return "character " + quoteByte(c) + " must be percent-encoded"
	}
	return ""
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(c) + "'"
	}
	const digits = "0123456789ABCDEF"
	return "0x" + string(digits[c>>4]) + string(digits[c&15])
}

// hex6 is an IEEE OUI or CID: the 24-bit id as 6 hex characters.
func hex6(s string) string {
	if len(s) != 6 {
		return "must be 6 hex characters"
	}
	for i := 0; i < 6; i++ {
		if !isHex(s[i]) {
			return "must be 6 hex characters"
		}
	}
	return ""
}

// decimal is an IANA Private Enterprise Number.
func decimal(s string) string {
	if s == "" || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return "must be a decimal Private Enterprise Number"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "must be a decimal Private Enterprise Number"
		}
	}
	return ""
}

func empty(s string) string {
	if s != "" {
		return "must be empty for this scheme"
	}
	return ""
}

// shortName allows min to max unreserved characters, without '.' if noDot.
func shortName(min, max int, noDot bool) func(string) string {
	return func(s string) string {
		if len(s) < min || len(s) > max {
			return "must be at most 6 unreserved characters"
		}
		for i := 0; i < len(s); i++ {
			if !isUnreserved(s[i]) || noDot && s[i] == '.' {
				return "character " + quoteByte(s[i]) + " is not allowed"
			}
		}
		return ""
	}
}

// parts checks the TR-069 §3.4.4 device identity forms: OUI "-" SerialNumber
// (n=2) or OUI "-" ProductClass "-" SerialNumber (n=3), where a '-' inside a
// part is percent-encoded.
func parts(n int) func(string) string {
	return func(s string) string {
		p := strings.Split(s, "-")
		if len(p) != n {
			if n == 2 {
				return `must be <OUI> "-" <SerialNumber>`
			}
			return `must be <OUI> "-" <ProductClass> "-" <SerialNumber>`
		}
		if hex6(p[0]) != "" {
			return "OUI must be 6 hex characters"
		}
		if p[n-1] == "" {
			return "SerialNumber must not be empty"
		}
		return ""
	}
}

// uuid is the RFC 4122 text form 8-4-4-4-12.
func uuid(s string) string {
	const msg = "must be a UUID (8-4-4-4-12 hex digits)"
	if len(s) != 36 {
		return msg
	}
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return msg
			}
		} else if !isHex(s[i]) {
			return msg
		}
	}
	return ""
}

// imei is a 15-digit IMEI. The check digit is not verified: the spec's own
// example (imei::990000862471854) does not satisfy the Luhn formula.
func imei(s string) string {
	if len(s) != 15 {
		return "must be a 15-digit IMEI"
	}
	for i := 0; i < 15; i++ {
		if s[i] < '0' || s[i] > '9' {
			return "must be a 15-digit IMEI"
		}
	}
	return ""
}

// fqdn is a fully qualified domain name without wildcards.
func fqdn(s string) string {
	name := strings.TrimSuffix(s, ".")
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return "must be a fully qualified domain name"
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "must be a fully qualified domain name"
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return "must be a fully qualified domain name (no wildcards)"
			}
		}
	}
	return ""
}
