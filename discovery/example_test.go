package discovery_test

import (
	"context"
	"fmt"
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
