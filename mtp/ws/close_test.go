package ws_test

import (
	"context"
	"errors"
	"testing"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// TestCloseFromHandler: either side may Close from inside its Handler;
// the other side then sees the session end with status 1001.
func TestCloseFromHandler(t *testing.T) {
	for _, side := range []string{"server", "client"} {
		t.Run(side, func(t *testing.T) {
			ctx := context.Background()
			closed := make(chan error, 1)
			var srv *ws.Server
			var cli *ws.Client
			var sh, ch mtp.Handler = mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
				_ = srv.Send(ctx, in.From.Address, in.Record)
			}), nil
			closeIn := mtp.HandlerFunc(func(context.Context, mtp.Inbound) {
				if side == "server" {
					closed <- srv.Close()
				} else {
					closed <- cli.Close()
				}
			})
			if side == "server" {
				sh = closeIn
			} else {
				ch = closeIn
			}
			srv, _ = startServer(t, &ws.Options{}, sh)
			cState, cst := states()
			cli = ws.NewClient(&ws.Options{URL: "ws://" + srv.Addr().String(), EndpointID: agentID, OnState: cState})
			serve(t, cli, ch)
			next(t, cst, "StateUp")
			if err := cli.Send(ctx, "", []byte("close, please")); err != nil {
				t.Fatal(err)
			}
			if err := next(t, closed, "Close in the Handler"); err != nil {
				t.Errorf("Close: %v", err)
			}
			if side == "server" {
				next(t, cst, "StateDown")
				return
			}
			if err := cli.Send(ctx, "", []byte{1}); !errors.Is(err, mtp.ErrClosed) {
				t.Errorf("Send after Close: %v", err)
			}
		})
	}
}
