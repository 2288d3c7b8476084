package ws

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// extName is the WebSocket extension that carries an Endpoint ID in the
// handshake: the client's (deprecated by [R-WS.10a], still read for older
// clients) and the server's [R-WS.11a].
const extName = "bbf-usp-protocol"

// extParamEID is the extension parameter, and the query key [R-WS.10b],
// that holds an Endpoint ID.
const extParamEID = "eid"

// hdrExtensions is the handshake header carrying extensions.
const hdrExtensions = "Sec-WebSocket-Extensions"

// extension is one element of a Sec-WebSocket-Extensions list.
type extension struct {
	name   string
	params []extParam
	raw    string // the element as it appeared, without surrounding blanks
}

// extParam is one extension parameter; value is unquoted and unescaped.
type extParam struct {
	name     string
	value    string
	hasValue bool
}

// errExtSyntax reports a malformed Sec-WebSocket-Extensions value.
var errExtSyntax = errors.New("malformed Sec-WebSocket-Extensions")

// parseExtensions parses one Sec-WebSocket-Extensions header value
// (RFC 6455 §9.1, list rules of RFC 9110 §5.6.1): comma-separated
// extensions, each a token followed by ";"-separated parameters whose
// values are tokens or quoted strings. Empty list elements are skipped.
// Unlike RFC 6455 it accepts any quoted-string content, since TR-369
// Endpoint IDs hold ':' ("doc::agent").
func parseExtensions(s string) ([]extension, error) {
	var out []extension
	i := 0
	for {
		i = skipBlanks(s, i)
		for i < len(s) && s[i] == ',' {
			i = skipBlanks(s, i+1)
		}
		if i == len(s) {
			return out, nil
		}
		start := i
		var e extension
		var err error
		e.name, i = scanToken(s, i)
		if e.name == "" {
			return nil, fmt.Errorf("%w: want an extension name at offset %d", errExtSyntax, i)
		}
		i = skipBlanks(s, i)
		for i < len(s) && s[i] == ';' {
			var p extParam
			if p, i, err = scanParam(s, skipBlanks(s, i+1)); err != nil {
				return nil, err
			}
			e.params = append(e.params, p)
			i = skipBlanks(s, i)
		}
		e.raw = strings.TrimRight(s[start:i], " \t")
		out = append(out, e)
		if i < len(s) && s[i] != ',' {
			return nil, fmt.Errorf("%w: unexpected %q at offset %d", errExtSyntax, s[i], i)
		}
	}
}

// scanParam reads name [ "=" ( token | quoted-string ) ] at i.
func scanParam(s string, i int) (extParam, int, error) {
	var p extParam
	p.name, i = scanToken(s, i)
	if p.name == "" {
		return p, i, fmt.Errorf("%w: want a parameter name at offset %d", errExtSyntax, i)
	}
	j := skipBlanks(s, i)
	if j == len(s) || s[j] != '=' {
		return p, i, nil
	}
	i = skipBlanks(s, j+1)
	p.hasValue = true
	if i < len(s) && s[i] == '"' {
		var err error
		p.value, i, err = scanQuoted(s, i)
		return p, i, err
	}
	p.value, i = scanToken(s, i)
	if p.value == "" {
		return p, i, fmt.Errorf("%w: want a parameter value at offset %d", errExtSyntax, i)
	}
	return p, i, nil
}

// scanQuoted reads a quoted-string starting with the '"' at i and returns
// its unescaped content. It slices s when there is no quoted-pair.
func scanQuoted(s string, i int) (string, int, error) {
	start := i + 1
	var b []byte // non-nil once a quoted-pair was seen
	for i = start; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if b == nil {
				return s[start:i], i + 1, nil
			}
			return string(b), i + 1, nil
		case c == '\\':
			if i+1 == len(s) || !isQuotable(s[i+1]) {
				return "", i, fmt.Errorf("%w: bad quoted-pair at offset %d", errExtSyntax, i)
			}
			if b == nil {
				b = append(make([]byte, 0, len(s)-start), s[start:i]...)
			}
			i++
			b = append(b, s[i])
		case !isQuotable(c):
			return "", i, fmt.Errorf("%w: control character in quoted-string at offset %d", errExtSyntax, i)
		default:
			if b != nil {
				b = append(b, c)
			}
		}
	}
	return "", i, fmt.Errorf("%w: unterminated quoted-string", errExtSyntax)
}

// isQuotable reports whether c may appear in a quoted-string, plain or
// after a backslash: HTAB, SP, VCHAR and obs-text.
func isQuotable(c byte) bool { return c == '\t' || c >= 0x20 && c != 0x7f }

func scanToken(s string, i int) (string, int) {
	start := i
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[start:i], i
}

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// isTokenChar reports whether c is an RFC 9110 tchar.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// formatExtension returns the bbf-usp-protocol extension carrying eid, as
// sent by a client (the deprecated [R-WS.10a]) and a server [R-WS.11a].
// eid must satisfy validEID.
func formatExtension(eid string) string {
	var b strings.Builder
	b.Grow(len(extName) + len(extParamEID) + len(eid) + 8)
	b.WriteString(extName)
	b.WriteString("; ")
	b.WriteString(extParamEID)
	b.WriteString(`="`)
	for i := 0; i < len(eid); i++ {
		if c := eid[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(eid[i])
	}
	b.WriteByte('"')
	return b.String()
}

// validEID reports whether eid can travel in a handshake header: it is not
// empty and holds no control character.
func validEID(eid string) bool {
	if eid == "" {
		return false
	}
	for i := 0; i < len(eid); i++ {
		if c := eid[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// extensionEID looks for the bbf-usp-protocol extension in the values of
// Sec-WebSocket-Extensions headers. offered reports that the extension is
// present (well formed); eid is its eid parameter, empty if it has none.
// Malformed header values are skipped.
func extensionEID(values []string) (eid string, offered bool) {
	for _, v := range values {
		exts, err := parseExtensions(v)
		if err != nil {
			continue
		}
		for _, e := range exts {
			if !strings.EqualFold(e.name, extName) {
				continue
			}
			for _, p := range e.params {
				if strings.EqualFold(p.name, extParamEID) && p.hasValue {
					return p.value, true
				}
			}
			offered = true
		}
	}
	return "", offered
}

// takeExtension removes the bbf-usp-protocol elements from h's
// Sec-WebSocket-Extensions and returns the Endpoint ID they carried. The
// WebSocket library refuses extensions it does not know, and
// [R-WS.11b] makes the extension optional, so it is read and dropped here.
// Values that do not parse are left for the library to refuse.
func takeExtension(h http.Header) string {
	values := h.Values(hdrExtensions)
	if len(values) == 0 {
		return ""
	}
	eid, _ := extensionEID(values)
	var keep []string
	for _, v := range values {
		exts, err := parseExtensions(v)
		if err != nil {
			keep = append(keep, v)
			continue
		}
		for _, e := range exts {
			if !strings.EqualFold(e.name, extName) {
				keep = append(keep, e.raw)
			}
		}
	}
	h.Del(hdrExtensions)
	if len(keep) > 0 {
		h.Set(hdrExtensions, strings.Join(keep, ", "))
	}
	return eid
}

// withEIDQuery returns rawQuery with every eid pair replaced by one that
// holds eid, appended after the other query data with '&' [R-WS.10b].
func withEIDQuery(rawQuery, eid string) string {
	var b strings.Builder
	for pair := range strings.SplitSeq(rawQuery, "&") {
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(key); pair == "" || err == nil && k == extParamEID {
			continue
		}
		b.WriteString(pair)
		b.WriteByte('&')
	}
	b.WriteString(extParamEID)
	b.WriteByte('=')
	escapeQuery(&b, eid)
	return b.String()
}

// escapeQuery writes s percent-encoded for a query value, leaving the
// characters Endpoint IDs commonly hold readable ("eid=doc::agent" as in
// the spec's example).
func escapeQuery(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~:@!$'()*,/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}
