package ws_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// An Agent listens as the WebSocket server [R-WS.6]; a Controller connects
// as the client, sends a Record and gets the Agent's answer.
func Example() {
	ctx := context.Background()
	agent, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: "doc::agent", Path: "/usp"})
	if err != nil {
		fmt.Println(err)
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = agent.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
			// A real Agent decodes in.Record; this one echoes it to its sender.
			_ = agent.Send(ctx, in.From.Address, append([]byte("re: "), in.Record...))
		}))
	})

	answers := make(chan string, 1)
	ctrl := ws.NewClient(&ws.Options{
		URL:        "ws://" + agent.Addr().String() + "/usp",
		EndpointID: "doc::controller",
	})
	wg.Go(func() {
		_ = ctrl.Serve(ctx, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) {
			answers <- fmt.Sprintf("%q from %s", in.Record, in.From.EndpointID)
		}))
	})
	// Sent before the session is up, the Record waits in the queue.
	if err := ctrl.Send(ctx, "", []byte("hello")); err != nil {
		fmt.Println(err)
	}
	fmt.Println(<-answers)

	ctrl.Close()
	agent.Close()
	wg.Wait()
	// Output: "re: hello" from doc::agent
}
