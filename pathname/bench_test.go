package pathname_test

import (
	"testing"

	"github.com/uspkit/uspkit/pathname"
)

const (
	benchPlain   = "Device.LocalAgent.Controller.12.MTP.3.WebSocket.Port"
	benchSearch  = `Device.WiFi.AccessPoint.[SSIDReference+.SSID=="MyHome"&&Enable==true].AssociatedDevice.*.SignalStrength`
	benchPattern = "Device.LocalAgent.Controller.{i}.MTP.{i}.WebSocket.Port"
)

func scanAll(s string) int {
	sc := pathname.NewScanner(s, pathname.ModeAbsolute)
	n := 0
	for sc.Next() {
		n += len(sc.Segment().Text)
	}
	if sc.Err() != nil {
		return -1
	}
	return n
}

// TestZeroAlloc guards the paths that must not allocate: scanning (plain
// and search paths), pattern conversion into a buffer, matching and
// splitting.
func TestZeroAlloc(t *testing.T) {
	buf := make([]byte, 0, 256)
	terms := make([]pathname.Term, 0, 8)
	p := mustParse(t, benchSearch)
	cases := []struct {
		name string
		f    func()
	}{
		{"scan plain", func() { scanAll(benchPlain) }},
		{"scan search", func() { scanAll(benchSearch) }},
		{"scan terms", func() {
			sc := pathname.NewScanner(benchSearch, pathname.ModeAbsolute)
			for sc.Next() {
				terms = sc.AppendTerms(terms[:0])
			}
		}},
		{"append pattern", func() { buf, _ = pathname.AppendPattern(buf[:0], benchSearch) }},
		{"match", func() { pathname.Match(benchPattern, benchPlain) }},
		{"split", func() { _, _, _ = pathname.Split(benchPlain) }},
		{"path append", func() { buf = p.AppendTo(buf[:0]); buf = p.AppendPattern(buf[:0]) }},
	}
	for _, tc := range cases {
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tc.name, n)
		}
	}
	if scanAll(benchPlain) <= 0 || scanAll(benchSearch) <= 0 {
		t.Fatal("benchmark paths do not scan")
	}
}

// TestParseAllocs bounds Parse: one slice for the segments, one for the
// expression terms.
func TestParseAllocs(t *testing.T) {
	for _, tc := range []struct {
		in  string
		max float64
	}{{benchPlain, 1}, {benchSearch, 2}} {
		if n := testing.AllocsPerRun(100, func() { _, _ = pathname.Parse(tc.in) }); n > tc.max {
			t.Errorf("Parse(%q): %v allocations, want <= %v", tc.in, n, tc.max)
		}
	}
}

func BenchmarkScan(b *testing.B) {
	for _, bc := range []struct{ name, in string }{{"plain", benchPlain}, {"search", benchSearch}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				scanAll(bc.in)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{{"plain", benchPlain}, {"search", benchSearch}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				if _, err := pathname.Parse(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendPattern(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		var err error
		if buf, err = pathname.AppendPattern(buf[:0], benchPlain); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !pathname.Match(benchPattern, benchPlain) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkString(b *testing.B) {
	p := mustParse(b, benchSearch)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = p.AppendTo(buf[:0])
	}
}
