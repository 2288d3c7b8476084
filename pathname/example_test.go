package pathname_test

import (
	"errors"
	"fmt"

	"github.com/uspkit/uspkit/pathname"
)

func ExampleParse() {
	p, err := pathname.Parse(`Device.IP.Interface.[Name=="eth0"].IPv4Address.*.IPAddress`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Kind, p.IsSearch())
	for _, s := range p.Segments {
		fmt.Printf("%s %q\n", s.Kind, s.Text)
	}
	// Output:
	// parameter true
	// name "Device"
	// name "IP"
	// name "Interface"
	// expr "Name==\"eth0\""
	// name "IPv4Address"
	// wildcard "*"
	// name "IPAddress"
}

func ExampleParse_error() {
	_, err := pathname.Parse("Device.IP.Interface.0.Name")
	fmt.Println(err)
	var pe *pathname.Error
	if errors.As(err, &pe) {
		fmt.Println(pe.Offset, pe.USPErrorCode())
	}
	// Output:
	// pathname: instance number 0 is not allowed (numbering starts at 1) at offset 20 in "Device.IP.Interface.0.Name"
	// 20 7008
}

func ExampleParseRelative() {
	p, _ := pathname.ParseRelative("Stats.BytesSent")
	obj, elem := p.Split()
	fmt.Println(p.Kind, obj, elem)
	// Output: parameter Stats. BytesSent
}

func ExampleParseReference() {
	p, _ := pathname.ParseReference("Device.IP.Interface.1")
	fmt.Println(p.Kind, p)
	// Output: object Device.IP.Interface.1.
}

func ExampleNewScanner() {
	sc := pathname.NewScanner("Device.WiFi.SSID.1.LowerLayers#*+.Name", pathname.ModeAbsolute)
	for sc.Next() {
		s := sc.Segment()
		fmt.Println(sc.Offset(), s.Kind, s.Text, s.Num)
	}
	fmt.Println(sc.Kind(), sc.Err())
	// Output:
	// 0 name Device 0
	// 7 name WiFi 0
	// 12 name SSID 0
	// 17 instance 1 1
	// 19 name LowerLayers 0
	// 30 listrefall #*+ 0
	// 34 name Name 0
	// parameter <nil>
}

func ExampleScanner_AppendTerms() {
	sc := pathname.NewScanner(`Device.NAT.PortMapping.[RemoteHost==""&&ExternalPort==0&&Protocol=="TCP"].`, pathname.ModeAbsolute)
	var terms []pathname.Term
	for sc.Next() {
		terms = sc.AppendTerms(terms)
	}
	for _, t := range terms {
		fmt.Printf("%s %s %q quoted=%v\n", t.Param, t.Op, t.Value, t.Quoted)
	}
	// Output:
	// RemoteHost == "" quoted=true
	// ExternalPort == "0" quoted=false
	// Protocol == "TCP" quoted=true
}

func ExampleAppendPattern() {
	buf := make([]byte, 0, 64)
	buf, err := pathname.AppendPattern(buf, `Device.LocalAgent.Controller.2.MTP.[Alias=="ws"].Enable`)
	fmt.Println(string(buf), err)
	// Output: Device.LocalAgent.Controller.{i}.MTP.{i}.Enable <nil>
}

func ExampleMatch() {
	pattern := "Device.LocalAgent.Controller.{i}.MTP.{i}."
	fmt.Println(pathname.Match(pattern, "Device.LocalAgent.Controller.1.MTP.2."))
	fmt.Println(pathname.Match(pattern, "Device.LocalAgent.Controller.1."))
	// Output:
	// true
	// false
}

func ExampleSplit() {
	obj, elem, _ := pathname.Split("Device.LocalAgent.Request.3.Cancel()")
	fmt.Println(obj, elem)
	// Output: Device.LocalAgent.Request.3. Cancel()
}

func ExamplePath_String() {
	p, _ := pathname.Parse(`Device.IP.Interface.[Type == "Normal" && Stats.ErrorsSent > 0].Status`)
	fmt.Println(p)
	// Output: Device.IP.Interface.[Type=="Normal"&&Stats.ErrorsSent>0].Status
}

func ExamplePath_Pattern() {
	p, _ := pathname.Parse("Device.NAT.PortMapping.4.Interface+.Name")
	fmt.Println(p.Pattern())
	// Output: Device.NAT.PortMapping.{i}.Interface+.Name
}

func ExamplePath_Match() {
	pat, _ := pathname.Parse("Device.IP.Interface.{i}.Enable")
	p, _ := pathname.Parse(`Device.IP.Interface.[Name=="eth0"].Enable`)
	fmt.Println(p.Match(pat))
	// Output: true
}

func ExamplePath_Split() {
	p, _ := pathname.Parse("Device.Boot!")
	obj, elem := p.Split()
	fmt.Println(obj, elem)
	// Output: Device. Boot!
}

func ExampleTerm_Literal() {
	p, _ := pathname.Parse(`Device.X.[Name=="say %22hi%22 100%25"].`)
	t := p.Segments[2].Terms[0]
	fmt.Println(t.Value)
	fmt.Println(t.Literal())
	// Output:
	// say %22hi%22 100%25
	// say "hi" 100%
}

func ExamplePath_AppendTo() {
	p, _ := pathname.Parse("Device.LocalAgent.Controller.1.MTP.2.Enable")
	obj, elem := p.Split()
	buf := obj.AppendTo(make([]byte, 0, 64))
	buf = append(buf, elem...)
	fmt.Println(string(buf))
	// Output: Device.LocalAgent.Controller.1.MTP.2.Enable
}

func ExamplePath_Equal() {
	a, _ := pathname.Parse(`Device.IP.Interface.[Name == "eth0"].`)
	b, _ := pathname.Parse(`Device.IP.Interface.[Name=="eth0"].`)
	fmt.Println(a.Equal(b))
	// Output: true
}
