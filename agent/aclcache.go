package agent

import (
	"math"
	"strings"
)

// The permission cache of one caller is keyed by the object's schema path
// (instance numbers replaced by "{i}") at every depth where none of the
// caller's Permission Targets names an instance, so that a load over
// thousands of rows keeps one entry per parameter of the schema instead
// of one per row. The key gives the same answer as the path: targetMatches
// compares a target segment with the path segment at the same depth, and
// at such a depth every target segment is a wildcard ("*", "{i}"), which
// matches an instance number and "{i}" alike, or a name, which matches
// neither. Where a target names an instance (a number, an alias or a
// search expression) the depth keeps its instance numbers, so that, for
// example, Device.LocalAgent.Controller.1. is still judged per instance
// (TR-369 "Access Control").

// instDepths returns the depths (segment indexes, counted from 0 after
// the trailing dot is dropped, as targetMatches counts them) at which a
// Target of roles names an instance; bit 63 stands for every depth from
// 63 on.
func instDepths(roles []*role) uint64 {
	var keep uint64
	for _, r := range roles {
		for _, p := range r.perms {
			for _, t := range p.targets {
				keep |= targetInstDepths(t)
			}
		}
	}
	return keep
}

// targetInstDepths is instDepths for one target. A bracket (alias or
// search expression, which may hold dots of its own) keeps every depth
// from its segment on.
func targetInstDepths(target string) uint64 {
	var keep uint64
	t := strings.TrimSuffix(target, ".")
	for d := 0; ; d++ {
		seg, rest, more := strings.Cut(t, ".")
		if d >= 63 {
			return keep | 1<<63
		}
		if strings.ContainsAny(seg, "[]") {
			return keep | ^uint64(0)<<d
		}
		if seg != "*" && seg != "{i}" && isInstance(seg) {
			keep |= 1 << d
		}
		if !more {
			return keep
		}
		t = rest
	}
}

// schemaKey writes into buf the cache key of path: path with the instance
// segments at the depths not in keep replaced by "{i}". It returns nil
// when the key is path itself.
func schemaKey(buf []byte, path string, keep uint64) []byte {
	p := strings.TrimSuffix(path, ".")
	changed := false
	start, d := 0, 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '.' {
			continue
		}
		seg := p[start:i]
		kept := keep&(1<<min(d, 63)) != 0
		switch {
		case !kept && numeric(seg):
			if !changed { // the key starts as the path up to here
				buf, changed = append(buf[:0], p[:start]...), true
			}
			buf = append(buf, "{i}"...)
		case changed:
			buf = append(buf, seg...)
		}
		if changed && i < len(p) {
			buf = append(buf, '.')
		}
		start, d = i+1, d+1
	}
	if !changed {
		return nil
	}
	if len(p) < len(path) {
		buf = append(buf, '.')
	}
	return buf
}

// numeric reports whether seg is an instance number as isInstance judges
// it (decimal digits, a value from 1 to 2^32-1, leading zeros allowed,
// not "0"), without strconv, which builds an error for every name; "*"
// counts too, since it matches what "{i}" matches.
func numeric(seg string) bool {
	if seg == "*" {
		return true
	}
	if seg == "" || seg == "0" {
		return false
	}
	var v uint64
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c < '0' || c > '9' {
			return false
		}
		if v = v*10 + uint64(c-'0'); v > math.MaxUint32 {
			return false
		}
	}
	return true
}
