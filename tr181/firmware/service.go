package firmware

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/download"
	"github.com/uspkit/uspkit/usperr"
)

// Emitter sends an event to the Controllers subscribed to it; an
// *agent.Agent is one.
type Emitter interface {
	Emit(ctx context.Context, eventPath string, args func(recipient string) map[string]string)
}

// Options configure a Service.
type Options struct {
	// Flash holds the images; required.
	Flash Flash
	// StateDir keeps what the data model adds to the banks (Alias,
	// Available, Status, BootFailureLog, BootFirmwareImage) and the partial
	// downloads; "" keeps them in memory and downloads in os.TempDir().
	StateDir string
	// Download tunes transfers (TLS roots, attempts, stall timeout, size
	// bound); nil means download's defaults.
	Download *download.Options
	// Boot is this start's report from the boot loader (Dir.Boot).
	Boot BootReport
	// Idle reports whether the device is idle, for TimeWindow Mode
	// WhenIdle; nil means always idle (a headless Agent has no subscriber
	// service it could interrupt).
	Idle func() bool
	// Confirm asks the user to confirm an activation, for Mode
	// ConfirmationNeeded, and reports the answer; it must return by ctx's
	// end. nil means there is no one to ask: such a window is not used.
	Confirm func(ctx context.Context, userMessage string) bool
	// ActivateDelay is the wait between a command's completion and the
	// restart it causes, so that its OperationComplete goes out first;
	// 0 means 1 s.
	ActivateDelay time.Duration
	// Now returns the current time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service serves the firmware objects from a Flash. Its methods are safe
// for concurrent use.
type Service struct {
	o   Options
	log *slog.Logger

	mu   sync.Mutex
	st   state
	emit Emitter
	busy map[int]bool    // banks with a command in progress
	life context.Context // the Agent's life (Resume)
	stop bool            // Close was called
}

// state is what the Service keeps per bank beyond the Flash.
type state struct {
	Boot  int          `json:"boot"`
	Banks []*bankState `json:"banks"`
	// Pending are the downloads in progress (with their credentials:
	// the state file is 0600 in the Agent's private data directory).
	Pending []*pending `json:"pending,omitempty"`
}

type bankState struct {
	Alias     string `json:"alias"`
	Available bool   `json:"available"`
	// Status overrides the status derived from the Flash (a failure, or a
	// transfer in progress); "" derives it.
	Status         string `json:"status,omitempty"`
	BootFailureLog string `json:"boot_failure_log,omitempty"`
}

// New returns a Service over o.Flash, with the state kept in o.StateDir.
func New(o *Options) (*Service, error) {
	if o == nil || o.Flash == nil {
		return nil, fmt.Errorf("firmware: no Flash")
	}
	s := &Service{o: *o, busy: map[int]bool{}}
	if s.o.Now == nil {
		s.o.Now = time.Now
	}
	if s.o.ActivateDelay == 0 {
		s.o.ActivateDelay = time.Second
	}
	s.log = o.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.o.StateDir != "" {
		if err := os.MkdirAll(s.o.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("firmware: %w", err)
		}
		if b, err := os.ReadFile(s.statePath()); err == nil {
			if err := json.Unmarshal(b, &s.st); err != nil {
				s.log.Warn("firmware state unreadable; starting afresh", "err", err)
				s.st = state{}
			}
		}
	}
	n := s.o.Flash.Banks()
	for len(s.st.Banks) < n {
		s.st.Banks = append(s.st.Banks, &bankState{Alias: "cpe-" + strconv.Itoa(len(s.st.Banks)+1), Available: true})
	}
	s.st.Banks = s.st.Banks[:n]
	if s.st.Boot < 1 || s.st.Boot > n {
		s.st.Boot = s.o.Flash.Running()
	}
	resumed := map[int]bool{}
	for _, p := range s.st.Pending {
		resumed[p.Bank] = p.Bank >= 1 && p.Bank <= n && p.Bank != s.o.Flash.Running()
	}
	for i, b := range s.st.Banks {
		// A transfer the previous process was running, and that Resume
		// does not continue, ended with it.
		if (b.Status == StatusDownloading || b.Status == StatusValidating) && !resumed[i+1] {
			b.Status = StatusDownloadFailed
		}
	}
	if r := s.o.Boot; r.FailedBank >= 1 && r.FailedBank <= n {
		b := s.st.Banks[r.FailedBank-1]
		b.Status, b.BootFailureLog = StatusActivationFailed, r.FailureLog
	}
	if r := s.o.Boot; r.FirmwareUpdated {
		b := s.st.Banks[s.o.Flash.Running()-1]
		b.Status, b.BootFailureLog = "", ""
	}
	return s, s.save()
}

// SetEmitter sets where TransferComplete! goes; until it is set, events
// are logged only.
func (s *Service) SetEmitter(e Emitter) {
	s.mu.Lock()
	s.emit = e
	s.mu.Unlock()
}

// Resume continues, in the background, the downloads the previous run of
// the Agent did not finish; they end with TransferComplete! (their
// Request objects, and so their OperationComplete, ended with that run).
// ctx is the Agent's life: once it is done, or after Close, a transfer
// cut short is kept for the next start instead of failing.
func (s *Service) Resume(ctx context.Context) {
	s.mu.Lock()
	s.life = ctx
	todo := append([]*pending(nil), s.st.Pending...)
	s.mu.Unlock()
	for _, d := range todo {
		if d.Bank < 1 || d.Bank > s.o.Flash.Banks() || d.Bank == s.o.Flash.Running() || s.claim(d.Bank) != nil {
			s.setPending(d, false)
			continue
		}
		s.log.InfoContext(ctx, "resuming firmware download", "bank", d.Bank, "url", d.URL)
		go func() {
			defer s.release(d.Bank)
			if err := s.run(ctx, d); err != nil {
				s.log.WarnContext(ctx, "resumed firmware download failed", "bank", d.Bank, "err", err)
			}
		}()
	}
}

// Close tells the Service that the Agent is stopping: downloads cut short
// from now are continued at the next start (see Resume).
func (s *Service) Close() {
	s.mu.Lock()
	s.stop = true
	s.mu.Unlock()
}

func (s *Service) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stop || (s.life != nil && s.life.Err() != nil)
}

func (s *Service) statePath() string { return filepath.Join(s.o.StateDir, "images.json") }

// save writes the state; the caller holds mu or owns s alone.
func (s *Service) save() error {
	if s.o.StateDir == "" {
		return nil
	}
	b, _ := json.Marshal(s.st)
	tmp := s.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	if err := os.Rename(tmp, s.statePath()); err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	return nil
}

// status is bank's FirmwareImage.{i}.Status; the caller holds mu.
func (s *Service) status(bank int) string {
	if bank == s.o.Flash.Running() {
		return StatusActive
	}
	if st := s.st.Banks[bank-1].Status; st != "" {
		return st
	}
	if _, ok := s.o.Flash.Image(bank); ok {
		return StatusAvailable
	}
	return StatusNoImage
}

func (s *Service) setStatus(bank int, status, log string) {
	s.mu.Lock()
	b := s.st.Banks[bank-1]
	b.Status, b.BootFailureLog = status, log
	if err := s.save(); err != nil {
		s.log.Warn("saving firmware state", "err", err)
	}
	s.mu.Unlock()
}

func imagePath(bank int) string { return pathImages + strconv.Itoa(bank) + "." }

// Register serves the firmware objects on mux: the FirmwareImage table
// and its commands, and, through middleware around Device.DeviceInfo.'s
// handler, ActiveFirmwareImage and BootFirmwareImage.
func (s *Service) Register(mux *datamodel.Mux) {
	mux.Handle(PathImages, datamodel.HandlerFunc(s.serveImage))
	mux.Handle(PathImages+"Download()", datamodel.HandlerFunc(s.downloadCmd))
	mux.Handle(PathImages+"Activate()", datamodel.HandlerFunc(s.activateCmd))
	mux.Use(s.deviceInfo)
}

func (s *Service) serveImage(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	switch r.Op {
	case datamodel.OpList:
		for i := 1; i <= s.o.Flash.Banks(); i++ {
			w.AddInstance(uint32(i))
		}
		return nil
	case datamodel.OpGet, datamodel.OpSet:
	default:
		return usperr.Errorf(usperr.CodeObjectNotCreatable, "%s is a static table", pathImages)
	}
	bank := int(r.Instances[len(r.Instances)-1])
	if bank < 1 || bank > s.o.Flash.Banks() {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", r.Path)
	}
	if r.Op == datamodel.OpSet {
		return s.setImage(bank, r)
	}
	img, _ := s.o.Flash.Image(bank)
	s.mu.Lock()
	b := *s.st.Banks[bank-1]
	status := s.status(bank)
	s.mu.Unlock()
	for _, n := range r.Names {
		switch n {
		case "Alias":
			w.SetValue(n, b.Alias)
		case "Name":
			w.SetValue(n, clip(img.Name, 64))
		case "Version":
			w.SetValue(n, clip(img.Version, 64))
		case "Available":
			w.SetValue(n, strconv.FormatBool(b.Available))
		case "Status":
			w.SetValue(n, status)
		case "BootFailureLog":
			w.SetValue(n, b.BootFailureLog)
		}
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// setImage sets Alias and Available. An image that is running or is to
// be booted cannot be made unavailable.
func (s *Service) setImage(bank int, r *datamodel.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := *s.st.Banks[bank-1]
	for n, v := range r.Values {
		switch n {
		case "Alias":
			b.Alias = v
		case "Available":
			on := v == "true" || v == "1"
			if !on && (bank == s.o.Flash.Running() || bank == s.st.Boot) {
				return usperr.Errorf(usperr.CodeInvalidValue, "%s is the active or boot image and must stay available", imagePath(bank))
			}
			b.Available = on
		default:
			return usperr.Errorf(usperr.CodeParamReadOnly, "%s%s is read-only", r.Path, n)
		}
	}
	if r.CheckOnly {
		return nil
	}
	*s.st.Banks[bank-1] = b
	return s.save()
}

// deviceInfo is middleware around Device.DeviceInfo.'s handler: it answers
// for ActiveFirmwareImage and BootFirmwareImage and passes the rest on.
func (s *Service) deviceInfo(next datamodel.Handler) datamodel.Handler {
	return datamodel.HandlerFunc(func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
		if r.Path != pathInfo {
			return next.ServeUSP(ctx, w, r)
		}
		switch r.Op {
		case datamodel.OpGet:
			names := r.Names[:0:0]
			for _, n := range r.Names {
				switch n {
				case "ActiveFirmwareImage":
					w.SetValue(n, imagePath(s.o.Flash.Running()))
				case "BootFirmwareImage":
					s.mu.Lock()
					w.SetValue(n, imagePath(s.st.Boot))
					s.mu.Unlock()
				default:
					names = append(names, n)
				}
			}
			if len(names) == 0 {
				return nil
			}
			rr := *r
			rr.Names = names
			return next.ServeUSP(ctx, w, &rr)
		case datamodel.OpSet:
			if v, ok := r.Values["BootFirmwareImage"]; ok && len(r.Values) == 1 {
				return s.setBoot(ctx, v, r.CheckOnly)
			}
		}
		return next.ServeUSP(ctx, w, r)
	})
}

// setBoot sets BootFirmwareImage: the image must hold a valid image and be
// Available [TR-181 BootFirmwareImage].
func (s *Service) setBoot(ctx context.Context, ref string, checkOnly bool) error {
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(ref, pathImages), "."))
	if err != nil || !strings.HasPrefix(ref, pathImages) || n < 1 || n > s.o.Flash.Banks() {
		return usperr.Errorf(usperr.CodeInvalidValue, "BootFirmwareImage %q is not a FirmwareImage row", ref)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.st.Banks[n-1].Available {
		return usperr.Errorf(usperr.CodeInvalidValue, "%s is not Available", ref)
	}
	if st := s.status(n); st != StatusAvailable && st != StatusActive {
		return usperr.Errorf(usperr.CodeInvalidValue, "%s holds no valid image (%s)", ref, st)
	}
	if checkOnly {
		return nil
	}
	if err := s.o.Flash.SetBoot(ctx, n); err != nil {
		return usperr.Errorf(usperr.CodeInternal, "setting the boot image: %v", err)
	}
	s.st.Boot = n
	return s.save()
}
