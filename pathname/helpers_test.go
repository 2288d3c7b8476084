package pathname_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/pathname"
)

func mustParse(t testing.TB, s string) pathname.Path {
	t.Helper()
	p, err := pathname.Parse(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return p
}

func TestPattern(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Device.", "Device."},
		{"Device.LocalAgent.Controller.1.MTP.2.", "Device.LocalAgent.Controller.{i}.MTP.{i}."},
		{`Device.LocalAgent.Controller.2.MTP.[Alias=="ws"].Enable`, "Device.LocalAgent.Controller.{i}.MTP.{i}.Enable"},
		{"Device.IP.Interface.*.IPv4Address.[Status == \"Enabled\"].IPAddress", "Device.IP.Interface.{i}.IPv4Address.{i}.IPAddress"},
		{"Device.LocalAgent.Request.12.Cancel()", "Device.LocalAgent.Request.{i}.Cancel()"},
		{"Device.LocalAgent.Threshold.3.Triggered!", "Device.LocalAgent.Threshold.{i}.Triggered!"},
		{"Device.LocalAgent.Controller.{i}.MTP.{i}.", "Device.LocalAgent.Controller.{i}.MTP.{i}."},
		{"Device.X.1.Y.{i}.Z", "Device.X.{i}.Y.{i}.Z"},
		{"Device.NAT.PortMapping.1.Interface+.Name", "Device.NAT.PortMapping.{i}.Interface+.Name"},
		{"Device.WiFi.SSID.2.LowerLayers#*+.Stats.", "Device.WiFi.SSID.{i}.LowerLayers#*+.Stats."},
		{"Device.A.1.B#3+.C.4.", "Device.A.{i}.B#3+.C.{i}."},
	}
	for _, tc := range tests {
		dst, err := pathname.AppendPattern([]byte("prefix:"), tc.in)
		if err != nil {
			t.Errorf("AppendPattern(%q): %v", tc.in, err)
			continue
		}
		if got := string(dst); got != "prefix:"+tc.want {
			t.Errorf("AppendPattern(%q) = %q, want %q", tc.in, got, "prefix:"+tc.want)
		}
		p := mustParse(t, tc.in)
		if got := p.Pattern(); got != tc.want {
			t.Errorf("Path.Pattern(%q) = %q, want %q", tc.in, got, tc.want)
		}
		pat := mustParse(t, tc.want)
		if !pat.IsPattern() && strings.Contains(tc.want, "{i}") {
			t.Errorf("IsPattern(%q) = false", tc.want)
		}
		if !p.Match(pat) || !pathname.Match(tc.want, tc.in) {
			t.Errorf("%q does not match its own pattern %q", tc.in, tc.want)
		}
	}
}

func TestAppendPatternError(t *testing.T) {
	dst, err := pathname.AppendPattern([]byte("keep"), "Device.IP.Interface.0.")
	var pe *pathname.Error
	if !errors.As(err, &pe) || pe.Offset != 20 {
		t.Fatalf("err = %v, want *Error at offset 20", err)
	}
	if string(dst) != "keep" {
		t.Errorf("dst = %q, want it unchanged", dst)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"Device.LocalAgent.Controller.{i}.MTP.{i}.", "Device.LocalAgent.Controller.1.MTP.2.", true},
		{"Device.LocalAgent.Controller.{i}.MTP.{i}.", "Device.LocalAgent.Controller.*.MTP.[Alias==\"a\"].", true},
		{"Device.LocalAgent.Controller.{i}.MTP.{i}.", "Device.LocalAgent.Controller.{i}.MTP.{i}.", true},
		{"Device.LocalAgent.Controller.{i}.Enable", "Device.LocalAgent.Controller.7.Enable", true},
		{"Device.LocalAgent.Controller.{i}.Enable", "Device.LocalAgent.Controller.7.Alias", false},
		{"Device.LocalAgent.Controller.{i}.Enable", "Device.LocalAgent.Controller.7.", false},
		{"Device.LocalAgent.Controller.{i}.", "Device.LocalAgent.Controller.7.MTP.", false},
		{"Device.LocalAgent.Controller.{i}.MTP.", "Device.LocalAgent.Controller.7.", false},
		{"Device.LocalAgent.Controller.{i}.", "Device.LocalAgent.Controller.", false},
		{"Device.LocalAgent.Controller.{i}.", "Device.LocalAgent.Agent.7.", false},
		{"Device.Reboot()", "Device.Reboot()", true},
		{"Device.Reboot()", "Device.Reboot!", false},
		{"Device.Reboot()", "Device.Reboot", false},
		{"Device.X.3.", "Device.X.3.", true},
		{"Device.X.3.", "Device.X.4.", false},
		{"Device.X.*.", "Device.X.4.", false},
		{"Device.X.*.", "Device.X.*.", true},
		{"Device.X.{i}.Y+.Z", "Device.X.1.Y+.Z", true},
		{"Device.X.{i}.Y+.Z", "Device.X.1.Y#1+.Z", false},
		{"Device.X.{i}.Y#2+.Z", "Device.X.1.Y#2+.Z", true},
		{"Device.X.{i}.Y#2+.Z", "Device.X.1.Y#3+.Z", false},
		{`Device.X.[A=="1"&&B<2].`, `Device.X.[ A == "1" && B < 2 ].`, true},
		{`Device.X.[A=="1"&&B<2].`, `Device.X.[A=="1"&&B<=2].`, false},
		{`Device.X.[A=="1"&&B<2].`, `Device.X.[A=="1"].`, false},
		{`Device.X.[A=="1"].`, `Device.X.[A==1].`, false},
		{"Device.X.{i}.", "Device.X.0.", false},
		{"Device.X.{j}.", "Device.X.1.", false},
		{"", "", false},
	}
	for _, tc := range tests {
		if got := pathname.Match(tc.pattern, tc.path); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
		pat, err1 := pathname.Parse(tc.pattern)
		p, err2 := pathname.Parse(tc.path)
		if err1 == nil && err2 == nil && p.Match(pat) != tc.want {
			t.Errorf("Path.Match(%q, %q) = %v, want %v", tc.path, tc.pattern, !tc.want, tc.want)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct{ in, obj, elem string }{
		{"Device.IP.Interface.1.Name", "Device.IP.Interface.1.", "Name"},
		{"Device.Reboot()", "Device.", "Reboot()"},
		{"Device.Boot!", "Device.", "Boot!"},
		{"Device.IP.Interface.1.", "Device.IP.Interface.1.", ""},
		{`Device.IP.Interface.[Name=="a.b"].Status`, `Device.IP.Interface.[Name=="a.b"].`, "Status"},
		{"Device.NAT.PortMapping.1.Interface+.Name", "Device.NAT.PortMapping.1.Interface+.", "Name"},
		{"Device.LocalAgent.Controller.{i}.SendOnBoardRequest()", "Device.LocalAgent.Controller.{i}.", "SendOnBoardRequest()"},
	}
	for _, tc := range tests {
		obj, elem, err := pathname.Split(tc.in)
		if err != nil || obj != tc.obj || elem != tc.elem {
			t.Errorf("Split(%q) = %q, %q, %v; want %q, %q", tc.in, obj, elem, err, tc.obj, tc.elem)
		}
		pobj, pelem := mustParse(t, tc.in).Split()
		if pelem != tc.elem || !pobj.Equal(mustParse(t, tc.obj)) {
			t.Errorf("Path.Split(%q) = %q, %q; want %q, %q", tc.in, pobj, pelem, tc.obj, tc.elem)
		}
	}
	if _, _, err := pathname.Split("Device..X"); err == nil {
		t.Error("Split accepted an invalid path")
	}
	rel, err := pathname.ParseRelative("Status")
	if err != nil {
		t.Fatal(err)
	}
	if obj, elem := rel.Split(); len(obj.Segments) != 0 || obj.String() != "" || elem != "Status" {
		t.Errorf("Split(Status) = %q, %q", obj, elem)
	}
}

func TestIsSearch(t *testing.T) {
	tests := []struct {
		in              string
		search, pattern bool
	}{
		{"Device.IP.Interface.1.Name", false, false},
		{"Device.IP.Interface.*.Name", true, false},
		{`Device.IP.Interface.[Name=="eth0"].`, true, false},
		{"Device.NAT.PortMapping.1.Interface+.Name", true, false},
		{"Device.WiFi.SSID.1.LowerLayers#2+.Name", true, false},
		{"Device.LocalAgent.Controller.{i}.", false, true},
		{"Device.NAT.PortMapping.{i}.Interface+.", true, true},
	}
	for _, tc := range tests {
		p := mustParse(t, tc.in)
		if p.IsSearch() != tc.search || p.IsPattern() != tc.pattern {
			t.Errorf("%q: IsSearch %v IsPattern %v, want %v %v", tc.in, p.IsSearch(), p.IsPattern(), tc.search, tc.pattern)
		}
	}
}

func TestLiteral(t *testing.T) {
	tests := []struct {
		expr, want string
	}{
		{`A=="plain"`, "plain"},
		{`A=="a%22b%25c"`, `a"b%c`},
		{`A=="%41%62"`, "Ab"},
		{`A=="%2f%2F%3a"`, "//:"},
		{`A==""`, ""},
		{`A==12`, "12"},
	}
	for _, tc := range tests {
		p, err := pathname.Parse("Device.X.[" + tc.expr + "].")
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got := p.Segments[2].Terms[0].Literal(); got != tc.want {
			t.Errorf("Literal of %s = %q, want %q", tc.expr, got, tc.want)
		}
	}
	if got := (pathname.Term{Value: "x%4", Quoted: true}).Literal(); got != "x%4" {
		t.Errorf("malformed escape decoded to %q, want it kept", got)
	}
}

func TestScanner(t *testing.T) {
	in := `Device.IP.Interface.[Name=="eth0" && Type!=1].LowerLayers#*+.Stats.`
	type seg struct {
		kind pathname.Token
		text string
		off  int
	}
	want := []seg{
		{pathname.TokenName, "Device", 0},
		{pathname.TokenName, "IP", 7},
		{pathname.TokenName, "Interface", 10},
		{pathname.TokenExpr, `Name=="eth0" && Type!=1`, 20},
		{pathname.TokenName, "LowerLayers", 46},
		{pathname.TokenListRefAll, "#*+", 57},
		{pathname.TokenName, "Stats", 61},
	}
	sc := pathname.NewScanner(in, pathname.ModeAbsolute)
	var got []seg
	var terms []pathname.Term
	for sc.Next() {
		s := sc.Segment()
		got = append(got, seg{s.Kind, s.Text, sc.Offset()})
		if s.Terms != nil {
			t.Errorf("scanner segment has Terms")
		}
		terms = sc.AppendTerms(terms)
		if sc.Kind() != 0 {
			t.Errorf("Kind() = %v before the end", sc.Kind())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d segments %v, want %v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("segment %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if sc.Kind() != pathname.KindObject {
		t.Errorf("Kind() = %v, want object", sc.Kind())
	}
	wantTerms := []pathname.Term{{Param: "Name", Op: pathname.OpEq, Value: "eth0", Quoted: true}, {Param: "Type", Op: pathname.OpNe, Value: "1"}}
	if len(terms) != 2 || terms[0] != wantTerms[0] || terms[1] != wantTerms[1] {
		t.Errorf("terms = %+v, want %+v", terms, wantTerms)
	}
	if sc.Next() {
		t.Error("Next after the end returned true")
	}
}

func TestScannerError(t *testing.T) {
	sc := pathname.NewScanner("Device.IP.Interface.0.Name", pathname.ModeAbsolute)
	n := 0
	for sc.Next() {
		n++
	}
	if n != 3 {
		t.Errorf("yielded %d segments before the error, want 3", n)
	}
	var pe *pathname.Error
	if !errors.As(sc.Err(), &pe) || pe.Offset != 20 {
		t.Errorf("Err() = %v", sc.Err())
	}
	if sc.Kind() != 0 || sc.Next() {
		t.Error("scanner continued after an error")
	}
}

func TestScannerTooLong(t *testing.T) {
	sc := pathname.NewScanner("Device."+strings.Repeat("A", pathname.MaxLen), pathname.ModeRelative)
	if sc.Next() {
		t.Fatal("scanned a segment of an over-long path")
	}
	var pe *pathname.Error
	if !errors.As(sc.Err(), &pe) || pe.Offset != pathname.MaxLen || !strings.Contains(pe.Msg, "longer") {
		t.Errorf("Err() = %v", sc.Err())
	}
	if _, err := pathname.Parse(strings.Repeat("A", pathname.MaxLen-1) + "."); err != nil {
		t.Errorf("path of MaxLen bytes: %v", err)
	}
}

func TestEqual(t *testing.T) {
	base := mustParse(t, `Device.X.[A=="1"&&B<2].Y.3.Z`)
	others := []string{
		`Device.X.[A=="1"&&B<2].Y.3.`,
		`Device.X.[A=="1"&&B<2].Y.4.Z`,
		`Device.X.[A=="1"&&B<=2].Y.3.Z`,
		`Device.X.[A=="1"&&B<3].Y.3.Z`,
		`Device.X.[A=="1"&&C<2].Y.3.Z`,
		`Device.X.[A==1&&B<2].Y.3.Z`,
		`Device.X.[A=="1"].Y.3.Z`,
		`Device.X.*.Y.3.Z`,
		`Device.X.[A=="1"&&B<2].Y.3.Z.W`,
		`Device.X.[A=="1"&&B<2].Y.3.Z()`,
	}
	for _, s := range others {
		if base.Equal(mustParse(t, s)) {
			t.Errorf("%q equals %q", base, s)
		}
	}
	if !base.Equal(mustParse(t, `Device.X.[ A == "1" && B < 2 ].Y.3.Z`)) {
		t.Error("blanks changed equality")
	}
	// Segments from a Scanner carry no Terms; they compare by their text.
	for _, in := range []string{`Device.X.[ A == "1" && B < 2 ].Y.3.Z`, `Device.X.[A=="1"&&B<3].Y.3.Z`, `Device.X.[A=="1"].Y.3.Z`} {
		var scanned pathname.Path
		sc := pathname.NewScanner(in, pathname.ModeAbsolute)
		for sc.Next() {
			scanned.Segments = append(scanned.Segments, sc.Segment())
		}
		scanned.Kind = sc.Kind()
		want := mustParse(t, in).Equal(base)
		if scanned.Equal(base) != want || base.Equal(scanned) != want {
			t.Errorf("scanned %q: Equal = %v, want %v", in, scanned.Equal(base), want)
		}
		both := mustParse(t, in)
		if !scanned.Equal(both) || !scanned.Equal(scanned) {
			t.Errorf("scanned %q differs from its parse", in)
		}
		if got := scanned.String(); !strings.Contains(got, "[") {
			t.Errorf("scanned String() = %q", got)
		}
	}
}

func TestStringers(t *testing.T) {
	checks := map[string]string{
		pathname.KindObject.String():      "object",
		pathname.KindEvent.String():       "event",
		pathname.Kind(99).String():        "Kind(99)",
		pathname.TokenExpr.String():       "expr",
		pathname.TokenListRefAll.String(): "listrefall",
		pathname.Token(99).String():       "Token(99)",
		pathname.OpContains.String():      "~=",
		pathname.OpGe.String():            ">=",
		pathname.Op(99).String():          "Op(99)",
	}
	for got, want := range checks {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	long := "Device." + strings.Repeat("Abc.", 40) + "0."
	_, err := pathname.Parse(long)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "at offset") || !strings.Contains(msg, `..."`) || len(msg) > 200 {
		t.Errorf("Error() = %q", msg)
	}
}
