package softwaremodules

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/uspkit/uspkit/usperr"
)

// Options configure a Manager.
type Options struct {
	// Dir is the data directory: state.json (the Deployment and Execution
	// Units), du/ (unpacked units), logs/ (each unit's output) and tmp/
	// (downloads). Required.
	Dir string
	// Envs are the Execution Environments, ExecEnv.1 onwards; at least one.
	Envs []ExecEnv
	// Client fetches http and https URLs; nil means a client with a 60 s
	// response-header timeout.
	Client *http.Client
	// MaxDUSize bounds a Deployment Unit file; 0 means 1 GiB.
	MaxDUSize int64
	// StopTimeout is how long a unit has to end after SIGTERM before it
	// is killed; 0 means 10 s.
	StopTimeout time.Duration
	// OperationTimeout bounds an Install or Update, download included;
	// 0 means 24 hours, the longest TR-369 allows [R-SMM.1].
	OperationTimeout time.Duration
	// MaxOperations bounds the Installs and Updates in progress at once;
	// one more fails with 7005 (Resources exceeded). 0 means 4.
	MaxOperations int
	// MaxLog bounds a unit's log file; the file is renamed to NAME.1 when
	// it would grow over it. 0 means 1 MiB.
	MaxLog int64
	// Logger receives the Manager's log lines; nil means slog.Default().
	Logger *slog.Logger
}

// Notifier sends events; *agent.Agent is one.
type Notifier interface {
	Emit(ctx context.Context, eventPath string, args func(recipient string) map[string]string)
}

// Manager holds the Deployment and Execution Units of its Execution
// Environments, runs their state machines (TR-369 Appendix I) and keeps
// them in Options.Dir across restarts [R-SMM.0]. Its methods are safe for
// concurrent use. Lock order: Manager.mu, then nothing (environments are
// called without it).
type Manager struct {
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	st       state
	du       map[uint32]*duRun
	eu       map[uint32]*euRun
	notifier Notifier
	closed   bool
	disk     map[string]diskSample
	// key seals the passwords in state.json.
	key []byte
	// ops holds a token per Install or Update in progress.
	ops chan struct{}
	// announced are the values last announced, by row path.
	announced map[string]map[string]string
	// logs is Device.DeviceInfo.VendorLogFile (PublishLogs); logMu
	// serializes the rows' additions and removals (order: logMu, then
	// mu).
	logs  LogTable
	logMu sync.Mutex

	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// state is what state.json holds.
type state struct {
	NextDU uint32     `json:"next_du"`
	NextEU uint32     `json:"next_eu"`
	Envs   []envState `json:"envs"`
	DUs    []*duState `json:"dus"`
	EUs    []*euState `json:"eus"`
}

type envState struct {
	Alias      string    `json:"alias"`
	ClassAlias string    `json:"class_alias"`
	Disable    bool      `json:"disable"`
	Created    time.Time `json:"created"`
}

type duState struct {
	N           uint32    `json:"n"`
	UUID        string    `json:"uuid"`
	DUID        string    `json:"duid"`
	Alias       string    `json:"alias"`
	Name        string    `json:"name"`
	URL         string    `json:"url"`
	Username    string    `json:"username,omitempty"`
	Password    string    `json:"password,omitempty"`
	Vendor      string    `json:"vendor"`
	Version     string    `json:"version"`
	Description string    `json:"description"`
	Env         int       `json:"env"`
	Installed   time.Time `json:"installed"`
	LastUpdate  time.Time `json:"last_update"`
	EU          uint32    `json:"eu"`
	MemoryKiB   int64     `json:"memory_kib,omitempty"`
	CPUPercent  int64     `json:"cpu_percent,omitempty"`
}

type euState struct {
	N           uint32 `json:"n"`
	EUID        string `json:"euid"`
	Alias       string `json:"alias"`
	Name        string `json:"name"`
	DU          uint32 `json:"du"`
	AutoStart   bool   `json:"auto_start"`
	Vendor      string `json:"vendor"`
	Version     string `json:"version"`
	Description string `json:"description"`
	Fault       string `json:"fault"`
	FaultMsg    string `json:"fault_msg"`
	// LogFile is the instance of the unit's VendorLogFile row, kept so
	// that the row has the same number after a restart.
	LogFile uint32 `json:"log_file,omitempty"`
}

// duRun is a Deployment Unit's state that is not kept.
type duRun struct{ status string }

// euRun is an Execution Unit's state that is not kept.
type euRun struct {
	status string
	proc   Process
	// stopping is set when the Agent itself ends the process.
	stopping bool
	// logRow is the unit's VendorLogFile row, 0 while it has none.
	logRow uint32
}

type diskSample struct {
	kib int64
	at  time.Time
}

// New loads the Manager's state from o.Dir (creating the directory). No
// unit runs until Start.
func New(ctx context.Context, o *Options) (*Manager, error) {
	if o == nil || o.Dir == "" || len(o.Envs) == 0 {
		return nil, errors.New("softwaremodules: Options.Dir and Options.Envs are required")
	}
	m := &Manager{o: *o, du: map[uint32]*duRun{}, eu: map[uint32]*euRun{}, disk: map[string]diskSample{},
		announced: map[string]map[string]string{}}
	if m.o.Client == nil {
		m.o.Client = defaultClient()
	}
	if m.o.MaxDUSize == 0 {
		m.o.MaxDUSize = 1 << 30
	}
	if m.o.StopTimeout == 0 {
		m.o.StopTimeout = 10 * time.Second
	}
	if m.o.OperationTimeout == 0 {
		m.o.OperationTimeout = 24 * time.Hour
	}
	if m.o.MaxOperations <= 0 {
		m.o.MaxOperations = 4
	}
	m.ops = make(chan struct{}, m.o.MaxOperations)
	if m.o.MaxLog == 0 {
		m.o.MaxLog = 1 << 20
	}
	m.log = m.o.Logger
	if m.log == nil {
		m.log = slog.Default()
	}
	for _, d := range []string{"du", "logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(o.Dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("softwaremodules: %w", err)
		}
	}
	key, err := loadKey(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("softwaremodules: %w", err)
	}
	m.key = key
	_ = os.RemoveAll(filepath.Join(o.Dir, "tmp")) // downloads cut short by a restart
	_ = os.MkdirAll(filepath.Join(o.Dir, "tmp"), 0o700)
	if err := m.load(); err != nil {
		return nil, err
	}
	m.base, m.stop = context.WithCancel(context.WithoutCancel(ctx))
	return m, nil
}

func (m *Manager) statePath() string { return filepath.Join(m.o.Dir, "state.json") }

func (m *Manager) load() error {
	b, err := os.ReadFile(m.statePath())
	switch {
	case errors.Is(err, os.ErrNotExist):
		m.st = state{NextDU: 1, NextEU: 1}
	case err != nil:
		return fmt.Errorf("softwaremodules: %w", err)
	default:
		if err := json.Unmarshal(b, &m.st); err != nil {
			return fmt.Errorf("softwaremodules: %s: %w", m.statePath(), err)
		}
	}
	for len(m.st.Envs) < len(m.o.Envs) {
		n := strconv.Itoa(len(m.st.Envs) + 1)
		m.st.Envs = append(m.st.Envs, envState{Alias: "cpe-" + n, ClassAlias: "cpe-" + n, Created: time.Now().UTC()})
	}
	for i := range m.st.Envs {
		if m.st.Envs[i].ClassAlias == "" {
			m.st.Envs[i].ClassAlias = "cpe-" + strconv.Itoa(i+1)
		}
	}
	for _, d := range m.st.DUs {
		if d.Password, err = m.unseal(d.Password); err != nil {
			m.log.Warn("deployment unit password lost", "du", duRef(d.N), "err", err)
		}
		m.du[d.N] = &duRun{status: DUInstalled}
		// An Update cut short between its two renames: the old files
		// are the unit's.
		dir := m.duDir(d.N)
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			_ = os.Rename(dir+".old", dir)
		}
		_ = os.RemoveAll(dir + ".old")
	}
	for _, u := range m.st.EUs {
		m.eu[u.N] = &euRun{status: EUIdle}
	}
	return m.saveLocked()
}

// saveLocked writes state.json atomically; m.mu is held (or m is not
// shared yet).
func (m *Manager) saveLocked() error {
	st := m.st
	st.DUs = make([]*duState, len(m.st.DUs))
	for i, d := range m.st.DUs {
		c := *d
		c.Password = m.seal(d.Password)
		st.DUs[i] = &c
	}
	b, err := json.MarshalIndent(&st, "", " ")
	if err != nil {
		return err
	}
	tmp := m.statePath() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("softwaremodules: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, m.statePath())
	}
	if err != nil {
		return fmt.Errorf("softwaremodules: saving state: %w", err)
	}
	return nil
}

func (m *Manager) save() {
	if err := m.saveLocked(); err != nil {
		m.log.Error("software modules state not saved", "err", err)
	}
}

// Start sets the Notifier for DUStateChange! and starts the Execution
// Units whose AutoStart is true; a unit that fails to start shows
// FailureOnAutoStart.
func (m *Manager) Start(ctx context.Context, n Notifier) {
	for _, e := range m.o.Envs {
		if r, ok := e.(Resetter); ok {
			if err := r.Reset(ctx); err != nil {
				m.log.Warn("execution environment not reset", "env", e.Info().Name, "err", err)
			}
		}
	}
	m.mu.Lock()
	m.notifier = n
	var auto []uint32
	for _, u := range m.st.EUs {
		if u.AutoStart && !m.envDisabledLocked(m.duOf(u).Env) {
			auto = append(auto, u.N)
		}
	}
	m.mu.Unlock()
	for _, n := range auto {
		m.startEU(n, FaultOnAutoStart)
	}
}

// Close stops every running Execution Unit and waits for the work in
// progress. AutoStart units start again at the next Start.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	var procs []Process
	for _, r := range m.eu {
		if r.proc != nil {
			r.stopping = true
			procs = append(procs, r.proc)
		}
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), m.o.StopTimeout)
			defer cancel()
			_ = p.Stop(ctx)
		}()
	}
	wg.Wait()
	m.stop()
	m.wg.Wait()
}

func (m *Manager) duOf(u *euState) *duState {
	for _, d := range m.st.DUs {
		if d.N == u.DU {
			return d
		}
	}
	return &duState{}
}

func (m *Manager) findDU(n uint32) *duState {
	for _, d := range m.st.DUs {
		if d.N == n {
			return d
		}
	}
	return nil
}

func (m *Manager) findEU(n uint32) *euState {
	for _, u := range m.st.EUs {
		if u.N == n {
			return u
		}
	}
	return nil
}

func (m *Manager) envDisabledLocked(env int) bool {
	return env < 1 || env > len(m.st.Envs) || m.st.Envs[env-1].Disable
}

func envRef(n int) string   { return prefixEnv + strconv.Itoa(n) }
func duRef(n uint32) string { return prefixDU + strconv.FormatUint(uint64(n), 10) }
func euRef(n uint32) string { return prefixEU + strconv.FormatUint(uint64(n), 10) }

func timeText(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// logWriter returns the log of Execution Unit euid.
func (m *Manager) logWriter(euid string) io.Writer {
	return &rotatingLog{path: filepath.Join(m.o.Dir, "logs", containerID(euid)+".log"), max: m.o.MaxLog}
}

// LogPath returns the file that holds the output of Execution Unit n
// (ExecutionUnit.{n}.), or "" when there is no such unit.
func (m *Manager) LogPath(n uint32) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.findEU(n)
	if u == nil {
		return ""
	}
	return filepath.Join(m.o.Dir, "logs", containerID(u.EUID)+".log")
}

// rotatingLog appends to a file, renaming it to NAME.1 when it would grow
// over max.
type rotatingLog struct {
	mu   sync.Mutex
	path string
	max  int64
}

func (l *rotatingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if fi, err := os.Stat(l.path); err == nil && fi.Size()+int64(len(p)) > l.max {
		_ = os.Rename(l.path, l.path+".1")
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Write(p)
}

// faultOf returns the code and message of an operation's error.
func faultOf(err error) (uint32, string) {
	if err == nil {
		return 0, ""
	}
	code := usperr.Code(err)
	if code == usperr.CodeInternal {
		code = CodeRequestDenied
	}
	msg := usperr.Message(err)
	if len(msg) > 256 {
		msg = msg[:256]
	}
	return code, msg
}

func (m *Manager) duDir(n uint32) string {
	return filepath.Join(m.o.Dir, "du", strconv.FormatUint(uint64(n), 10))
}

func sleep(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }
