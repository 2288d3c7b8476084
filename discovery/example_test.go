package discovery_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/uspkit/uspkit/discovery"
)

// A Controller advertises its MQTT MTP, and an Agent on the same link
// browses for Controllers.
func Example() {
	o := &discovery.Options{Interface: "lo", Port: 53530}
	r, err := discovery.Advertise(context.Background(), o, discovery.Service{
		Instance: "proto::controller", Type: discovery.ControllerMQTT,
		Host: "127.0.0.1", Port: 1883, Path: "usp/controller",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = discovery.Browse(ctx, o, []string{discovery.ControllerMQTT}, func(s discovery.Service) {
		fmt.Println(s.Instance, s.Protocol(), s.Port, s.Path)
		cancel()
	})
	// Output: proto::controller MQTT 1883 usp/controller
}

func ExampleServiceType() {
	fmt.Println(discovery.ServiceType(true, "WebSocket"), discovery.ServiceType(false, "MQTT"))
	// Output: _usp-ctr-ws._tcp _usp-agt-mqtt._tcp
}

// The BBF options of a DHCPv4 lease, as busybox udhcpc passes them to its
// script.
func ExampleReadLease() {
	l, err := discovery.ReadLease(strings.NewReader("interface=wan\nserverid=192.0.2.1\nopt125=00000de91d19157773733a2f2f" +
		"6374722e6578616d706c652f7573701a0450524f56\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	v := l.Info()
	fmt.Println(l.Interface, l.Server, v.ControllerURL, v.ProvisioningCode)
	// Output: wan 192.0.2.1 wss://ctr.example/usp PROV
}

func ExampleParseControllerURL() {
	e, _ := discovery.ParseControllerURL("mqtts://broker.example:8883/usp/controller")
	fmt.Println(e.Protocol, e.Host, e.Port, e.Path, e.Encrypt)
	// Output: MQTT broker.example 8883 usp/controller true
}

func ExampleVendorInfo_AppendV4() {
	v := discovery.VendorInfo{ProvisioningCode: "PROV", EndpointID: "proto::ctr"}
	b, _ := v.AppendV4(nil)
	fmt.Printf("%x\n", b)
	// Output: 00000de9121a0450524f561d0a70726f746f3a3a637472
}

// AnswerHost answers the mDNS questions for one ".local." name, as a
// Controller whose URL names it does, and tells who asked.
func ExampleAnswerHost() {
	h, err := discovery.AnswerHost(context.Background(), &discovery.Options{Interface: "eth0"}, "controller.local",
		netip.MustParseAddr("192.0.2.10"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()
	time.Sleep(10 * time.Second)
	for _, q := range h.Queries() {
		fmt.Println(q.From, q.Type)
	}
}
