package pathname

import "strconv"

// Limits applied before and during parsing. Input beyond them is rejected
// with an *Error instead of being processed.
const (
	// MaxLen is the longest Path Name accepted, in bytes.
	MaxLen = 4096
	// MaxSegments is the largest number of segments (names, instance
	// identifiers and reference-following markers) in one Path Name.
	MaxSegments = 256
	// MaxTerms is the largest number of expression components, summed over
	// all search expressions of one Path Name.
	MaxTerms = 64
)

// Kind tells what a Path Name addresses, from the way it ends.
type Kind uint8

// Path kinds.
const (
	KindObject    Kind = iota + 1 // ends in '.': object, object instance or partial path
	KindParameter                 // ends in a name
	KindCommand                   // ends in "()"
	KindEvent                     // ends in '!'
)

var kindNames = [...]string{"invalid", "object", "parameter", "command", "event"}

// String returns the lower-case name of k.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Token is the kind of one segment of a Path Name.
type Token uint8

// Segment kinds.
const (
	TokenName        Token = iota + 1 // object, parameter, command or event name
	TokenInstance                     // instance number, >= 1
	TokenWildcard                     // '*'
	TokenExpr                         // '[' expression ']': unique key or search
	TokenPlaceholder                  // "{i}" of the supported data model
	TokenRef                          // '+': follow the reference in the previous name
	TokenListRef                      // "#N+": follow item N of a list of references
	TokenListRefAll                   // "#*+": follow every item of a list of references
)

var tokenNames = [...]string{"invalid", "name", "instance", "wildcard", "expr", "placeholder", "ref", "listref", "listrefall"}

// String returns the lower-case name of t.
func (t Token) String() string {
	if int(t) < len(tokenNames) {
		return tokenNames[t]
	}
	return "Token(" + strconv.Itoa(int(t)) + ")"
}

// IsInstance reports whether t stands where an instance identifier goes:
// a number, a wildcard, an expression or "{i}".
func (t Token) IsInstance() bool {
	return t >= TokenInstance && t <= TokenPlaceholder
}

// IsRef reports whether t is a reference-following marker.
func (t Token) IsRef() bool {
	return t >= TokenRef && t <= TokenListRefAll
}

// Op is the operator of an expression component.
type Op uint8

// Expression operators [R-ARC.9].
const (
	OpEq       Op = iota + 1 // ==
	OpNe                     // !=
	OpContains               // ~=  (list contains item)
	OpLt                     // <
	OpGt                     // >
	OpLe                     // <=
	OpGe                     // >=
)

var opText = [...]string{"?", "==", "!=", "~=", "<", ">", "<=", ">="}

// String returns the operator as written in a Path Name.
func (o Op) String() string {
	if int(o) < len(opText) {
		return opText[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Term is one expression component: Param Op Value.
type Term struct {
	// Param is the relative parameter path on the left, as written, for
	// example "Name" or "Interface+.Name". Parse it with ParseRelative.
	Param string
	Op    Op
	// Value is the constant on the right as written, without the
	// surrounding quotes and with percent escapes left in place.
	Value string
	// Quoted is true when Value was a quoted string literal.
	Quoted bool
}

// Literal returns Value with the percent escapes of a quoted literal
// decoded ("%22" becomes '"', "%25" becomes '%'). It allocates only when
// Value holds an escape. Unquoted values are returned unchanged.
func (t Term) Literal() string {
	if !t.Quoted {
		return t.Value
	}
	return unescape(t.Value)
}

// AppendTo appends the canonical form of t to dst, without blanks
// [R-ARC.9b].
func (t Term) AppendTo(dst []byte) []byte {
	dst = append(dst, t.Param...)
	dst = append(dst, t.Op.String()...)
	if !t.Quoted {
		return append(dst, t.Value...)
	}
	dst = append(dst, '"')
	dst = append(dst, t.Value...)
	return append(dst, '"')
}

// Segment is one element of a Path Name.
type Segment struct {
	Kind Token
	// Text is the segment as written: the name for TokenName, the digits for
	// TokenInstance, the bracket contents for TokenExpr (whitespace
	// included), and the marker itself for the other kinds. It slices the
	// parsed input. Only names use it for formatting and comparison.
	Text string
	// Num is the instance number (TokenInstance) or the list index
	// (TokenListRef); 0 otherwise.
	Num uint32
	// Terms are the components of a TokenExpr segment, in order. Parse
	// fills them; a Scanner leaves them nil (see Scanner.AppendTerms).
	Terms []Term
}

// AppendTo appends the canonical form of s to dst. A TokenExpr segment
// without Terms is written from its Text.
func (s Segment) AppendTo(dst []byte) []byte {
	switch s.Kind {
	case TokenName:
		return append(dst, s.Text...)
	case TokenInstance:
		return strconv.AppendUint(dst, uint64(s.Num), 10)
	case TokenWildcard:
		return append(dst, '*')
	case TokenPlaceholder:
		return append(dst, "{i}"...)
	case TokenRef:
		return append(dst, '+')
	case TokenListRef:
		dst = append(dst, '#')
		dst = strconv.AppendUint(dst, uint64(s.Num), 10)
		return append(dst, '+')
	case TokenListRefAll:
		return append(dst, "#*+"...)
	case TokenExpr:
		return s.appendExpr(dst)
	}
	return dst
}

func (s Segment) appendExpr(dst []byte) []byte {
	dst = append(dst, '[')
	if s.Terms == nil {
		dst = append(dst, s.Text...)
	}
	for i, t := range s.Terms {
		if i > 0 {
			dst = append(dst, "&&"...)
		}
		dst = t.AppendTo(dst)
	}
	return append(dst, ']')
}

// equal compares two segments the way Path.Equal does: names by text,
// expressions by their terms, the rest by kind and number.
func (s Segment) equal(o Segment) bool {
	if s.Kind != o.Kind || s.Num != o.Num {
		return false
	}
	switch s.Kind {
	case TokenName:
		return s.Text == o.Text
	case TokenExpr:
		return s.exprEqual(o)
	}
	return true
}

// exprEqual compares expressions by their terms, reading them from Text
// when a segment comes from a Scanner and has no Terms.
func (s Segment) exprEqual(o Segment) bool {
	switch {
	case s.Terms == nil && o.Terms == nil:
		return exprEqual(s.Text, o.Text)
	case s.Terms == nil:
		return termsEqual(s.Text, o.Terms)
	case o.Terms == nil:
		return termsEqual(o.Text, s.Terms)
	}
	if len(s.Terms) != len(o.Terms) {
		return false
	}
	for i := range s.Terms {
		if s.Terms[i] != o.Terms[i] {
			return false
		}
	}
	return true
}

// Path is a parsed Path Name. The zero value is an empty relative path.
// Strings in a Path slice the parsed input.
type Path struct {
	Segments []Segment
	Kind     Kind
}

// AppendTo appends the canonical form of p to dst: expressions without
// whitespace, instance numbers in decimal, and the kind's suffix ('.',
// "()", '!') at the end.
func (p Path) AppendTo(dst []byte) []byte {
	return p.appendTo(dst, false)
}

// AppendPattern appends the supported-data-model pattern of p to dst:
// every instance identifier (number, '*', expression) becomes "{i}".
// Names and reference-following markers are kept, so the pattern of a path
// that follows a reference still contains the '+'.
func (p Path) AppendPattern(dst []byte) []byte {
	return p.appendTo(dst, true)
}

func (p Path) appendTo(dst []byte, pattern bool) []byte {
	if len(p.Segments) == 0 {
		return dst
	}
	for i, s := range p.Segments {
		if i > 0 && !s.Kind.IsRef() {
			dst = append(dst, '.')
		}
		if pattern && s.Kind.IsInstance() {
			s = Segment{Kind: TokenPlaceholder}
		}
		dst = s.AppendTo(dst)
	}
	return appendSuffix(dst, p.Kind)
}

func appendSuffix(dst []byte, k Kind) []byte {
	switch k {
	case KindObject:
		return append(dst, '.')
	case KindCommand:
		return append(dst, "()"...)
	case KindEvent:
		return append(dst, '!')
	}
	return dst
}

// String returns the canonical form of p.
func (p Path) String() string {
	return string(p.AppendTo(make([]byte, 0, p.sizeHint())))
}

// Pattern returns the "{i}" pattern of p (see AppendPattern).
func (p Path) Pattern() string {
	return string(p.AppendPattern(make([]byte, 0, p.sizeHint())))
}

func (p Path) sizeHint() int {
	n := 2
	for _, s := range p.Segments {
		n += len(s.Text) + 4
	}
	return n
}

// Equal reports whether p and q have the same canonical form.
func (p Path) Equal(q Path) bool {
	if p.Kind != q.Kind || len(p.Segments) != len(q.Segments) {
		return false
	}
	for i := range p.Segments {
		if !p.Segments[i].equal(q.Segments[i]) {
			return false
		}
	}
	return true
}

// IsSearch reports whether p is a Search Path in the engine's sense: it
// holds a wildcard, an expression or reference following, so it may
// resolve to any number of instances. A unique-key expression counts: only
// the supported data model can tell it addresses a single instance.
func (p Path) IsSearch() bool {
	for _, s := range p.Segments {
		if s.Kind == TokenWildcard || s.Kind == TokenExpr || s.Kind.IsRef() {
			return true
		}
	}
	return false
}

// IsPattern reports whether p holds a "{i}" placeholder, which makes it a
// supported-data-model path.
func (p Path) IsPattern() bool {
	for _, s := range p.Segments {
		if s.Kind == TokenPlaceholder {
			return true
		}
	}
	return false
}

// Split separates p into the object part and the final element. For a
// parameter, command or event path, obj is the parent object path
// (KindObject) and elem is the last name with its suffix, as USP messages
// carry it ("Enable", "Reboot()", "Boot!"). An object path is returned
// whole with an empty elem.
func (p Path) Split() (obj Path, elem string) {
	n := len(p.Segments)
	if p.Kind == KindObject || n == 0 {
		return p, ""
	}
	obj = Path{Segments: p.Segments[: n-1 : n-1], Kind: KindObject}
	elem = p.Segments[n-1].Text
	switch p.Kind {
	case KindCommand:
		elem += "()"
	case KindEvent:
		elem += "!"
	}
	return obj, elem
}

// Match reports whether p matches pattern: both have the same kind and
// segments, except that a "{i}" in pattern matches any instance identifier
// in p (number, '*', expression or "{i}").
func (p Path) Match(pattern Path) bool {
	if p.Kind != pattern.Kind || len(p.Segments) != len(pattern.Segments) {
		return false
	}
	for i, ps := range pattern.Segments {
		if !segMatch(ps, p.Segments[i]) {
			return false
		}
	}
	return true
}
