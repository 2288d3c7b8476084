package conformance_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/mtp/ws"
)

// ExampleMTPTLSSetup runs the MQTT and STOMP cases, with those over TLS,
// against an Agent reached over WebSocket: the runner's own servers
// present server.pem, which the Agent trusts for 127.0.0.1, and 4.1
// checks that it refuses expired.pem.
func ExampleMTPTLSSetup() {
	cert, err := tls.LoadX509KeyPair("server.pem", "server.key")
	if err != nil {
		log.Fatal(err)
	}
	expired, err := tls.LoadX509KeyPair("expired.pem", "expired.key")
	if err != nil {
		log.Fatal(err)
	}
	tr := ws.NewClient(&ws.Options{URL: "ws://127.0.0.1:5683/usp", EndpointID: "proto::runner"})
	res, err := conformance.Run(context.Background(), conformance.Options{
		AgentID: "os::012345-CPE1", ControllerID: "proto::runner", Transport: tr,
		MTPTLS: &conformance.MTPTLSSetup{Certificate: cert, Expired: &expired},
	}, conformance.Match("4.1,6.*,11.*"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(conformance.Summary(res))
}
