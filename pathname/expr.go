package pathname

import "strings"

// This file scans the inside of a search expression:
//
//	expr     = '[' term ( "&&" term )* ']'
//	term     = relpath op value        (blanks allowed around op and "&&")
//	relpath  = name ( ref? '.' name )*
//	value    = '"' chars '"' | bare
//
// All functions work on s[i:end] with absolute offsets into s, so errors
// point into the caller's input.

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// isNameChar accepts '-' after the first character: TR-106 vendor
// prefixes such as "X_EXAMPLE-COM_" contain it.
func isNameChar(c byte) bool {
	return isNameStart(c) || isDigit(c) || c == '-'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isBareChar accepts the characters of an unquoted constant: numbers,
// booleans, dateTime, hexBinary and the like.
func isBareChar(c byte) bool {
	return isNameChar(c) || c == '+' || c == '.' || c == ':'
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func fail(s string, off int, msg string) *Error {
	return &Error{Path: s, Offset: off, Msg: msg}
}

func skipBlank(s string, i, end int) int {
	for i < end && isBlank(s[i]) {
		i++
	}
	return i
}

// scanPosnum reads a positive decimal number without leading zeros that
// fits in 32 bits (instance numbers and list indexes).
func scanPosnum(s string, i, end int, what string) (uint32, int, *Error) {
	j := i
	for j < end && isDigit(s[j]) {
		j++
	}
	switch {
	case j == i:
		return 0, i, fail(s, i, "expected "+what)
	case s[i] == '0' && j-i == 1:
		return 0, i, fail(s, i, what+" 0 is not allowed (numbering starts at 1)")
	case s[i] == '0':
		return 0, i, fail(s, i, what+" has a leading zero")
	case j-i > 10:
		return 0, i, fail(s, i, what+" out of range")
	}
	var n uint64
	for k := i; k < j; k++ {
		n = n*10 + uint64(s[k]-'0')
	}
	if n > 1<<32-1 {
		return 0, i, fail(s, i, what+" out of range")
	}
	return uint32(n), j, nil
}

// scanRef reads a reference-following marker at s[i], which is '+' or
// '#': "+", "#N+" or "#*+".
func scanRef(s string, i, end int) (Token, uint32, int, *Error) {
	if s[i] == '+' {
		return TokenRef, 0, i + 1, nil
	}
	i++ // '#'
	tok, n := TokenListRefAll, uint32(0)
	if i < end && s[i] == '*' {
		i++
	} else {
		var err *Error
		if n, i, err = scanPosnum(s, i, end, "list index"); err != nil {
			return 0, 0, i, err
		}
		tok = TokenListRef
	}
	if i >= end || s[i] != '+' {
		return 0, 0, i, fail(s, i, "expected '+' after list index")
	}
	return tok, n, i + 1, nil
}

// exprEnd returns the index of the ']' closing the '[' at s[i], skipping
// quoted literals.
func exprEnd(s string, i int) (int, *Error) {
	quoted := false
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '"':
			quoted = !quoted
		case s[j] == ']' && !quoted:
			return j, nil
		}
	}
	if quoted {
		return 0, fail(s, len(s), "unterminated string literal")
	}
	return 0, fail(s, i, "unterminated '['")
}

// scanRelPath reads the parameter side of a term. It may follow
// references but never addresses a child table instance [R-ARC.9].
func scanRelPath(s string, i, end int) (int, *Error) {
	for {
		if i >= end || !isNameStart(s[i]) {
			return i, relPathError(s, i, end)
		}
		for i++; i < end && isNameChar(s[i]); i++ {
		}
		if i < end && (s[i] == '+' || s[i] == '#') {
			var err *Error
			if _, _, i, err = scanRef(s, i, end); err != nil {
				return i, err
			}
			if i >= end || s[i] != '.' {
				return i, fail(s, i, "expected '.' after reference")
			}
		}
		if i >= end || s[i] != '.' {
			return i, nil
		}
		i++
	}
}

func relPathError(s string, i, end int) *Error {
	if i < end && (isDigit(s[i]) || s[i] == '*' || s[i] == '[' || s[i] == '{') {
		return fail(s, i, "expression parameter must not address a table instance")
	}
	return fail(s, i, "expected a parameter name")
}

// scanOp reads a comparison operator.
func scanOp(s string, i, end int) (Op, int, *Error) {
	if i >= end {
		return 0, i, fail(s, i, "expected an operator")
	}
	eq := i+1 < end && s[i+1] == '='
	switch c := s[i]; {
	case c == '=' && eq:
		return OpEq, i + 2, nil
	case c == '!' && eq:
		return OpNe, i + 2, nil
	case c == '~' && eq:
		return OpContains, i + 2, nil
	case c == '<' && eq:
		return OpLe, i + 2, nil
	case c == '>' && eq:
		return OpGe, i + 2, nil
	case c == '<':
		return OpLt, i + 1, nil
	case c == '>':
		return OpGt, i + 1, nil
	}
	return 0, i, fail(s, i, "expected an operator (==, !=, ~=, <, >, <=, >=)")
}

// scanValue reads the constant side of a term.
func scanValue(s string, i, end int) (string, bool, int, *Error) {
	if i < end && s[i] == '"' {
		for j := i + 1; j < end; j++ {
			switch {
			case s[j] == '"':
				return s[i+1 : j], true, j + 1, nil
			case s[j] == '%' && (j+2 >= end || !isHex(s[j+1]) || !isHex(s[j+2])):
				return "", false, j, fail(s, j, "malformed percent escape (write '%' as %25)")
			}
		}
		return "", false, end, fail(s, end, "unterminated string literal")
	}
	j := i
	for j < end && isBareChar(s[j]) {
		j++
	}
	if j == i {
		return "", false, i, fail(s, i, "expected a value")
	}
	return s[i:j], false, j, nil
}

// scanTerm reads one component. Blanks are tolerated around the operator
// and at both ends [R-ARC.9a]; formatting drops them [R-ARC.9b].
func scanTerm(s string, i, end int) (Term, int, *Error) {
	var t Term
	var err *Error
	i = skipBlank(s, i, end)
	start := i
	if i, err = scanRelPath(s, i, end); err != nil {
		return t, i, err
	}
	t.Param = s[start:i]
	if t.Op, i, err = scanOp(s, skipBlank(s, i, end), end); err != nil {
		return t, i, err
	}
	if t.Value, t.Quoted, i, err = scanValue(s, skipBlank(s, i, end), end); err != nil {
		return t, i, err
	}
	return t, skipBlank(s, i, end), nil
}

// termIter walks the terms of an expression whose contents are s[i:end].
type termIter struct {
	s      string
	i, end int
	done   bool
}

// next returns the next term; ok is false at the end or on error.
func (it *termIter) next() (t Term, ok bool, err *Error) {
	if it.done {
		return t, false, nil
	}
	t, j, err := scanTerm(it.s, it.i, it.end)
	switch {
	case err != nil:
	case j == it.end:
		it.done = true
		return t, true, nil
	case strings.HasPrefix(it.s[j:it.end], "&&"):
		it.i = j + 2
		return t, true, nil
	default:
		err = fail(it.s, j, "expected \"&&\" or ']'")
	}
	it.done = true
	return t, false, err
}

// exprEqual compares two expression contents term by term.
func exprEqual(a, b string) bool {
	ia := termIter{s: a, end: len(a)}
	ib := termIter{s: b, end: len(b)}
	for {
		ta, oka, erra := ia.next()
		tb, okb, errb := ib.next()
		if erra != nil || errb != nil || oka != okb || ta != tb {
			return false
		}
		if !oka {
			return true
		}
	}
}

// termsEqual compares expression contents with a list of terms.
func termsEqual(text string, ts []Term) bool {
	it := termIter{s: text, end: len(text)}
	for _, want := range ts {
		t, ok, _ := it.next()
		if !ok || t != want {
			return false
		}
	}
	_, ok, err := it.next()
	return !ok && err == nil
}

// unescape decodes %XX escapes; malformed ones are kept as written.
func unescape(v string) string {
	k := strings.IndexByte(v, '%')
	if k < 0 {
		return v
	}
	b := make([]byte, 0, len(v))
	b = append(b, v[:k]...)
	for i := k; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
			b = append(b, unhex(v[i+1])<<4|unhex(v[i+2]))
			i += 2
			continue
		}
		b = append(b, v[i])
	}
	return string(b)
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
