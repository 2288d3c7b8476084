// Package mtp defines the one interface every USP Message Transfer Protocol
// implements, for the Agent and the Controller alike: serve inbound Records
// to a Handler, send a Record to an address, and report connection state.
//
// An MTP moves whole Records as byte slices and never looks inside them
// (it imports neither wire nor record). What a Record means, which connect
// Record to send after a connection comes up [R-MTP.6], and what to answer,
// is decided by the layer above, which learns of connections through the
// StateFunc it hands in.
//
//	t := ws.NewClient(&ws.Options{URL: "wss://ctrl.example:4443/usp", ...})
//	go t.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
//		// decode in.Record, answer with t.Send(ctx, in.From.Address, reply)
//	}))
//
// Redial and Retry are the connection retry state that every MTP's client
// role shares: sessions one after the other, with the spec's back-off
// between them.
//
// Package mtptest holds the behaviour suite every implementation passes and
// an in-memory pipe transport for tests of the layers above.
package mtp
