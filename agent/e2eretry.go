package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
)

// e2eRetries counts, per Controller, the failed attempts to establish an
// E2E session since one last succeeded [R-E2E.10]–[R-E2E.13]. The counts
// live in memory: a reboot starts them at zero [R-E2E.13]. It also keeps
// the TLS settings of TLS12 sessions, built once.
type e2eRetries struct {
	mu    sync.Mutex
	count map[string]int       // Controller Endpoint ID → retries
	since map[string]time.Time // Controller Endpoint ID → first failure

	tlsOnce sync.Once
	tls     *tls.Config // Options.E2ETLS with Options.Certificates

	tlsMu  sync.Mutex
	tlsCur *tls.Config // tls with the TrustStore's anchors as of tlsGen
	tlsGen uint64
	tlsSet bool // tlsCur is set
}

// e2eTLS returns the TLS settings of TLS12 sessions: Options.E2ETLS, whose
// trust anchors for Controllers' certificates (RootCAs, else ClientCAs)
// also take those listed in Device.LocalAgent.Certificate: the configured
// ones (Options.Certificates) and those added with AddCertificate() and
// enabled (Options.Trust), so that a session started after
// AddCertificate() accepts a Controller whose certificate chains to the
// added CA, as the MTPs' TLS does [R-E2E.43], [R-SEC.2]. nil without
// Options.E2ETLS.
func (a *Agent) e2eTLS() *tls.Config {
	r := a.e2eRetry
	r.tlsOnce.Do(func() {
		if a.opt.E2ETLS == nil {
			return
		}
		c := a.opt.E2ETLS.Clone()
		pool := c.RootCAs
		if pool == nil {
			pool = c.ClientCAs
		}
		if pool == nil {
			// Only the listed and added certificates: never the
			// system's roots.
			pool = x509.NewCertPool()
		}
		if len(a.opt.Certificates) > 0 {
			pool = pool.Clone()
			for _, cert := range a.opt.Certificates {
				pool.AddCert(cert)
			}
		}
		c.RootCAs = pool
		r.tls = c
	})
	if r.tls == nil || a.opt.Trust == nil {
		return r.tls
	}
	return r.withAdded(a.opt.Trust)
}

// withAdded returns r.tls with the enabled certificates of trust among
// its RootCAs; it is built again only after trust changes, since the
// session table asks for it with every Record.
func (r *e2eRetries) withAdded(trust *TrustStore) *tls.Config {
	gen := trust.generation()
	r.tlsMu.Lock()
	defer r.tlsMu.Unlock()
	if !r.tlsSet || r.tlsGen != gen {
		r.tlsCur, r.tlsGen, r.tlsSet = trust.ClientTLS(r.tls), gen, true
	}
	return r.tlsCur
}

// generation counts the changes of the added certificates.
func (s *TrustStore) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

func newE2ERetries() *e2eRetries {
	return &e2eRetries{count: map[string]int{}, since: map[string]time.Time{}}
}

// retryWait returns the wait before retry number n (1 for the first) of
// a session establishment: a random time between m·(k/1000)^(n-1) and
// m·(k/1000)^n seconds, n capped at 10 [R-E2E.10], [R-E2E.11].
func retryWait(n int, m, k uint64) time.Duration {
	n = min(max(n, 1), 10)
	f := float64(max(k, 1000)) / 1000
	lo := float64(max(m, 1)) * math.Pow(f, float64(n-1))
	hi := float64(max(m, 1)) * math.Pow(f, float64(n))
	return time.Duration((lo + rand.Float64()*(hi-lo)) * float64(time.Second))
}

// establishFailure reports whether err means the session could not be
// established rather than failed within: TLS, or a session started with a
// payload security this side does not use. Those are retried with the back-off of
// R-E2E.10, since starting again at once fails the same way.
func establishFailure(err error) bool {
	return errors.Is(err, e2e.ErrTLS) || errors.Is(err, e2e.ErrUnsupportedSecurity)
}

// retryE2E sends restart, the first Record of a new session with the
// Controller to, after the retry wait; it is dropped when the session
// changed meanwhile (the Controller started another one, or Reset()).
func (a *Agent) retryE2E(ctx context.Context, to string, t mtp.Transport, addr string, restart *record.Record) {
	c := a.controllerByEndpoint(to)
	if c == nil {
		return
	}
	a.e2eRetry.mu.Lock()
	a.e2eRetry.count[to]++
	n := a.e2eRetry.count[to]
	if n == 1 {
		a.e2eRetry.since[to] = a.now()
	}
	a.e2eRetry.mu.Unlock()
	wait := retryWait(n, c.e2e.retryMin, c.e2e.retryMult)
	a.log.WarnContext(ctx, "E2E session not established; retrying", "controller", to, "retry", n, "wait", wait)
	a.setRetryCount(ctx, c.ref, n)
	stopping := a.stopping
	ctx = context.WithoutCancel(ctx)
	time.AfterFunc(wait, func() {
		select {
		case <-stopping:
			return
		default:
		}
		if s := a.e2e.Session(to); s == nil || s.ID() != restart.Session.SessionID {
			return
		}
		if err := a.send(ctx, t, addr, restart); err != nil {
			a.log.WarnContext(ctx, "E2E session retry not sent", "controller", to, "err", err)
		}
		a.awaitE2E(ctx, to, t, addr, restart.Session.SessionID)
	})
}

// awaitE2E tries again a session start that the Controller does not
// answer: when session id is not established by the next retry wait, a
// new session starts, and so on, until one is or SessionExpiration has
// passed since the first failure [R-E2E.11]. A failure the Controller
// reports ends this: retryE2E starts over with the new session.
func (a *Agent) awaitE2E(ctx context.Context, to string, t mtp.Transport, addr string, id uint64) {
	c := a.controllerByEndpoint(to)
	if c == nil {
		return
	}
	a.e2eRetry.mu.Lock()
	n, since := a.e2eRetry.count[to], a.e2eRetry.since[to]
	a.e2eRetry.mu.Unlock()
	stopping := a.stopping
	time.AfterFunc(retryWait(n+1, c.e2e.retryMin, c.e2e.retryMult), func() {
		select {
		case <-stopping:
			return
		default:
		}
		if s := a.e2e.Session(to); s == nil || s.ID() != id || s.Established() {
			return
		}
		if exp := c.e2e.cfg.Expiration; exp > 0 && a.now().Sub(since) > exp {
			a.log.WarnContext(ctx, "E2E session not established within SessionExpiration; no more retries", "controller", to)
			return
		}
		recs, err := a.e2e.Restart(to, a.now())
		if err != nil || len(recs) == 0 {
			a.log.WarnContext(ctx, "E2E session retry not started", "controller", to, "err", err)
			return
		}
		a.e2eRetry.mu.Lock()
		a.e2eRetry.count[to]++
		n := a.e2eRetry.count[to]
		a.e2eRetry.mu.Unlock()
		a.log.WarnContext(ctx, "E2E session start not answered; retrying", "controller", to, "retry", n)
		a.setRetryCount(ctx, c.ref, n)
		for _, r := range recs {
			if err := a.send(ctx, t, addr, r); err != nil {
				a.log.WarnContext(ctx, "E2E session retry not sent", "controller", to, "err", err)
			}
		}
		a.awaitE2E(ctx, to, t, addr, recs[0].Session.SessionID)
	})
}

// e2eSucceeded resets the retry count once a Record was received in a
// session [R-E2E.12].
func (a *Agent) e2eSucceeded(ctx context.Context, from string) {
	a.e2eRetry.mu.Lock()
	n := a.e2eRetry.count[from]
	delete(a.e2eRetry.count, from)
	delete(a.e2eRetry.since, from)
	a.e2eRetry.mu.Unlock()
	if n == 0 {
		return
	}
	if c := a.controllerByEndpoint(from); c != nil {
		a.setRetryCount(ctx, c.ref, 0)
	}
}

// setRetryCount writes E2ESession.CurrentRetryCount.
func (a *Agent) setRetryCount(ctx context.Context, ref string, n int) {
	if err := a.eng.Update(ctx, ref+".E2ESession.", map[string]string{"CurrentRetryCount": strconv.Itoa(n)}); err != nil {
		a.log.WarnContext(ctx, "E2ESession.CurrentRetryCount not set", "controller", ref, "err", err)
	}
}
