//go:build linux

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

// A USP Broker learns which process a USP Service runs in from its socket:
// here the client is this very process.
func ExampleServer_PeerPID() {
	dir, err := os.MkdirTemp("", "uds-peer")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "broker_controller_path")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	up := make(chan string, 1)
	broker := uds.NewServer(&uds.Options{Path: path, EndpointID: "os::012345-broker", OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if s == mtp.StateUp {
			up <- p.EndpointID
		}
	}})
	defer broker.Close()
	wg.Go(func() { broker.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {})) })
	service := uds.NewClient(&uds.Options{Path: path, EndpointID: "os::012345-service", MinWait: 10 * time.Millisecond})
	defer service.Close()
	wg.Go(func() { service.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {})) })

	pid, err := broker.PeerPID(<-up)
	fmt.Println(pid == os.Getpid(), err)
	// Output: true <nil>
}
