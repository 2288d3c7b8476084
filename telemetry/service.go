package telemetry

import (
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Store keeps samples; *DB is one.
type Store interface {
	Insert(ctx context.Context, samples []Sample) error
	Query(ctx context.Context, q Query) ([]Point, error)
	Params(ctx context.Context, agent string) ([]string, error)
	Purge(ctx context.Context, before time.Time) (int64, error)
}

// Credentials derive each Agent's collector login from a key: the user
// is the Endpoint ID with each ":" as "_" (HTTP Basic user names hold no
// colon, RFC 7617), the password the first 32 characters of the
// base64url HMAC-SHA256 of the Endpoint ID under the key. The zero
// Credentials refuse everyone.
type Credentials struct{ key []byte }

// NewCredentials returns Credentials with key (at least 16 bytes).
func NewCredentials(key []byte) Credentials { return Credentials{key: append([]byte(nil), key...)} }

// Password returns Agent id's password.
func (c Credentials) Password(id string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("uspkit bulk data\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:32]
}

// User returns Agent id's user name.
func (c Credentials) User(id string) string { return strings.ReplaceAll(id, ":", "_") }

// Check reports whether user and password are Agent id's.
func (c Credentials) Check(id, user, password string) bool {
	if len(c.key) == 0 || user != c.User(id) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Password(id)), []byte(password)) == 1
}

// Options configure a Service; the zero Options are usable.
type Options struct {
	// MaxBody bounds a transfer's body (after gzip); 0 means 8 MiB.
	MaxBody int64
	// MetricParams are the parameters whose latest numeric value per
	// Agent WriteMetrics exports (as the names reports give them).
	MetricParams []string
	// Now returns the time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service ingests reports into a Store. Its methods are safe for
// concurrent use.
type Service struct {
	st    Store
	creds Credentials
	opt   Options
	log   *slog.Logger

	reports, rows, rejected, purged atomic.Int64
	// latest holds the newest value of each MetricParams parameter per
	// Agent: agent → param → value.
	mu     sync.Mutex
	latest map[string]map[string]float64
	want   map[string]bool
}

// New returns a Service storing into st and checking collector logins
// with creds.
func New(st Store, creds Credentials, opt *Options) *Service {
	s := &Service{st: st, creds: creds, latest: map[string]map[string]float64{}, want: map[string]bool{}}
	if opt != nil {
		s.opt = *opt
	}
	if s.opt.MaxBody <= 0 {
		s.opt.MaxBody = 8 << 20
	}
	if s.opt.Now == nil {
		s.opt.Now = time.Now
	}
	s.log = s.opt.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, p := range s.opt.MetricParams {
		s.want[p] = true
	}
	return s
}

// Credentials returns the Service's credentials.
func (s *Service) Credentials() Credentials { return s.creds }

// Stats are the ingest counters.
type Stats struct {
	Reports, Rows, Rejected, Purged int64
}

// Stats returns the counters since the Service started.
func (s *Service) Stats() Stats {
	return Stats{s.reports.Load(), s.rows.Load(), s.rejected.Load(), s.purged.Load()}
}

// Ingest stores the values of reports from agent; a report without a
// time is stamped with the time it arrived. It returns the rows stored.
func (s *Service) Ingest(ctx context.Context, agent string, reports []Report) (int, error) {
	now := s.opt.Now().UTC()
	var samples []Sample
	for _, r := range reports {
		t := r.Time
		if t.IsZero() {
			t = now
		}
		for _, v := range r.Values {
			samples = append(samples, Sample{Agent: agent, Param: v.Name, Time: t, Value: v.Value})
		}
	}
	if err := s.st.Insert(ctx, samples); err != nil {
		return 0, err
	}
	s.reports.Add(int64(len(reports)))
	s.rows.Add(int64(len(samples)))
	if len(s.want) > 0 {
		s.mu.Lock()
		for _, x := range samples {
			if !s.want[x.Param] {
				continue
			}
			if f, err := strconv.ParseFloat(x.Value, 64); err == nil {
				m := s.latest[agent]
				if m == nil {
					m = map[string]float64{}
					s.latest[agent] = m
				}
				m[x.Param] = f
			}
		}
		s.mu.Unlock()
	}
	return len(samples), nil
}

// IngestPush stores the Data argument of a Push! event from agent: a
// JSON or CSV report.
func (s *Service) IngestPush(ctx context.Context, agent, data string) (int, error) {
	reps, err := Parse([]byte(data), "")
	if err != nil {
		s.rejected.Add(1)
		return 0, err
	}
	return s.Ingest(ctx, agent, reps)
}

// Collector returns the HTTP(S) collector, for POST or PUT
// /bulkdata/{agent} ("agent" is a path value): it checks the Agent's
// Basic credentials, reads the body (chunked [R-BULK.0] or not, gzip
// when Content-Encoding says so) as the Content-Type says, and stores it.
// It answers 200, 400 for a malformed report, 401 for bad credentials,
// 413 for a body over MaxBody, and 503 when the store fails, so that the
// Agent retries.
func (s *Service) Collector() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agent := r.PathValue("agent")
		user, pass, ok := r.BasicAuth()
		if !ok || !s.creds.Check(agent, user, pass) {
			s.rejected.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="uspkit bulk data"`)
			http.Error(w, "unknown agent or wrong password", http.StatusUnauthorized)
			return
		}
		body, err := s.readBody(r)
		if err != nil {
			s.rejected.Add(1)
			status := http.StatusBadRequest
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				status = http.StatusRequestEntityTooLarge
			}
			http.Error(w, err.Error(), status)
			return
		}
		reps, err := Parse(body, r.Header.Get("Content-Type"))
		if err != nil {
			s.rejected.Add(1)
			s.log.WarnContext(r.Context(), "bulk data report refused", "agent", agent, "err", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := s.Ingest(r.Context(), agent, reps); err != nil {
			s.log.ErrorContext(r.Context(), "bulk data report not stored", "agent", agent, "err", err)
			http.Error(w, "report not stored", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

func (s *Service) readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = http.MaxBytesReader(nil, r.Body, s.opt.MaxBody)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		rd = io.LimitReader(zr, s.opt.MaxBody+1)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > s.opt.MaxBody {
		return nil, &http.MaxBytesError{Limit: s.opt.MaxBody}
	}
	return b, nil
}

// Query answers q from the store.
func (s *Service) Query(ctx context.Context, q Query) ([]Point, error) { return s.st.Query(ctx, q) }

// Params lists the parameters stored for agent.
func (s *Service) Params(ctx context.Context, agent string) ([]string, error) {
	return s.st.Params(ctx, agent)
}

// RunRetention deletes samples older than maxAge every interval (maxAge/10
// when 0, at least a minute) until ctx ends.
func (s *Service) RunRetention(ctx context.Context, maxAge, every time.Duration) {
	if every <= 0 {
		every = max(maxAge/10, time.Minute)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.PurgeOld(ctx, maxAge)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PurgeOld deletes the samples older than maxAge now.
func (s *Service) PurgeOld(ctx context.Context, maxAge time.Duration) {
	n, err := s.st.Purge(ctx, s.opt.Now().Add(-maxAge))
	if err != nil {
		s.log.WarnContext(ctx, "telemetry purge failed", "err", err)
		return
	}
	s.purged.Add(n)
}

// WriteMetrics writes the ingest counters and the latest values of the
// MetricParams parameters in the Prometheus text format.
func (s *Service) WriteMetrics(w io.Writer) {
	st := s.Stats()
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("usp_bulkdata_reports_total", "Bulk Data reports stored.", st.Reports)
	counter("usp_bulkdata_rows_total", "Bulk Data parameter values stored.", st.Rows)
	counter("usp_bulkdata_rejected_total", "Bulk Data transfers refused (credentials, format, size).", st.Rejected)
	counter("usp_bulkdata_purged_total", "Bulk Data values deleted by the retention policy.", st.Purged)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.latest) == 0 {
		return
	}
	fmt.Fprintf(w, "# HELP usp_bulkdata_value Latest value of a selected Bulk Data parameter.\n# TYPE usp_bulkdata_value gauge\n")
	agents := make([]string, 0, len(s.latest))
	for a := range s.latest {
		agents = append(agents, a)
	}
	sort.Strings(agents)
	for _, a := range agents {
		params := make([]string, 0, len(s.latest[a]))
		for p := range s.latest[a] {
			params = append(params, p)
		}
		sort.Strings(params)
		for _, p := range params {
			v := s.latest[a][p]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			fmt.Fprintf(w, "usp_bulkdata_value{agent=%s,param=%s} %s\n", label(a), label(p), strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
}

// label quotes a Prometheus label value.
func label(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
