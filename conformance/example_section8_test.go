package conformance_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/discovery"
)

// VendorClasses reads what an Agent's DHCP client put in option 124.
func ExampleVendorClasses() {
	classes, err := conformance.VendorClasses(discovery.VendorClassV4(), discovery.EnterpriseBBF)
	fmt.Println(classes, err)
	// Output: [usp] <nil>
}

// ListenDNS answers the DNS-SD records of one Controller under a domain,
// for an Agent that DHCP gave the bare FQDN.
func ExampleListenDNS() {
	s, err := conformance.ListenDNS(context.Background(), "127.0.0.1:0", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	s.SetController(&conformance.DNSController{Domain: "tp469.test", EndpointID: "proto::runner", Type: discovery.ControllerWebSocket,
		Host: "controller.tp469.test", Addr: netip.MustParseAddr("127.0.0.1"), Port: 8080, Path: "/usp"})
	svcs, err := discovery.LookupDNS(context.Background(), s.Addr().String(), "tp469.test", []string{discovery.ControllerWebSocket})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(svcs[0].Instance, svcs[0].Port, svcs[0].Addrs)
	// Output: proto::runner 8080 [127.0.0.1]
}

// ListenDHCP serves DHCPv4 on an interface of the Agent's link (root, and
// an IPv4 address on it); a case then sets the options and reads the
// requests.
func ExampleListenDHCP() {
	s, err := conformance.ListenDHCP(context.Background(), "eth1", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	s.SetDNS(s.Addr())
	s.SetVendorInfo(&discovery.VendorInfo{ControllerURL: "tp469.test", EndpointID: "proto::runner"})
	for _, m := range s.Requests(time.Time{}) {
		fmt.Println(m.Type, m.HW, m.Requested(discovery.OptionV4VendorInfo))
	}
}
