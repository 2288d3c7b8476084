package uds_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/uds"
)

// A USP Service (client) and the USP Broker (server) exchange Records over
// the Broker's socket; each learns the other's Endpoint ID from the
// Handshake.
func Example() {
	dir, err := os.MkdirTemp("", "uds-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "broker_controller_path")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	broker := uds.NewServer(&uds.Options{Path: path, EndpointID: "os::012345-broker"})
	defer broker.Close()
	wg.Go(func() {
		broker.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
			fmt.Printf("broker got %q from %s\n", in.Record, in.From.EndpointID)
			broker.Send(ctx, in.From.Address, []byte("reply"))
		}))
	})

	replied := make(chan struct{})
	service := uds.NewClient(&uds.Options{
		Path:       path,
		EndpointID: "os::012345-service",
		// Should the service start first, retry soon; the default
		// waits 1 to 5 seconds [R-UDS.5].
		MinWait: 10 * time.Millisecond,
	})
	defer service.Close()
	wg.Go(func() {
		service.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
			fmt.Printf("service got %q from %s\n", in.Record, in.From.EndpointID)
			close(replied)
		}))
	})

	// Queued until the Handshake completes; "" is whichever server answers.
	if err := service.Send(ctx, "", []byte("hello")); err != nil {
		panic(err)
	}
	<-replied
	// Output:
	// broker got "hello" from os::012345-service
	// service got "reply" from os::012345-broker
}
