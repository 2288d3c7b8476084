package pathname

// Parse parses an absolute Path Name of any form: object, object instance,
// parameter, command, event, search or "{i}" pattern [R-ARC.7]. On
// failure the error is an *Error (USP code 7008).
func Parse(s string) (Path, error) {
	return parse(s, ModeAbsolute)
}

// ParseRelative parses a Relative Path such as "Stats.BytesSent",
// "Reboot()" or the Param of a Term ("Interface+.Name").
func ParseRelative(s string) (Path, error) {
	return parse(s, ModeRelative)
}

// ParseReference parses the value of a reference parameter, in which an
// object instance path may lack its final '.'. It does not accept the
// empty string: a null reference is for the caller to recognise.
func ParseReference(s string) (Path, error) {
	return parse(s, ModeReference)
}

// parse makes at most two allocations: one for the segments and, when the
// path holds expressions, one for all their terms.
func parse(s string, m Mode) (Path, error) {
	if len(s) > MaxLen {
		return Path{}, tooLong(s)
	}
	nseg, nterm := estimate(s)
	p := Path{Segments: make([]Segment, 0, nseg)}
	var terms []Term
	if nterm > 0 {
		terms = make([]Term, 0, nterm)
	}
	sc := NewScanner(s, m)
	for sc.Next() {
		seg := sc.Segment()
		if seg.Kind == TokenExpr {
			n := len(terms)
			terms = sc.AppendTerms(terms)
			seg.Terms = terms[n:len(terms):len(terms)]
		}
		p.Segments = append(p.Segments, seg)
	}
	if err := sc.Err(); err != nil {
		return Path{}, err
	}
	p.Kind = sc.Kind()
	return p, nil
}

// estimate bounds the number of segments and terms of s from above (dots
// inside literals make it overcount), capped at the limits.
func estimate(s string) (nseg, nterm int) {
	nseg = 1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.', '+':
			nseg++
		case '[', '&':
			nterm++
		}
	}
	return min(nseg, MaxSegments), min(nterm, MaxTerms)
}

// AppendPattern appends the "{i}" pattern of the absolute Path Name s to
// dst: every instance identifier becomes "{i}" and the rest is written in
// canonical form. It does not allocate when dst has room.
//
//	Device.LocalAgent.Controller.2.MTP.[Alias=="ws"].Enable
//	→ Device.LocalAgent.Controller.{i}.MTP.{i}.Enable
//
// On a syntax error dst is returned unchanged with an *Error.
func AppendPattern(dst []byte, s string) ([]byte, error) {
	n := len(dst)
	sc := NewScanner(s, ModeAbsolute)
	for sc.Next() {
		seg := sc.Segment()
		if sc.nseg > 1 && !seg.Kind.IsRef() {
			dst = append(dst, '.')
		}
		if seg.Kind.IsInstance() {
			seg = Segment{Kind: TokenPlaceholder}
		}
		dst = seg.AppendTo(dst)
	}
	if err := sc.Err(); err != nil {
		return dst[:n], err
	}
	return appendSuffix(dst, sc.Kind()), nil
}

// Match reports whether the absolute Path Name s matches pattern, as
// Path.Match does, without allocating. It is false when either does not
// parse.
//
//	Match("Device.LocalAgent.Controller.{i}.MTP.{i}.", "Device.LocalAgent.Controller.1.MTP.2.") == true
func Match(pattern, s string) bool {
	ps := NewScanner(pattern, ModeAbsolute)
	ss := NewScanner(s, ModeAbsolute)
	for {
		okp, oks := ps.Next(), ss.Next()
		if okp != oks {
			return false
		}
		if !okp {
			return ps.err == nil && ss.err == nil && ps.kind == ss.kind
		}
		if !segMatch(ps.seg, ss.seg) {
			return false
		}
	}
}

// segMatch reports whether segment s matches pattern segment pat.
func segMatch(pat, s Segment) bool {
	return pat.Kind == TokenPlaceholder && s.Kind.IsInstance() || pat.equal(s)
}

// Split separates the absolute Path Name s into its object part and final
// element without allocating: "Device.IP.Interface.1.Name" gives
// "Device.IP.Interface.1." and "Name"; "Device.Reboot()" gives "Device."
// and "Reboot()"; an object path is returned whole with an empty elem.
func Split(s string) (obj, elem string, err error) {
	sc := NewScanner(s, ModeAbsolute)
	last := 0
	for sc.Next() {
		last = sc.off
	}
	if err := sc.Err(); err != nil {
		return "", "", err
	}
	if sc.kind == KindObject {
		return s, "", nil
	}
	return s[:last], s[last:], nil
}
