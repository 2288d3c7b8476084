package pathname_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/pathname"
)

// validCase is a path that must parse. shape spells out the segments (see
// shape) and canon is the expected String() when it differs from in.
type validCase struct {
	name  string
	mode  pathname.Mode
	in    string
	shape string
	canon string
}

var validCases = []validCase{
	// Object, object instance, parameter, command and event paths [R-ARC.7].
	{name: "root object [R-ARC.7]", in: "Device.", shape: "N:Device /object"},
	{name: "object", in: "Device.LocalAgent.", shape: "N:Device N:LocalAgent /object"},
	{name: "object instance", in: "Device.IP.Interface.3.", shape: "N:Device N:IP N:Interface I:3 /object"},
	{name: "parameter", in: "Device.IP.Interface.3.Name", shape: "N:Device N:IP N:Interface I:3 N:Name /parameter"},
	{name: "command", in: "Device.Reboot()", shape: "N:Device N:Reboot /command"},
	{name: "event", in: "Device.Boot!", shape: "N:Device N:Boot /event"},
	{name: "event on instance", in: "Device.LocalAgent.Threshold.1.Triggered!", shape: "N:Device N:LocalAgent N:Threshold I:1 N:Triggered /event"},
	{name: "largest instance number", in: "Device.IP.Interface.4294967295.", shape: "N:Device N:IP N:Interface I:4294967295 /object"},
	{name: "underscores and digits", in: "_Dev._a9.B_1", shape: "N:_Dev N:_a9 N:B_1 /parameter"},
	{name: "vendor prefix with hyphen", in: "Device.X_EXAMPLE-COM_Feature.Enable", shape: "N:Device N:X_EXAMPLE-COM_Feature N:Enable /parameter"},
	// Wildcards [R-ARC.10].
	{name: "wildcard object [R-ARC.10]", in: "Device.IP.Interface.*.", shape: "N:Device N:IP N:Interface W /object"},
	{name: "wildcard parameter", in: "Device.IP.Interface.*.Type", shape: "N:Device N:IP N:Interface W N:Type /parameter"},
	// Unique keys and search expressions [R-ARC.9].
	{name: "unique key [R-ARC.9]", in: `Device.IP.Interface.[Alias=="cpe-1"].`, shape: `N:Device N:IP N:Interface E:Alias,==,"cpe-1" /object`},
	{name: "compound key", in: `Device.NAT.PortMapping.[RemoteHost==""&&ExternalPort==0&&Protocol=="TCP"].`,
		shape: `N:Device N:NAT N:PortMapping E:RemoteHost,==,"";ExternalPort,==,0;Protocol,==,"TCP" /object`},
	{name: "two expressions", in: `Device.IP.Interface.[Name=="eth0"].IPv4Address.[Status=="Enabled"].IPAddress`,
		shape: `N:Device N:IP N:Interface E:Name,==,"eth0" N:IPv4Address E:Status,==,"Enabled" N:IPAddress /parameter`},
	{name: "dotted expression parameter", in: `Device.IP.Interface.[Type=="Normal"&&Stats.ErrorsSent>0].IPv4Address.[AddressingType=="Static"].IPAddress`,
		shape: `N:Device N:IP N:Interface E:Type,==,"Normal";Stats.ErrorsSent,>,0 N:IPv4Address E:AddressingType,==,"Static" N:IPAddress /parameter`},
	{name: "boolean constant", in: "Device.DSL.Line.[Enable==true].CurrentProfile", shape: "N:Device N:DSL N:Line E:Enable,==,true N:CurrentProfile /parameter"},
	{name: "numeric boolean", in: "Device.DSL.Line.[Enable==1].CurrentProfile", shape: "N:Device N:DSL N:Line E:Enable,==,1 N:CurrentProfile /parameter"},
	{name: "dateTime constant", in: "Device.IP.Interface.*.IPv6Address.[ValidLifetime<2021-06-06T08:00:00Z].IPAddress",
		shape: "N:Device N:IP N:Interface W N:IPv6Address E:ValidLifetime,<,2021-06-06T08:00:00Z N:IPAddress /parameter"},
	{name: "leading zero constant", in: "Device.USB.USBHosts.Host.*.Device.[DeviceClass==08].",
		shape: "N:Device N:USB N:USBHosts N:Host W N:Device E:DeviceClass,==,08 /object"},
	{name: "contains string", in: `Device.PCP.Client.*.Server.[Capabilities~="IPv6Firewall"].`,
		shape: `N:Device N:PCP N:Client W N:Server E:Capabilities,~=,"IPv6Firewall" /object`},
	{name: "contains number", in: "Device.PeriodicStatistics.SampleSet.[SampleSeconds~=5].",
		shape: "N:Device N:PeriodicStatistics N:SampleSet E:SampleSeconds,~=,5 /object"},
	{name: "every operator", in: "Device.X.[A!=1&&B<2&&C>3&&D<=4&&E>=-5&&F==+6&&G==1.5].",
		shape: "N:Device N:X E:A,!=,1;B,<,2;C,>,3;D,<=,4;E,>=,-5;F,==,+6;G,==,1.5 /object"},
	{name: "blanks around operator [R-ARC.9a] [R-ARC.9b]", in: `Device.IP.Interface.[Type == "Normal"].Status`, canon: `Device.IP.Interface.[Type=="Normal"].Status`,
		shape: `N:Device N:IP N:Interface E:Type,==,"Normal" N:Status /parameter`},
	{name: "blanks everywhere in brackets", in: "Device.X.[ A == 1 &&\tB\t!=\t\"x\" ].", canon: `Device.X.[A==1&&B!="x"].`,
		shape: `N:Device N:X E:A,==,1;B,!=,"x" /object`},
	{name: "percent escapes", in: `Device.X.[Name=="a%22b%25c"].`, shape: `N:Device N:X E:Name,==,"a%22b%25c" /object`},
	{name: "literal with separators", in: `Device.X.[Name=="a].b&&c[*"].Y`, shape: `N:Device N:X E:Name,==,"a].b&&c[*" N:Y /parameter`},
	{name: "utf-8 literal", in: `Device.X.[Name=="café"].`, shape: `N:Device N:X E:Name,==,"café" /object`},
	{name: "key on command", in: `Device.IP.Interface.[Name=="eth0"].Reset()`, shape: `N:Device N:IP N:Interface E:Name,==,"eth0" N:Reset /command`},
	// Reference following and lists of references [R-ARC.11].
	{name: "reference", in: "Device.NAT.PortMapping.1.Interface+.Name", shape: "N:Device N:NAT N:PortMapping I:1 N:Interface R N:Name /parameter"},
	{name: "reference to object", in: "Device.NAT.PortMapping.1.Interface+.", shape: "N:Device N:NAT N:PortMapping I:1 N:Interface R /object"},
	{name: "list reference", in: "Device.WiFi.SSID.1.LowerLayers#1+.Name", shape: "N:Device N:WiFi N:SSID I:1 N:LowerLayers L:1 N:Name /parameter"},
	{name: "list reference all", in: "Device.WiFi.SSID.1.LowerLayers#*+.Name", shape: "N:Device N:WiFi N:SSID I:1 N:LowerLayers LA N:Name /parameter"},
	{name: "chained references", in: "Device.A.1.B+.C#12+.D.2.E", shape: "N:Device N:A I:1 N:B R N:C L:12 N:D I:2 N:E /parameter"},
	{name: "reference in expression", in: `Device.WiFi.AccessPoint.[SSIDReference+.SSID=="MyHome"].AssociatedDevice.[OperatingStandard=="ac"].SignalStrength`,
		shape: `N:Device N:WiFi N:AccessPoint E:SSIDReference+.SSID,==,"MyHome" N:AssociatedDevice E:OperatingStandard,==,"ac" N:SignalStrength /parameter`},
	{name: "list references in expression", in: `Device.X.[LowerLayers#2+.Name=="eth0"&&LowerLayers#*+.Stats.BytesSent>0].`,
		shape: `N:Device N:X E:LowerLayers#2+.Name,==,"eth0";LowerLayers#*+.Stats.BytesSent,>,0 /object`},
	// Supported data model patterns.
	{name: "pattern", in: "Device.LocalAgent.Controller.{i}.MTP.{i}.", shape: "N:Device N:LocalAgent N:Controller P N:MTP P /object"},
	{name: "pattern without final {i}", in: "Device.WiFi.AccessPoint.{i}.AssociatedDevice.", shape: "N:Device N:WiFi N:AccessPoint P N:AssociatedDevice /object"},
	{name: "pattern command", in: "Device.LocalAgent.Controller.{i}.SendOnBoardRequest()", shape: "N:Device N:LocalAgent N:Controller P N:SendOnBoardRequest /command"},
	{name: "number before {i}", in: "Device.X.1.Y.{i}.Z", shape: "N:Device N:X I:1 N:Y P N:Z /parameter"},
	{name: "pattern with reference", in: "Device.NAT.PortMapping.{i}.Interface+.Name", shape: "N:Device N:NAT N:PortMapping P N:Interface R N:Name /parameter"},
	// Relative paths.
	{name: "relative parameter", mode: pathname.ModeRelative, in: "Status", shape: "N:Status /parameter"},
	{name: "relative sub-object parameter", mode: pathname.ModeRelative, in: "Stats.BytesSent", shape: "N:Stats N:BytesSent /parameter"},
	{name: "relative object", mode: pathname.ModeRelative, in: "Stats.", shape: "N:Stats /object"},
	{name: "relative command", mode: pathname.ModeRelative, in: "Reboot()", shape: "N:Reboot /command"},
	{name: "relative event", mode: pathname.ModeRelative, in: "Boot!", shape: "N:Boot /event"},
	{name: "relative argument pattern", mode: pathname.ModeRelative, in: "Result.{i}.Radio", shape: "N:Result P N:Radio /parameter"},
	{name: "relative instance", mode: pathname.ModeRelative, in: "Result.1.", shape: "N:Result I:1 /object"},
	{name: "relative reference", mode: pathname.ModeRelative, in: "Interface+.Name", shape: "N:Interface R N:Name /parameter"},
	// Reference parameter values.
	{name: "reference value", mode: pathname.ModeReference, in: "Device.IP.Interface.1", canon: "Device.IP.Interface.1.",
		shape: "N:Device N:IP N:Interface I:1 /object"},
	{name: "reference value by key [R-ARC.11]", mode: pathname.ModeReference, in: `Device.IP.Interface.[Name=="eth0"]`, canon: `Device.IP.Interface.[Name=="eth0"].`,
		shape: `N:Device N:IP N:Interface E:Name,==,"eth0" /object`},
	{name: "reference value with dot", mode: pathname.ModeReference, in: "Device.IP.Interface.1.", shape: "N:Device N:IP N:Interface I:1 /object"},
	{name: "reference value to parameter", mode: pathname.ModeReference, in: "Device.IP.Interface.1.Name", shape: "N:Device N:IP N:Interface I:1 N:Name /parameter"},
}

// shape renders the structure of p: one token per segment and the kind.
func shape(p pathname.Path) string {
	var b strings.Builder
	for _, s := range p.Segments {
		switch s.Kind {
		case pathname.TokenName:
			b.WriteString("N:" + s.Text)
		case pathname.TokenInstance:
			b.WriteString("I:" + strconv.FormatUint(uint64(s.Num), 10))
		case pathname.TokenWildcard:
			b.WriteString("W")
		case pathname.TokenPlaceholder:
			b.WriteString("P")
		case pathname.TokenRef:
			b.WriteString("R")
		case pathname.TokenListRef:
			b.WriteString("L:" + strconv.FormatUint(uint64(s.Num), 10))
		case pathname.TokenListRefAll:
			b.WriteString("LA")
		case pathname.TokenExpr:
			b.WriteString("E:" + termsShape(s.Terms))
		default:
			b.WriteString("?" + s.Kind.String())
		}
		b.WriteByte(' ')
	}
	return b.String() + "/" + p.Kind.String()
}

func termsShape(ts []pathname.Term) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		v := t.Value
		if t.Quoted {
			v = `"` + v + `"`
		}
		parts[i] = t.Param + "," + t.Op.String() + "," + v
	}
	return strings.Join(parts, ";")
}

func parseMode(s string, m pathname.Mode) (pathname.Path, error) {
	switch m {
	case pathname.ModeRelative:
		return pathname.ParseRelative(s)
	case pathname.ModeReference:
		return pathname.ParseReference(s)
	}
	return pathname.Parse(s)
}

func TestParseValid(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseMode(tc.in, tc.mode)
			if err != nil {
				t.Fatalf("parse %q: %v", tc.in, err)
			}
			if got := shape(p); got != tc.shape {
				t.Errorf("shape of %q\n got %s\nwant %s", tc.in, got, tc.shape)
			}
			want := tc.canon
			if want == "" {
				want = tc.in
			}
			if got := p.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			if got := string(p.AppendTo([]byte("x"))); got != "x"+want {
				t.Errorf("AppendTo = %q, want %q", got, "x"+want)
			}
		})
	}
}

// TestRoundTrip checks that the canonical form parses back to an equal
// value and is a fixed point of formatting.
func TestRoundTrip(t *testing.T) {
	for _, tc := range validCases {
		p, err := parseMode(tc.in, tc.mode)
		if err != nil {
			t.Fatalf("parse %q: %v", tc.in, err)
		}
		out := p.String()
		q, err := parseMode(out, tc.mode)
		if err != nil {
			t.Fatalf("%s: reparse %q: %v", tc.name, out, err)
		}
		if !p.Equal(q) || !q.Equal(p) {
			t.Errorf("%s: %q reparsed from %q is not equal", tc.name, out, tc.in)
		}
		if q.String() != out {
			t.Errorf("%s: String not stable: %q then %q", tc.name, out, q.String())
		}
	}
}

// invalidCase is a path that must fail. The error offset is off when it
// is set, else the last index of at in in, or len(in) when at is empty.
type invalidCase struct {
	name string
	mode pathname.Mode
	in   string
	at   string
	off  int
	msg  string
}

var invalidCases = []invalidCase{
	{name: "empty", in: "", msg: "empty path"},
	{name: "no dot", in: "Device", msg: "no '.'"},
	{name: "command without dot", in: "Reboot()", at: "(", msg: "no '.'"},
	{name: "event without dot", in: "Boot!", at: "!", msg: "no '.'"},
	{name: "root reference", mode: pathname.ModeReference, in: "Device#1+", at: "#", msg: "root object"},
	{name: "root reference object", in: "Device+.", at: "+", msg: "root object"},
	{name: "leading dot", in: ".Device", at: ".Device", msg: "empty segment"},
	{name: "double dot", in: "Device..IP", at: ".IP", msg: "empty segment"},
	{name: "trailing double dot", in: "Device.IP..", at: ".", msg: "empty segment"},
	{name: "name starts with digit at root", in: "9Device.", at: "9", msg: "must start with a letter"},
	{name: "root instance", in: "Device.1.", at: "1.", msg: "root object"},
	{name: "instance zero [R-ARC.8]", in: "Device.IP.Interface.0.", at: "0.", msg: "0 is not allowed"},
	{name: "instance leading zero", in: "Device.IP.Interface.01.", at: "01.", msg: "leading zero"},
	{name: "instance overflow", in: "Device.IP.Interface.4294967296.", at: "4294967296", msg: "out of range"},
	{name: "instance too many digits", in: "Device.IP.Interface.99999999999.", at: "99999999999.", msg: "out of range"},
	{name: "negative instance", in: "Device.IP.Interface.-1.", at: "-1", msg: "unexpected character"},
	{name: "instance without final dot", in: "Device.IP.Interface.3", msg: "missing '.' after instance"},
	{name: "instance with garbage", in: "Device.IP.Interface.3a.", at: "a.", msg: "expected '.' after instance"},
	{name: "instance after instance", in: "Device.IP.Interface.1.2.", at: "2.", msg: "must follow a table name"},
	{name: "expression after expression", in: `Device.X.[A==1].[B==2].`, at: "[B", msg: "must follow a table name"},
	{name: "unterminated bracket", in: `Device.IP.Interface.[Name=="eth0"`, at: "[", msg: "unterminated '['"},
	{name: "unterminated literal", in: `Device.IP.Interface.[Name=="eth0].`, msg: "unterminated string literal"},
	{name: "empty expression", in: "Device.IP.Interface.[].", at: "[", msg: "empty expression"},
	{name: "blank expression", in: "Device.IP.Interface.[ ].", at: "[", msg: "empty expression"},
	{name: "single equals", in: `Device.IP.Interface.[Name="eth0"].`, at: `="`, msg: "expected an operator"},
	{name: "reversed operator", in: "Device.X.[A=<1].", at: "=<", msg: "expected an operator"},
	{name: "not-equal diamond", in: "Device.X.[A<>1].", at: ">1", msg: "expected a value"},
	{name: "triple equals", in: "Device.X.[A===1].", at: "=1]", msg: "expected a value"},
	{name: "no operator", in: "Device.X.[A].", at: "]", msg: "expected an operator"},
	{name: "no value", in: "Device.X.[A==].", at: "]", msg: "expected a value"},
	{name: "bare percent value", in: "Device.X.[A==%].", at: "%", msg: "expected a value"},
	{name: "bare quote in value", in: `Device.X.[A==a"b"].`, at: `"b`, msg: `expected "&&"`},
	{name: "no parameter", in: "Device.X.[==1].", at: "==", msg: "expected a parameter name"},
	{name: "dangling and", in: "Device.X.[A==1&&].", at: "].", msg: "expected a parameter name"},
	{name: "single ampersand", in: "Device.X.[A==1&B==2].", at: "&", msg: `expected "&&"`},
	{name: "or is not supported", in: "Device.X.[A==1||B==2].", at: "||", msg: `expected "&&"`},
	{name: "two values", in: "Device.X.[A==eth0 x].", at: "x]", msg: `expected "&&"`},
	{name: "text after literal", in: `Device.X.[A==""x].`, at: "x]", msg: `expected "&&"`},
	{name: "child table wildcard in expression", in: `Device.IP.Interface.[Type=="Normal"&&IPv4Address.*.AddressingType=="Static"].Status`, at: "*", msg: "table instance"},
	{name: "child table instance in expression", in: "Device.X.[Y.1.Z==1].", at: "1.Z", msg: "table instance"},
	{name: "dot before operator", in: "Device.X.[A.==1].", at: "==", msg: "expected a parameter name"},
	{name: "reference without dot in expression", in: "Device.X.[A+B==1].", at: "B", msg: "expected '.' after reference"},
	{name: "list index zero in expression", in: "Device.X.[A#0+.B==1].", at: "0+", msg: "0 is not allowed"},
	{name: "list reference without plus in expression", in: "Device.X.[A#2.B==1].", at: ".B", msg: "expected '+'"},
	{name: "nested bracket", in: "Device.X.[A==[B]].", at: "[B", msg: "expected a value"},
	{name: "curly search", in: `Device.IP.Interface.{Type=="Normal"}.Status`, at: "{", msg: `expected "{i}"`},
	{name: "short percent escape", in: `Device.X.[Name=="a%2"].`, at: "%", msg: "percent escape"},
	{name: "bare percent", in: `Device.X.[Name=="100%"].`, at: "%", msg: "percent escape"},
	{name: "non-hex percent", in: `Device.X.[Name=="%zz"].`, at: "%", msg: "percent escape"},
	{name: "text after expression", in: `Device.X.[A=="x"]Status`, at: "Status", msg: "expected '.' after instance"},
	{name: "extra close bracket", in: "Device.X.[A==1]].", at: "].", msg: "expected '.' after instance"},
	{name: "open paren only", in: "Device.Reboot(", at: "(", msg: `"()"`},
	{name: "text after command", in: "Device.Reboot()x", at: "(", msg: `"()"`},
	{name: "dot after command", in: "Device.Reboot().", at: "(", msg: `"()"`},
	{name: "arguments in command", in: "Device.Reboot(1)", at: "(", msg: `"()"`},
	{name: "text after event", in: "Device.Boot!x", at: "x", msg: "after '!'"},
	{name: "dot after event", in: "Device.Boot!.", at: ".", msg: "after '!'"},
	{name: "trailing blank", in: "Device.IP.Interface.1.Name ", at: " ", msg: "unexpected character"},
	{name: "trailing newline", in: "Device.IP.\n", at: "\n", msg: "unexpected character"},
	{name: "blank after dot", in: "Device. IP", at: " ", msg: "unexpected character"},
	{name: "bad name character", in: "Device.IP$.", at: "$", msg: "unexpected character"},
	{name: "non-ascii name", in: "Device.Dévice.", at: "é", msg: "unexpected character"},
	{name: "reference without dot at end", in: "Device.NAT.PortMapping.1.Interface+", msg: "missing '.' after reference"},
	{name: "reference followed by name", in: "Device.NAT.PortMapping.1.Interface+Name", at: "Name", msg: "expected '.' after reference"},
	{name: "double plus", in: "Device.X.Y++.", at: "+.", msg: "expected '.' after reference"},
	{name: "list index without plus", in: "Device.X.Y#1.Name", at: ".Name", msg: "expected '+'"},
	{name: "list index zero", in: "Device.X.Y#0+.Name", at: "0", msg: "0 is not allowed"},
	{name: "list index missing", in: "Device.X.Y#+.Name", at: "+", msg: "expected list index"},
	{name: "list index leading zero", in: "Device.X.Y#01+.Name", at: "01", msg: "leading zero"},
	{name: "hash at end", in: "Device.X.Y#", msg: "expected list index"},
	{name: "instance after reference", in: "Device.X.Y+.1.", at: "1.", msg: "must follow a table name"},
	{name: "reference after instance", in: "Device.X.1+.", at: "+", msg: "expected '.' after instance"},
	{name: "plus as name", in: "Device.X.Y+.+.", at: "+.", msg: "unexpected character"},
	{name: "number after {i}", in: "Device.X.{i}.Y.1.", at: "1.", msg: `after "{i}"`},
	{name: "wildcard after {i}", in: "Device.X.{i}.Y.*.", at: "*", msg: `after "{i}"`},
	{name: "{i} after wildcard", in: "Device.X.*.Y.{i}.", at: "{", msg: "search path"},
	{name: "{i} after expression", in: "Device.X.[A==1].Y.{i}.", at: "{", msg: "search path"},
	{name: "other placeholder", in: "Device.X.{j}.", at: "{", msg: `expected "{i}"`},
	{name: "truncated placeholder", in: "Device.X.{i", at: "{", msg: `expected "{i}"`},
	{name: "too long", in: "Device." + strings.Repeat("A.", pathname.MaxLen/2), off: pathname.MaxLen, msg: "longer than"},
	{name: "too many segments", in: strings.Repeat("A.", pathname.MaxSegments+1), off: 2 * pathname.MaxSegments, msg: "segments"},
	{name: "too many terms", in: "Device.X.[" + strings.Repeat("A==1&&", pathname.MaxTerms) + "A==1].", off: len("Device.X.[") + 6*pathname.MaxTerms, msg: "expression components"},
	{name: "relative empty", mode: pathname.ModeRelative, in: "", msg: "empty path"},
	{name: "relative starting with number", mode: pathname.ModeRelative, in: "1.Name", at: "1", msg: "must start with a letter"},
	{name: "relative double dot", mode: pathname.ModeRelative, in: "Stats..X", at: ".X", msg: "empty segment"},
	{name: "reference value without dot", mode: pathname.ModeReference, in: "Device", msg: "no '.'"},
	{name: "reference value after reference", mode: pathname.ModeReference, in: "Device.X.Y+", msg: "missing '.' after reference"},
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseMode(tc.in, tc.mode)
			if err == nil {
				t.Fatalf("parse %q = %s, want error", tc.in, shape(p))
			}
			var pe *pathname.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *pathname.Error", err, err)
			}
			want := len(tc.in)
			switch {
			case tc.off > 0:
				want = tc.off
			case tc.at != "":
				want = strings.LastIndex(tc.in, tc.at)
			}
			if pe.Offset != want || !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("got offset %d %q, want offset %d containing %q", pe.Offset, pe.Msg, want, tc.msg)
			}
			if pe.Path != tc.in {
				t.Errorf("Error.Path = %q, want the input", pe.Path)
			}
			if code := pe.USPErrorCode(); code != 7008 {
				t.Errorf("USPErrorCode() = %d, want 7008", code)
			}
			if !strings.HasPrefix(err.Error(), "pathname: ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}
