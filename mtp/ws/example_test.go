package ws_test

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
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

// An AuthFunc checking per-Endpoint HTTP Basic credentials in the
// handshake: the password stands for the Endpoint ID the client claims.
func ExampleAuthFunc() {
	passwords := map[string]string{"os::012345-SN1": "s3cret"} // Endpoint ID → password
	auth := func(_ context.Context, r *http.Request, eid string, _ []*x509.Certificate) error {
		_, pass, ok := r.BasicAuth()
		want, known := passwords[eid]
		if !ok || !known || subtle.ConstantTimeCompare([]byte(pass), []byte(want)) != 1 {
			return errors.New("bad credentials") // 401
		}
		return nil // the Peer is Authenticated
	}
	srv, err := ws.Listen(context.Background(), "127.0.0.1:0", &ws.Options{EndpointID: "doc::controller", Path: "/usp", Authenticate: auth})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	fmt.Println(srv.Addr() != nil)
	// Output: true
}
