package sqlite

import (
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// appendParams appends the JSON object of an object's parameters to dst,
// keys sorted, exactly as encoding/json writes a map[string]string (its
// reflection took more allocations per row than the rest of an Agent's
// Add): strings escaped with \", \\, \n, \r, \t, \b, \f, \u00XX for the
// other control characters, \u003c, \u003e, \u0026 for <, > and &, and
// \u2028, \u2029. A string that is not valid UTF-8 (which encoding/json
// would alter) makes it fall back to encoding/json.
func appendParams(dst []byte, params map[string]string) ([]byte, error) {
	if params == nil {
		return append(dst, "null"...), nil
	}
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			b, err := json.Marshal(params)
			return append(dst, b...), err
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendString(dst, params[k])
	}
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s, valid UTF-8, as a JSON string.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
