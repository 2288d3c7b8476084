package pathname

import "strconv"

// Mode selects which variant of the Path Name grammar a Scanner accepts.
// The zero value is ModeAbsolute.
type Mode uint8

// Scanner modes.
const (
	// ModeAbsolute accepts a full Path Name: it starts with a name and
	// holds at least one '.' ("Device.", "Device.DeviceInfo.UpTime").
	ModeAbsolute Mode = iota
	// ModeRelative accepts a Relative Path, which may be a single element
	// ("Status", "Stats.BytesSent", "Reboot()", "Result.{i}.Radio").
	ModeRelative
	// ModeReference accepts the value of a reference parameter: like
	// ModeAbsolute, but an object instance path may omit its final '.'
	// ("Device.IP.Interface.1", `Device.IP.Interface.[Name=="eth0"]`).
	ModeReference
)

// scanner flags
const (
	flagDot     = 1 << iota // a '.' separator was seen
	flagSearch              // a wildcard or expression was seen
	flagPattern             // a "{i}" was seen
)

// Scanner splits a Path Name into segments without allocating: every
// Segment it yields slices the input. Use it as
//
//	sc := pathname.NewScanner(s, pathname.ModeAbsolute)
//	for sc.Next() {
//		seg := sc.Segment()
//		...
//	}
//	if err := sc.Err(); err != nil { ... }
//	kind := sc.Kind()
//
// The segments already yielded when an error is found are valid; the path
// as a whole is not. A Scanner is not safe for concurrent use.
type Scanner struct {
	s     string
	i     int // next byte to read
	off   int // start of the current segment
	seg   Segment
	kind  Kind
	err   *Error
	nseg  int
	nterm int
	mode  Mode
	flags uint8
	done  bool
}

// NewScanner returns a Scanner over s.
func NewScanner(s string, m Mode) Scanner {
	return Scanner{s: s, mode: m}
}

// Next advances to the next segment and reports whether there is one. It
// returns false at the end of the path or on the first error.
func (sc *Scanner) Next() bool {
	if sc.done {
		return false
	}
	if sc.seg.Kind == 0 {
		return sc.start()
	}
	return sc.advance()
}

// Segment returns the current segment. Its Terms are nil; use AppendTerms.
func (sc *Scanner) Segment() Segment { return sc.seg }

// Offset returns the byte offset of the current segment in the input.
func (sc *Scanner) Offset() int { return sc.off }

// Kind returns the kind of the path once Next has returned false without
// an error, and 0 before that.
func (sc *Scanner) Kind() Kind { return sc.kind }

// Err returns the error that stopped the Scanner, or nil. A non-nil
// result is always an *Error.
func (sc *Scanner) Err() error {
	if sc.err == nil {
		return nil
	}
	return sc.err
}

// AppendTerms appends the components of the current TokenExpr segment to
// dst and returns the extended slice. It does not allocate when dst has
// room. For other segments it returns dst unchanged.
func (sc *Scanner) AppendTerms(dst []Term) []Term {
	if sc.seg.Kind != TokenExpr {
		return dst
	}
	it := termIter{s: sc.s, i: sc.off + 1, end: sc.i - 1}
	for t, ok, _ := it.next(); ok; t, ok, _ = it.next() {
		dst = append(dst, t)
	}
	return dst
}

func (sc *Scanner) fail(off int, msg string) bool {
	return sc.failErr(fail(sc.s, off, msg))
}

func (sc *Scanner) failErr(err *Error) bool {
	sc.err, sc.done, sc.kind = err, true, 0
	return false
}

// finish ends the path. Outside ModeRelative a path holds a '.' (the BNF
// starts every path with name '.').
func (sc *Scanner) finish(k Kind) bool {
	if sc.flags&flagDot == 0 && sc.mode != ModeRelative {
		return sc.fail(sc.i, "path has no '.'")
	}
	sc.kind, sc.done = k, true
	return false
}

// emit makes s[start:end] the current segment.
func (sc *Scanner) emit(t Token, start, end int, n uint32) bool {
	if sc.nseg++; sc.nseg > MaxSegments {
		return sc.fail(start, "more than "+strconv.Itoa(MaxSegments)+" segments")
	}
	sc.seg = Segment{Kind: t, Text: sc.s[start:end], Num: n}
	sc.off, sc.i = start, end
	return true
}

// start checks the limits and reads the first segment, which is a name.
func (sc *Scanner) start() bool {
	switch {
	case len(sc.s) > MaxLen:
		return sc.failErr(tooLong(sc.s))
	case sc.s == "":
		return sc.fail(0, "empty path")
	}
	return sc.name()
}

// advance reads the separator after the current segment and then the next
// segment, or ends the path.
func (sc *Scanner) advance() bool {
	prev := sc.seg.Kind
	if sc.i == len(sc.s) {
		return sc.atEnd(prev)
	}
	switch c := sc.s[sc.i]; {
	case c == '.':
		sc.i++
		sc.flags |= flagDot
		if sc.i == len(sc.s) {
			return sc.finish(KindObject)
		}
		return sc.segment(prev)
	case prev.IsRef():
		return sc.fail(sc.i, "expected '.' after reference")
	case prev != TokenName:
		return sc.fail(sc.i, "expected '.' after instance identifier")
	case c == '+' || c == '#':
		return sc.ref()
	case c == '(':
		if sc.s[sc.i:] != "()" {
			return sc.fail(sc.i, "command must end in \"()\"")
		}
		return sc.finish(KindCommand)
	case c == '!':
		if sc.i+1 != len(sc.s) {
			return sc.fail(sc.i+1, "unexpected text after '!'")
		}
		return sc.finish(KindEvent)
	default:
		return sc.fail(sc.i, "unexpected character "+strconv.QuoteRune(rune(c)))
	}
}

// atEnd ends the path after a segment that has no suffix.
func (sc *Scanner) atEnd(prev Token) bool {
	switch {
	case prev == TokenName:
		return sc.finish(KindParameter)
	case prev.IsInstance() && sc.mode == ModeReference:
		return sc.finish(KindObject)
	case prev.IsInstance():
		return sc.fail(sc.i, "missing '.' after instance identifier")
	}
	return sc.fail(sc.i, "missing '.' after reference")
}

// segment reads the segment after a '.'.
func (sc *Scanner) segment(prev Token) bool {
	c := sc.s[sc.i]
	switch {
	case isNameStart(c):
		return sc.name()
	case c == '.':
		return sc.fail(sc.i, "empty segment")
	case !isDigit(c) && c != '*' && c != '[' && c != '{':
		return sc.fail(sc.i, "unexpected character "+strconv.QuoteRune(rune(c)))
	case prev != TokenName:
		return sc.fail(sc.i, "instance identifier must follow a table name")
	case sc.nseg == 1 && sc.mode != ModeRelative:
		return sc.fail(sc.i, "the root object cannot have instances")
	}
	return sc.instance(c)
}

func (sc *Scanner) name() bool {
	i := sc.i
	if !isNameStart(sc.s[i]) {
		if sc.s[i] == '.' {
			return sc.fail(i, "empty segment")
		}
		return sc.fail(i, "name must start with a letter or '_'")
	}
	j := i + 1
	for j < len(sc.s) && isNameChar(sc.s[j]) {
		j++
	}
	return sc.emit(TokenName, i, j, 0)
}

// instance reads an instance identifier starting with c.
func (sc *Scanner) instance(c byte) bool {
	i := sc.i
	if c == '{' {
		return sc.placeholder()
	}
	if sc.flags&flagPattern != 0 {
		return sc.fail(i, "instance identifier after \"{i}\"")
	}
	switch c {
	case '*':
		sc.flags |= flagSearch
		return sc.emit(TokenWildcard, i, i+1, 0)
	case '[':
		return sc.expr()
	}
	n, j, err := scanPosnum(sc.s, i, len(sc.s), "instance number")
	if err != nil {
		return sc.failErr(err)
	}
	return sc.emit(TokenInstance, i, j, n)
}

// placeholder reads "{i}". A supported-data-model path holds no searches.
func (sc *Scanner) placeholder() bool {
	i := sc.i
	if len(sc.s)-i < 3 || sc.s[i:i+3] != "{i}" {
		return sc.fail(i, "expected \"{i}\"")
	}
	if sc.flags&flagSearch != 0 {
		return sc.fail(i, "\"{i}\" in a search path")
	}
	sc.flags |= flagPattern
	return sc.emit(TokenPlaceholder, i, i+3, 0)
}

// expr validates a bracketed expression and yields its contents.
func (sc *Scanner) expr() bool {
	i := sc.i
	end, err := exprEnd(sc.s, i)
	if err != nil {
		return sc.failErr(err)
	}
	if skipBlank(sc.s, i+1, end) == end {
		return sc.fail(i, "empty expression")
	}
	it := termIter{s: sc.s, i: i + 1, end: end}
	for {
		start := it.i
		_, ok, err := it.next()
		if err != nil {
			return sc.failErr(err)
		}
		if !ok {
			break
		}
		if sc.nterm++; sc.nterm > MaxTerms {
			return sc.fail(skipBlank(sc.s, start, end), "more than "+strconv.Itoa(MaxTerms)+" expression components")
		}
	}
	sc.flags |= flagSearch
	if !sc.emit(TokenExpr, i, end+1, 0) {
		return false
	}
	sc.seg.Text = sc.s[i+1 : end]
	return true
}

// ref reads a reference-following marker after a name.
func (sc *Scanner) ref() bool {
	i := sc.i
	if sc.nseg == 1 && sc.mode != ModeRelative {
		return sc.fail(i, "the root object is not a reference")
	}
	t, n, j, err := scanRef(sc.s, i, len(sc.s))
	if err != nil {
		return sc.failErr(err)
	}
	return sc.emit(t, i, j, n)
}

func tooLong(s string) *Error {
	return fail(s, MaxLen, "path longer than "+strconv.Itoa(MaxLen)+" bytes")
}
