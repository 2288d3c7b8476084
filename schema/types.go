package schema

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uspkit/uspkit/usperr"
)

// Base is a TR-106 base type.
type Base uint8

// The TR-106 base types.
const (
	BaseString Base = iota
	BaseBoolean
	BaseInt
	BaseUnsignedInt
	BaseLong
	BaseUnsignedLong
	BaseDateTime
	BaseBase64
	BaseHexBinary
	BaseDecimal
)

var baseNames = [...]string{"string", "boolean", "int", "unsignedInt", "long", "unsignedLong", "dateTime", "base64", "hexBinary", "decimal"}

func (b Base) String() string {
	if int(b) < len(baseNames) {
		return baseNames[b]
	}
	return fmt.Sprintf("Base(%d)", uint8(b))
}

func baseByName(s string) (Base, bool) {
	for i, n := range baseNames {
		if n == s {
			return Base(i), true
		}
	}
	return 0, false
}

// ValueType is USP's ParamValueType, in its enum order.
type ValueType uint8

// USP value types.
const (
	ValueUnknown ValueType = iota
	ValueBase64
	ValueBoolean
	ValueDateTime
	ValueDecimal
	ValueHexBinary
	ValueInt
	ValueLong
	ValueString
	ValueUnsignedInt
	ValueUnsignedLong
)

// Size bounds a length: characters of a string, bytes of base64 or
// hexBinary data, or the text of a list. A nil bound is open.
type Size struct {
	Min, Max *int
}

// Range bounds a number, with an optional step. A nil bound is open.
type Range struct {
	Min, Max *big.Rat
	Step     *big.Rat
}

// List says the value is a comma-separated list of items of the Type.
type List struct {
	MinItems, MaxItems *int
	Sizes              []Size // of the whole list text
}

// Type is a parameter's syntax: a base type and its facets. A value must
// meet one of the Sizes, one of the Ranges, one of the Enums and one of the
// Patterns when these are present.
type Type struct {
	Base     Base
	Name     string // the named data type, if any
	Sizes    []Size
	Ranges   []Range
	Enums    []string
	Patterns []*regexp.Regexp
	List     *List
	// Reference is set for path and instance references.
	Reference bool
}

// ValueType returns the USP value type of t (lists are strings).
func (t *Type) ValueType() ValueType {
	if t.List != nil {
		return ValueString
	}
	return [...]ValueType{ValueString, ValueBoolean, ValueInt, ValueUnsignedInt, ValueLong, ValueUnsignedLong,
		ValueDateTime, ValueBase64, ValueHexBinary, ValueDecimal}[t.Base]
}

// ValueError is a value that does not fit its Type: of the wrong type
// (USP 7011) or outside the type's facets (USP 7012).
type ValueError struct {
	Value   string
	BadType bool
	Reason  string
}

// Error quotes the value cut to usperr.MaxEcho bytes: it goes into
// err_msg fields, and the value may be as large as a request.
func (e *ValueError) Error() string {
	return fmt.Sprintf("%q: %s", usperr.Echo(e.Value), e.Reason)
}

// USPErrorCode returns 7011 (Invalid type) or 7012 (Invalid value).
func (e *ValueError) USPErrorCode() uint32 {
	if e.BadType {
		return 7011
	}
	return 7012
}

func badType(v, format string, args ...any) error {
	return &ValueError{Value: v, BadType: true, Reason: fmt.Sprintf(format, args...)}
}

func badValue(v, format string, args ...any) error {
	return &ValueError{Value: v, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks value against t; the error is a *ValueError.
func (t *Type) Validate(value string) error {
	if t.List == nil {
		return t.validateItem(value)
	}
	if err := checkSizes(value, utf8.RuneCountInString(value), t.List.Sizes); err != nil {
		return err
	}
	var items []string
	if value != "" {
		items = strings.Split(value, ",")
	}
	if l := t.List; l.MinItems != nil && len(items) < *l.MinItems || l.MaxItems != nil && len(items) > *l.MaxItems {
		return badValue(value, "list of %d items is outside %s", len(items), bounds(l.MinItems, l.MaxItems))
	}
	for _, it := range items {
		if err := t.validateItem(strings.TrimSpace(it)); err != nil {
			return err
		}
	}
	return nil
}

func (t *Type) validateItem(v string) error {
	switch t.Base {
	case BaseBoolean:
		if v != "true" && v != "false" && v != "1" && v != "0" {
			return badType(v, "not a boolean")
		}
		return nil
	case BaseInt, BaseUnsignedInt, BaseLong, BaseUnsignedLong:
		return t.validateInteger(v)
	case BaseDecimal:
		return t.validateDecimal(v)
	case BaseDateTime:
		return validateDateTime(v)
	case BaseBase64:
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return badType(v, "not base64")
		}
		return checkSizes(v, len(b), t.Sizes)
	case BaseHexBinary:
		b, err := hex.DecodeString(v)
		if err != nil {
			return badType(v, "not hexBinary")
		}
		return checkSizes(v, len(b), t.Sizes)
	}
	return t.validateString(v)
}

var intBits = map[Base]struct {
	bits   int
	signed bool
}{BaseInt: {32, true}, BaseUnsignedInt: {32, false}, BaseLong: {64, true}, BaseUnsignedLong: {64, false}}

func (t *Type) validateInteger(v string) error {
	ib := intBits[t.Base]
	var n *big.Rat
	if ib.signed {
		i, err := strconv.ParseInt(v, 10, ib.bits)
		if err != nil {
			return badType(v, "not an %s", t.Base)
		}
		n = new(big.Rat).SetInt64(i)
	} else {
		if strings.HasPrefix(v, "+") || strings.HasPrefix(v, "-") {
			return badType(v, "not an %s", t.Base)
		}
		u, err := strconv.ParseUint(v, 10, ib.bits)
		if err != nil {
			return badType(v, "not an %s", t.Base)
		}
		n = new(big.Rat).SetInt(new(big.Int).SetUint64(u))
	}
	return t.checkRanges(v, n)
}

var decimalRE = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)

func (t *Type) validateDecimal(v string) error {
	if !decimalRE.MatchString(v) {
		return badType(v, "not a decimal")
	}
	n, ok := new(big.Rat).SetString(v)
	if !ok {
		return badType(v, "not a decimal")
	}
	return t.checkRanges(v, n)
}

func (t *Type) checkRanges(v string, n *big.Rat) error {
	if len(t.Ranges) == 0 {
		return nil
	}
	for _, r := range t.Ranges {
		if r.Min != nil && n.Cmp(r.Min) < 0 || r.Max != nil && n.Cmp(r.Max) > 0 {
			continue
		}
		if r.Step != nil && r.Step.Sign() > 0 {
			base := r.Min
			if base == nil {
				base = new(big.Rat)
			}
			q := new(big.Rat).Quo(new(big.Rat).Sub(n, base), r.Step)
			if !q.IsInt() {
				continue
			}
		}
		return nil
	}
	return badValue(v, "outside the allowed range%s", rangesText(t.Ranges))
}

func rangesText(rs []Range) string {
	var parts []string
	for _, r := range rs {
		lo, hi := "", ""
		if r.Min != nil {
			lo = r.Min.RatString()
		}
		if r.Max != nil {
			hi = r.Max.RatString()
		}
		parts = append(parts, "["+lo+":"+hi+"]")
	}
	return " " + strings.Join(parts, " ")
}

// validateDateTime accepts TR-106 dateTime: ISO 8601 with optional
// fractional seconds and an optional zone (no zone means local time), and
// the "unknown time" 0001-01-01T00:00:00Z.
func validateDateTime(v string) error {
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if _, err := time.Parse(layout, v); err == nil {
			return nil
		}
	}
	return badType(v, "not a dateTime")
}

func (t *Type) validateString(v string) error {
	if !utf8.ValidString(v) {
		return badType(v, "not valid UTF-8")
	}
	if err := checkSizes(v, utf8.RuneCountInString(v), t.Sizes); err != nil {
		return err
	}
	if t.Name == "Alias" && (v == "" || !isLetter(v[0])) {
		return badValue(v, "an Alias is not empty and starts with a letter")
	}
	if len(t.Enums) > 0 {
		ok := false
		for _, e := range t.Enums {
			if e == v {
				ok = true
				break
			}
		}
		if !ok {
			return badValue(v, "not one of %s", strings.Join(t.Enums, ", "))
		}
	}
	if len(t.Patterns) > 0 {
		for _, p := range t.Patterns {
			if p.MatchString(v) {
				return nil
			}
		}
		return badValue(v, "does not match the required pattern")
	}
	return nil
}

func checkSizes(v string, n int, sizes []Size) error {
	if len(sizes) == 0 {
		return nil
	}
	for _, s := range sizes {
		if (s.Min == nil || n >= *s.Min) && (s.Max == nil || n <= *s.Max) {
			return nil
		}
	}
	return badValue(v, "length %d is outside %s", n, bounds(sizes[0].Min, sizes[0].Max))
}

func bounds(lo, hi *int) string {
	l, h := "", ""
	if lo != nil {
		l = strconv.Itoa(*lo)
	}
	if hi != nil {
		h = strconv.Itoa(*hi)
	}
	return "[" + l + ":" + h + "]"
}

// compilePattern turns an XML Schema pattern, which always matches the
// whole value, into a Go regexp.
func compilePattern(p string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + p + `)$`)
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
