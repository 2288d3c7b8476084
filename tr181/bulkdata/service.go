package bulkdata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/pathname"
	"github.com/uspkit/uspkit/usperr"
)

// Limits reported in Device.BulkData and enforced by the tables.
const (
	// MaxProfiles is Device.BulkData.MaxNumberOfProfiles.
	MaxProfiles = 64
	// maxParams bounds each profile's Parameter table.
	maxParams = 1000
	// maxRetainedAll bounds the failed reports kept for a profile with
	// NumberOfRetainedFailedReports -1 ("as many as possible").
	maxRetainedAll = 256
)

// EmitFunc sends an event to the Controllers subscribed to it;
// agent.Agent.Emit is one.
type EmitFunc func(ctx context.Context, eventPath string, args func(recipient string) map[string]string)

// Options configure a Service. The zero Options are usable.
type Options struct {
	// MinReportingInterval is Device.BulkData.MinReportingInterval in
	// seconds: a profile's ReportingInterval may not be smaller. 0 means
	// no minimum.
	MinReportingInterval uint32
	// Disabled starts the Service with Device.BulkData.Enable false; the
	// zero value starts it enabled. The value is not persisted.
	Disabled bool
	// Client sends HTTP reports; nil means a client with a 30 s timeout.
	Client *http.Client
	// Now returns the time; nil means time.Now.
	Now func() time.Time
	// Logger receives the Service's log lines; nil discards them.
	Logger *slog.Logger
	// Dir, if set, is where the failed reports of profiles with
	// HTTP.PersistAcrossReboot are kept (bulkdata-retained.json, 0600),
	// so that they are sent after a restart; "" keeps them in memory only.
	Dir string
}

// Service is the Agent's Bulk Data collection: it serves Device.BulkData
// and sends the reports of enabled profiles. Create it with New, bind it
// with Register before the engine is built, then call Run.
type Service struct {
	opt     Options
	log     *slog.Logger
	enabled atomic.Bool
	kick    chan struct{}
	force   chan string

	mu       sync.Mutex
	retained map[string]*retained // by profile path
	digest   map[string]bool      // profiles whose collector asks for Digest
	ctrls    map[string]string    // Controller Endpoint ID → its Device.LocalAgent.Controller path
	owner    map[string]string    // profile path → Endpoint ID of the Controller that last changed it
	callerOf func(id string) datamodel.Caller
	mqtt     MQTTPublisher  // nil: no MQTT protocol
	forced   sync.WaitGroup // ForceCollection() transfers running

	sent, failed atomic.Int64
}

// retained are a profile's failed reports, kept for its next transfer.
type retained struct {
	Encoding string
	Reports  []Report
	// Persist is the profile's HTTP.PersistAcrossReboot.
	Persist bool
}

// New returns a Service.
func New(opt *Options) *Service {
	s := &Service{kick: make(chan struct{}, 1), force: make(chan string, 16), retained: map[string]*retained{}, digest: map[string]bool{}, ctrls: map[string]string{}, owner: map[string]string{}}
	if opt != nil {
		s.opt = *opt
	}
	if s.opt.Client == nil {
		s.opt.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if s.opt.Now == nil {
		s.opt.Now = time.Now
	}
	s.log = s.opt.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.enabled.Store(!s.opt.Disabled)
	s.loadRetained()
	return s
}

// Stats returns the number of transfers delivered (HTTP 2xx, or a Push!
// handed to the Agent) and failed (after their retries).
func (s *Service) Stats() (sent, failed int64) { return s.sent.Load(), s.failed.Load() }

// SetCaller makes each profile collect with the permissions of the
// Controller that created or last changed it (agent.Agent.Caller gives
// them) rather than the Agent's own: TR-369 Annex A asks for the checks
// of that Controller's permissions. Call it before Run.
func (s *Service) SetCaller(f func(endpointID string) datamodel.Caller) { s.callerOf = f }

// caller returns whom profile p collects as.
func (s *Service) caller(p *profile) datamodel.Caller {
	if s.callerOf == nil {
		return datamodel.Caller{}
	}
	s.mu.Lock()
	id := s.owner[p.Path]
	if id == "" && p.Controller != "" {
		for e, ref := range s.ctrls {
			if ref == p.Controller {
				id = e
			}
		}
	}
	s.mu.Unlock()
	switch {
	case id != "":
		return s.callerOf(id)
	case p.Controller != "":
		return datamodel.Caller{Access: denyAll{}} // its Controller is gone
	}
	return datamodel.Caller{} // made by the Agent itself
}

// denyAll is the Access of a profile whose Controller is no longer known:
// it reads nothing.
type denyAll struct{}

func (denyAll) Perms(string) datamodel.Perms { return 0 }

// Register binds Device.BulkData on mux: the top object is provided by
// the Service, the profiles and their sub-objects are stored by the
// engine (and so persisted with the Agent's data model).
func (s *Service) Register(mux *datamodel.Mux) {
	mux.HandleFunc(pathBulkData, s.serveTop)
	mux.Store("Device.BulkData.Profile.{i}.", s.checkProfile)
	mux.Store("Device.BulkData.Profile.{i}.Parameter.{i}.", s.checkParameter)
	mux.Store("Device.BulkData.Profile.{i}.CSVEncoding.", s.checkChild)
	mux.Store("Device.BulkData.Profile.{i}.JSONEncoding.", s.checkChild)
	mux.Store("Device.BulkData.Profile.{i}.HTTP.", s.checkHTTP)
	mux.Store("Device.BulkData.Profile.{i}.HTTP.RequestURIParameter.{i}.", s.checkParameter)
	mux.Store("Device.BulkData.Profile.{i}.MQTT.", s.checkMQTT)
	mux.HandleFunc("Device.BulkData.Profile.{i}.ForceCollection()", s.forceCollection)
}

func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Service) serveTop(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	switch r.Op {
	case datamodel.OpGet:
		for _, n := range r.Names {
			w.SetValue(n, s.topValue(n))
		}
		return nil
	case datamodel.OpSet:
		for n, v := range r.Values {
			if n != "Enable" {
				return usperr.Errorf(usperr.CodeParamReadOnly, "%s%s is read-only", r.Path, n)
			}
			b, err := strconv.ParseBool(v)
			if err != nil {
				return usperr.Errorf(usperr.CodeInvalidValue, "%sEnable: %q is not a boolean", r.Path, v)
			}
			if !r.CheckOnly {
				s.enabled.Store(b)
				s.wake()
			}
		}
		return nil
	}
	return usperr.Errorf(usperr.CodeRequestDenied, "%s: %s is not supported", r.Path, r.Op)
}

func (s *Service) topValue(name string) string {
	switch name {
	case "Enable":
		return strconv.FormatBool(s.enabled.Load())
	case "Status":
		if s.enabled.Load() {
			return "Enabled"
		}
		return "Disabled"
	case "MinReportingInterval":
		return strconv.FormatUint(uint64(s.opt.MinReportingInterval), 10)
	case "Protocols":
		return s.protocols()
	case "EncodingTypes":
		return EncodingCSV + "," + EncodingJSON
	case "ParameterWildCardSupported":
		return "true"
	case "MaxNumberOfProfiles":
		return strconv.Itoa(MaxProfiles)
	case "MaxNumberOfParameterReferences":
		return strconv.Itoa(MaxProfiles * maxParams)
	}
	return ""
}

// checkProfile checks a profile's Protocol, EncodingType and
// ReportingInterval against what the Service supports, and wakes the
// scheduler.
func (s *Service) checkProfile(ctx context.Context, r *datamodel.Request) error {
	defer s.wake()
	if r.Op == datamodel.OpDelete {
		return nil
	}
	v := r.Values
	if id := r.Caller.EndpointID; id != "" {
		// Profile.{i}.Controller: who created or last changed the
		// profile, from the Controller table as last read.
		s.mu.Lock()
		v["Controller"] = s.ctrls[id]
		s.owner[r.Path] = id
		s.mu.Unlock()
	}
	if p := v["Protocol"]; p != "" && !s.supported(p) {
		return usperr.Errorf(usperr.CodeInvalidValue, "%sProtocol: %q is not one of Device.BulkData.Protocols", r.Path, p)
	}
	if e := v["EncodingType"]; e != "" && e != EncodingJSON && e != EncodingCSV {
		return usperr.Errorf(usperr.CodeInvalidValue, "%sEncodingType: %q is not one of Device.BulkData.EncodingTypes", r.Path, e)
	}
	if n, err := strconv.ParseUint(v["ReportingInterval"], 10, 32); err == nil && uint32(n) < s.opt.MinReportingInterval {
		return usperr.Errorf(usperr.CodeInvalidValue, "%sReportingInterval: %d is under Device.BulkData.MinReportingInterval %d", r.Path, n, s.opt.MinReportingInterval)
	}
	return nil
}

// checkParameter checks that a Reference is a Path Name, with "*" in
// place of instance numbers allowed (ParameterWildCardSupported).
func (s *Service) checkParameter(ctx context.Context, r *datamodel.Request) error {
	defer s.wake()
	if r.Op == datamodel.OpDelete {
		return nil
	}
	ref := r.Values["Reference"]
	if ref == "" {
		return nil
	}
	if !strings.HasPrefix(ref, "Device.") {
		return usperr.Errorf(usperr.CodeInvalidValue, "%sReference: %q is not a path of the data model", r.Path, ref)
	}
	if _, err := pathname.AppendPattern(nil, ref); err != nil {
		return usperr.Errorf(usperr.CodeInvalidValue, "%sReference: %v", r.Path, err)
	}
	return nil
}

func (s *Service) checkChild(ctx context.Context, r *datamodel.Request) error {
	s.wake()
	return nil
}

// checkHTTP accepts the compressions and methods the Service supports.
func (s *Service) checkHTTP(ctx context.Context, r *datamodel.Request) error {
	defer s.wake()
	if r.Op == datamodel.OpDelete {
		return nil
	}
	if c := r.Values["Compression"]; c != "" && c != "None" && c != "GZIP" {
		return usperr.Errorf(usperr.CodeInvalidValue, "%sCompression: %q is not None or one of CompressionsSupported", r.Path, c)
	}
	if m := r.Values["Method"]; m != "" && m != http.MethodPost && m != http.MethodPut {
		return usperr.Errorf(usperr.CodeInvalidValue, "%sMethod: %q is not one of MethodsSupported", r.Path, m)
	}
	return nil
}

// forceCollection starts a collection and transfer of the profile now,
// whatever its Enable and ReportingInterval.
func (s *Service) forceCollection(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	select {
	case s.force <- r.Path:
		return nil
	default:
		return usperr.Errorf(usperr.CodeResourcesExceeded, "%s: too many collections waiting", r.Path)
	}
}

// Run schedules the reports of the enabled profiles of eng until ctx
// ends; emit sends Push! events for USPEventNotif profiles (nil drops
// them). It reads the profiles again after every change to them.
func (s *Service) Run(ctx context.Context, eng *datamodel.Engine, emit EmitFunc) error {
	workers := map[string]*worker{}
	defer func() {
		for _, w := range workers {
			w.stop()
		}
		s.forced.Wait()
	}()
	refresh := time.NewTicker(controllersRefresh)
	defer refresh.Stop()
	for {
		s.loadControllers(ctx, eng)
		profiles := s.load(ctx, eng)
		on := s.enabled.Load()
		for path, w := range workers {
			p := profiles[path]
			if p == nil || !p.Enable || !on || p.key() != w.p.key() {
				w.stop()
				delete(workers, path)
			}
		}
		s.dropRetained(profiles)
		for path, p := range profiles {
			if p.Enable && on && workers[path] == nil {
				workers[path] = s.start(ctx, eng, emit, p)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.kick:
		case <-refresh.C:
		case path := <-s.force:
			if p := s.load(ctx, eng)[path]; p != nil {
				s.forced.Add(1)
				go func() {
					defer s.forced.Done()
					s.transfer(ctx, eng, emit, p, s.opt.Now().Add(time.Duration(p.Interval)*time.Second))
				}()
			}
		}
	}
}

// dropRetained forgets the failed reports of deleted profiles and of
// profiles whose EncodingType changed.
func (s *Service) dropRetained(profiles map[string]*profile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for path := range s.owner {
		if profiles[path] == nil {
			delete(s.owner, path)
		}
	}
	dropped := false
	for path, r := range s.retained {
		if p := profiles[path]; p == nil || p.Encoding != r.Encoding {
			delete(s.retained, path)
			dropped = true
		}
	}
	if dropped {
		s.saveRetained(context.Background())
	}
}

type worker struct {
	p      *profile
	cancel context.CancelFunc
	done   chan struct{}
}

func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func (s *Service) start(ctx context.Context, eng *datamodel.Engine, emit EmitFunc, p *profile) *worker {
	ctx, cancel := context.WithCancel(ctx)
	w := &worker{p: p, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		s.schedule(ctx, eng, emit, p)
	}()
	return w
}

// schedule sends a report at every reporting interval: aligned on
// TimeReference when it is set, else counted from now.
func (s *Service) schedule(ctx context.Context, eng *datamodel.Engine, emit EmitFunc, p *profile) {
	every := time.Duration(p.Interval) * time.Second
	next := firstReport(s.opt.Now(), every, p.TimeReference)
	t := time.NewTimer(next.Sub(s.opt.Now()))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.transfer(ctx, eng, emit, p, next.Add(every))
		now := s.opt.Now()
		for !next.After(now) {
			next = next.Add(every)
		}
		t.Reset(next.Sub(now))
	}
}

// firstReport returns the time of the first report after now: now plus
// the interval when ref is unknown (the zero dateTime), else the next
// time that is a whole number of intervals from ref.
func firstReport(now time.Time, every time.Duration, ref time.Time) time.Time {
	if ref.IsZero() || ref.Year() <= 1 || every <= 0 {
		return now.Add(every)
	}
	d := now.Sub(ref) % every
	if d < 0 {
		d += every
	}
	return now.Add(every - d)
}

// transfer collects one report and delivers it, with the failed reports
// kept from earlier intervals. HTTP transfers are retried, when the
// profile says so, until they succeed or until is reached; a transfer
// that failed is kept as NumberOfRetainedFailedReports says.
func (s *Service) transfer(ctx context.Context, eng *datamodel.Engine, emit EmitFunc, p *profile, until time.Time) {
	c := collect(ctx, eng, s.caller(p), p.Params, p.URIParams, p.Protocol == ProtocolHTTP)
	rep := Report{Time: s.opt.Now(), Values: c.values}
	s.mu.Lock()
	var reports []Report
	if r := s.retained[p.Path]; r != nil && r.Encoding == p.Encoding {
		reports = slices.Clone(r.Reports)
	}
	s.mu.Unlock()
	reports = append(reports, rep)
	body := p.encode(reports)
	var err error
	switch p.Protocol {
	case ProtocolUSPEventNotif:
		if emit == nil {
			err = errors.New("no Agent to send Push! events")
			break
		}
		data := string(body)
		emit(ctx, p.Path+"Push!", func(string) map[string]string { return map[string]string{"Data": data} })
	case ProtocolHTTP:
		err = s.sendHTTP(ctx, p, body, c.query, until)
	case ProtocolMQTT:
		err = s.sendMQTT(ctx, p, body)
	default:
		err = fmt.Errorf("protocol %q is not supported", p.Protocol)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.saveRetained(ctx)
	if err == nil {
		s.sent.Add(1)
		delete(s.retained, p.Path)
		return
	}
	s.failed.Add(1)
	s.log.WarnContext(ctx, "bulk data transfer failed", "profile", p.Path, "reports", len(reports), "err", err)
	keep := p.Retain
	if keep < 0 || keep > maxRetainedAll {
		keep = maxRetainedAll
	}
	if keep == 0 {
		delete(s.retained, p.Path)
		return
	}
	if len(reports) > keep {
		reports = reports[len(reports)-keep:] // the oldest go first
	}
	s.retained[p.Path] = &retained{Encoding: p.Encoding, Reports: reports, Persist: p.HTTP.Persist}
}
