package bulkdata

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// digestChallenge is a parsed WWW-Authenticate: Digest header (RFC 7616).
type digestChallenge struct {
	realm, nonce, opaque, algorithm string
	qopAuth                         bool
}

// parseDigest reads a Digest challenge; ok is false for another scheme or
// an algorithm other than MD5 and SHA-256.
func parseDigest(h string) (c digestChallenge, ok bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return c, false
	}
	for _, kv := range splitParams(rest) {
		k, v, _ := strings.Cut(kv, "=")
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "realm":
			c.realm = v
		case "nonce":
			c.nonce = v
		case "opaque":
			c.opaque = v
		case "algorithm":
			c.algorithm = v
		case "qop":
			for q := range strings.SplitSeq(v, ",") {
				if strings.TrimSpace(q) == "auth" {
					c.qopAuth = true
				}
			}
		}
	}
	switch strings.ToUpper(c.algorithm) {
	case "", "MD5", "SHA-256":
	default:
		return c, false
	}
	return c, c.nonce != ""
}

// splitParams splits "a=1, b="x,y"" at the commas outside quotes.
func splitParams(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// authorization answers c for a request (RFC 7616 section 3.4), with
// the given client nonce ("" draws one) and nonce count 1.
func (c digestChallenge) authorization(user, password, method, uri, cnonce string) string {
	newHash := md5.New
	if strings.EqualFold(c.algorithm, "SHA-256") {
		newHash = sha256.New
	}
	h := func(s string) string {
		var x hash.Hash = newHash()
		x.Write([]byte(s))
		return hex.EncodeToString(x.Sum(nil))
	}
	if cnonce == "" {
		b := make([]byte, 16)
		rand.Read(b)
		cnonce = hex.EncodeToString(b)
	}
	ha1, ha2 := h(user+":"+c.realm+":"+password), h(method+":"+uri)
	const nc = "00000001"
	var resp string
	if c.qopAuth {
		resp = h(ha1 + ":" + c.nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
	} else {
		resp = h(ha1 + ":" + c.nonce + ":" + ha2)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username="%s", realm="%s", uri="%s", nonce="%s", response="%s"`, user, c.realm, uri, c.nonce, resp)
	if c.algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", c.algorithm)
	}
	if c.qopAuth {
		fmt.Fprintf(&b, `, qop=auth, nc=%s, cnonce="%s"`, nc, cnonce)
	}
	if c.opaque != "" {
		fmt.Fprintf(&b, `, opaque="%s"`, c.opaque)
	}
	return b.String()
}
