//go:build !usp_device

package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// wsAgents is the Controller's WebSocket client MTP: one ws.Client per
// Agent that is a WebSocket server, each reconnecting with TR-369's
// back-off [R-WS.19] on its own, served as one mtp.Transport. Send finds
// the client by the Agent's URL (the Peer.Address its connection
// reports) or by its Endpoint ID.
type wsAgents struct {
	byAddr  map[string]*ws.Client // by URL and by Endpoint ID
	clients []*ws.Client
}

// newWSAgents makes the clients of mc.Agents. A connection whose server
// names another Endpoint ID than the configured one is logged.
func newWSAgents(self string, mc *ctrlMTPConfig, onState mtp.StateFunc, log *slog.Logger) (*wsAgents, error) {
	w := &wsAgents{byAddr: map[string]*ws.Client{}}
	for _, a := range mc.Agents {
		tc, err := clientTLSFile(mc.TLS, len(a.URL) > 6 && a.URL[:6] == "wss://")
		if err != nil {
			return nil, err
		}
		want := a.EndpointID
		state := func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			if s == mtp.StateUp && p.EndpointID != "" && p.EndpointID != want {
				log.WarnContext(ctx, "the agent names another endpoint ID than configured", "url", p.Address,
					"configured", want, "named", p.EndpointID)
			}
			if onState != nil {
				onState(ctx, p, s, err)
			}
		}
		// An Agent's server certificate that names USP Endpoints must name this one [R-SEC.12].
		c := ws.NewClient(&ws.Options{EndpointID: self, PeerID: a.EndpointID, URL: a.URL, TLS: tc, MinWait: mc.Retry.MinWait,
			Multiplier: mc.Retry.Multiplier, MaxRecord: mc.MaxRecord, OnState: state, Logger: log.With("agent", a.EndpointID)})
		w.clients = append(w.clients, c)
		w.byAddr[a.URL], w.byAddr[a.EndpointID] = c, c
	}
	return w, nil
}

// Serve serves every client until ctx is done or Close is called; it
// returns the first error that stopped a client.
func (w *wsAgents) Serve(ctx context.Context, h mtp.Handler) error {
	var wg sync.WaitGroup
	errs := make([]error, len(w.clients))
	for i, c := range w.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Serve(ctx, h)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Send sends rec to the Agent at addr, its URL or Endpoint ID.
func (w *wsAgents) Send(ctx context.Context, addr string, rec []byte) error {
	c := w.byAddr[addr]
	if c == nil {
		return fmt.Errorf("websocket: %q is not a configured agent: %w", addr, mtp.ErrNoPeer)
	}
	return c.Send(ctx, "", rec)
}

// Close closes every client.
func (w *wsAgents) Close() error {
	for _, c := range w.clients {
		c.Close()
	}
	return nil
}

// clientTLSFile is the TLS configuration of a client from the
// configuration file's tls key: its files, else the system roots when
// secure, else none.
func clientTLSFile(t *tlsConfig, secure bool) (*tls.Config, error) {
	switch {
	case !secure:
		return nil, nil
	case t != nil:
		return t.build(false)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}, nil
}
