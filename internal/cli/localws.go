//go:build !usp_nows

package cli

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// maxResolveWait caps the wait between two mDNS resolutions of a
// Controller's host.
const maxResolveWait = time.Minute

// wsClient is the WebSocket client to a Controller at host: with mDNS on
// and host in ".local.", one that resolves it with mDNS when it connects
// [R-DIS.5] (localClient); else a plain one.
func (d *dialer) wsClient(host string, o *ws.Options) mtp.Transport {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if d.mdns == nil || !strings.HasSuffix(h, ".local") {
		return ws.NewClient(o)
	}
	return &localClient{d: d, host: host, o: *o, done: make(chan struct{})}
}

// localClient is a WebSocket client to a Controller whose host is in
// ".local.". Serve resolves the host with mDNS, again and again while it
// does not resolve (one second apart, then doubling up to a minute), then
// connects to the address found: an Agent that boots before its address
// is configured, or before the Controller's host answers, keeps the MTP
// and connects when it can. Until then Send fails with mtp.ErrNoPeer.
type localClient struct {
	d    *dialer
	host string
	o    ws.Options // its URL names host

	mu     sync.Mutex
	cur    *ws.Client
	closed bool
	done   chan struct{} // closed by Close
}

// Serve resolves the host, then serves a WebSocket client to its address
// until ctx is done or Close is called.
func (l *localClient) Serve(ctx context.Context, h mtp.Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	wait := time.Second
	for {
		addr, err := l.d.resolveLocal(ctx, l.host)
		if err == nil {
			o := l.o
			if o.URL, err = withHost(o.URL, addr); err != nil {
				return err
			}
			c := ws.NewClient(&o)
			l.mu.Lock()
			if l.closed {
				l.mu.Unlock()
				c.Close()
				return nil
			}
			l.cur = c
			l.mu.Unlock()
			return c.Serve(ctx, h)
		}
		if ctx.Err() != nil {
			return nil
		}
		l.d.log.Warn("mdns: the controller's host does not resolve yet", "host", l.host, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, maxResolveWait)
	}
}

// Send sends on the WebSocket client once the host has resolved.
func (l *localClient) Send(ctx context.Context, addr string, rec []byte) error {
	l.mu.Lock()
	c := l.cur
	l.mu.Unlock()
	if c == nil {
		return fmt.Errorf("ws: %s is not resolved yet: %w", l.host, mtp.ErrNoPeer)
	}
	return c.Send(ctx, addr, rec)
}

// Close stops the client; it is safe to call more than once.
func (l *localClient) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	c := l.cur
	l.mu.Unlock()
	if c != nil {
		return c.Close()
	}
	return nil
}

// MaxRecord is the WebSocket client's limit (mtp.Limited).
func (l *localClient) MaxRecord() int {
	if l.o.MaxRecord > 0 {
		return l.o.MaxRecord
	}
	return mtp.DefaultMaxRecord
}

// withHost is raw with its host replaced by addr, its port kept.
func withHost(raw, addr string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("ws: URL: %w", err)
	}
	if p := u.Port(); p != "" {
		u.Host = net.JoinHostPort(addr, p)
	} else {
		u.Host = addr
		if strings.Contains(addr, ":") {
			u.Host = "[" + addr + "]"
		}
	}
	return u.String(), nil
}
