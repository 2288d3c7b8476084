package firmware_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/download"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/tr181/firmware"
	"github.com/uspkit/uspkit/usperr"
)

// script is an image that answers `version` like usp does and exits with
// code otherwise.
func script(version string, code int) []byte {
	return []byte("#!/bin/sh\nif [ \"$1\" = version ]; then echo \"usp " + version + " (USP 1.3)\"; exit 0; fi\nexit " + string(rune('0'+code)) + "\n")
}

type events struct {
	mu  sync.Mutex
	got []map[string]string
}

func (e *events) Emit(ctx context.Context, path string, args func(string) map[string]string) {
	if path != firmware.EventTransfer {
		panic(path)
	}
	e.mu.Lock()
	e.got = append(e.got, args("ctrl"))
	e.mu.Unlock()
}

func (e *events) last(t *testing.T) map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.got) == 0 {
		t.Fatal("no TransferComplete!")
	}
	return e.got[len(e.got)-1]
}

type fixture struct {
	dir      string
	exe      string
	fl       *firmware.Dir
	eng      *datamodel.Engine
	svc      *firmware.Service
	ev       *events
	restarts chan string
}

func newFixture(t *testing.T, o *firmware.Options) *fixture {
	f := &fixture{dir: t.TempDir(), ev: &events{}, restarts: make(chan string, 4)}
	f.exe = filepath.Join(f.dir, "installed-usp")
	os.WriteFile(f.exe, script("1.0", 0), 0o755)
	f.open(t, f.exe, o)
	return f
}

// open starts a "process" from exe: the boot loader, then the service.
func (f *fixture) open(t *testing.T, exe string, o *firmware.Options) firmware.BootReport {
	t.Helper()
	fl, err := firmware.OpenDir(filepath.Join(f.dir, "fw"), exe, &firmware.DirOptions{Version: "1.0", Restart: func(p string) { f.restarts <- p }})
	if err != nil {
		t.Fatal(err)
	}
	next, rep, err := fl.Boot()
	if err != nil {
		t.Fatal(err)
	}
	if next != "" { // the boot loader executes next: open again from it
		return f.open(t, next, o)
	}
	f.fl = fl
	opts := firmware.Options{}
	if o != nil {
		opts = *o
	}
	opts.Flash, opts.StateDir, opts.Boot, opts.ActivateDelay = fl, filepath.Join(f.dir, "fw"), rep, time.Millisecond
	svc, err := firmware.New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	svc.SetEmitter(f.ev)
	f.svc = svc
	m := schema.New()
	m.Define("Device.")
	deviceinfo.Define(m)
	m.Define("Device.LocalAgent.")
	firmware.Define(m)
	mux := datamodel.NewMux(m)
	deviceinfo.Register(mux, deviceinfo.Info{SoftwareVersion: "x"})
	svc.Register(mux)
	f.eng, err = datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (f *fixture) get(t *testing.T, path string) string {
	t.Helper()
	res := f.eng.Get(context.Background(), datamodel.Caller{}, []string{path}, 0)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	for _, o := range res[0].Objects {
		for k, v := range o.Params {
			if o.Path+k == path {
				return v
			}
		}
	}
	t.Fatalf("%s not returned", path)
	return ""
}

func (f *fixture) operate(t *testing.T, cmd string, in map[string]string) error {
	t.Helper()
	res, err := f.eng.Operate(context.Background(), datamodel.Caller{EndpointID: "ctrl"}, cmd, "key-1", in)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil {
		return res[0].Err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = res[0].Async(ctx)
	return err
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestDownloadActivate: Download() into bank 2 (gzip-compressed, with a
// checksum) sends TransferComplete! with FaultCode 0, the image becomes
// Available with its version; Activate() restarts into bank 2, whose first
// start reports FirmwareUpdated with the command key; after Confirm it is
// the active and boot image.
func TestDownloadActivate(t *testing.T) {
	img := gz(script("2.0", 0))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
	defer srv.Close()
	f := newFixture(t, nil)
	if got := f.get(t, "Device.DeviceInfo.ActiveFirmwareImage"); got != "Device.DeviceInfo.FirmwareImage.1." {
		t.Fatalf("ActiveFirmwareImage %q", got)
	}
	if got := f.get(t, "Device.DeviceInfo.FirmwareImageNumberOfEntries"); got != "2" {
		t.Fatalf("FirmwareImageNumberOfEntries %q", got)
	}
	if got := f.get(t, "Device.DeviceInfo.FirmwareImage.2.Status"); got != firmware.StatusNoImage {
		t.Fatalf("bank 2 status %q", got)
	}
	err := f.operate(t, "Device.DeviceInfo.FirmwareImage.2.Download()", map[string]string{"URL": srv.URL, "AutoActivate": "false",
		"CheckSumAlgorithm": "SHA-256", "CheckSum": sum(img), "FileSize": "0"})
	if err != nil {
		t.Fatal(err)
	}
	tc := f.ev.last(t)
	if tc["FaultCode"] != "0" || tc["Command"] != "Device.DeviceInfo.FirmwareImage.2.Download()" || tc["Affected"] != "Device.DeviceInfo.FirmwareImage.2." ||
		tc["TransferType"] != "Download" || tc["CommandKey"] != "key-1" || tc["Requestor"] != "ctrl" || tc["TransferURL"] != srv.URL {
		t.Fatalf("TransferComplete! %v", tc)
	}
	if v, s := f.get(t, "Device.DeviceInfo.FirmwareImage.2.Version"), f.get(t, "Device.DeviceInfo.FirmwareImage.2.Status"); v != "2.0" || s != firmware.StatusAvailable {
		t.Fatalf("bank 2: version %q status %q", v, s)
	}
	// Downloading over the running image is refused.
	if err := f.operate(t, "Device.DeviceInfo.FirmwareImage.1.Download()", map[string]string{"URL": srv.URL, "AutoActivate": "false"}); usperr.Code(err) != firmware.CodeRequestDenied {
		t.Fatalf("download into the running bank: %v", err)
	}
	res, err := f.eng.Operate(context.Background(), datamodel.Caller{EndpointID: "ctrl"}, "Device.DeviceInfo.FirmwareImage.2.Activate()", "key-1",
		map[string]string{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "60", "TimeWindow.1.Mode": "Immediately"})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	// The command completes first (TP-469 9.4: OperationComplete within
	// 5 s), then the restart follows.
	if _, err := res[0].Async(context.Background()); err != nil {
		t.Fatalf("Activate(): %v", err)
	}
	var next string
	select {
	case next = <-f.restarts:
	case <-time.After(10 * time.Second):
		t.Fatal("Activate() did not restart")
	}
	if next != f.fl.File(2) {
		t.Fatalf("restart into %q", next)
	}
	rep := f.open(t, next, nil)
	if !rep.FirmwareUpdated || rep.CommandKey != "key-1" || rep.Cause != "RemoteReboot" {
		t.Fatalf("boot report %+v", rep)
	}
	if err := f.fl.Confirm(); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, "Device.DeviceInfo.ActiveFirmwareImage"); got != "Device.DeviceInfo.FirmwareImage.2." {
		t.Fatalf("ActiveFirmwareImage %q", got)
	}
	if got := f.get(t, "Device.DeviceInfo.BootFirmwareImage"); got != "Device.DeviceInfo.FirmwareImage.2." {
		t.Fatalf("BootFirmwareImage %q", got)
	}
	// A later start from the installed binary boots bank 2 again, with
	// nothing to report.
	if rep := f.open(t, f.exe, nil); rep != (firmware.BootReport{}) || f.fl.Running() != 2 {
		t.Fatalf("report %+v, running %d", rep, f.fl.Running())
	}
}

// TestRollback: an activated image that exits before it is confirmed is
// rolled back from at the next start, which reports the failure; the
// bank's Status is ActivationFailed with a BootFailureLog.
func TestRollback(t *testing.T) {
	img := script("6.6", 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
	defer srv.Close()
	f := newFixture(t, nil)
	if err := f.operate(t, "Device.DeviceInfo.FirmwareImage.2.Download()", map[string]string{"URL": srv.URL, "AutoActivate": "true"}); err != nil {
		t.Fatal(err)
	}
	next := <-f.restarts // AutoActivate
	f.open(t, next, nil) // the trial start, which then dies unconfirmed
	rep := f.open(t, f.exe, nil)
	if rep.FirmwareUpdated || rep.FailedBank != 2 || rep.Cause != "LocalReboot" || f.fl.Running() != 1 {
		t.Fatalf("report %+v, running %d", rep, f.fl.Running())
	}
	if s := f.get(t, "Device.DeviceInfo.FirmwareImage.2.Status"); s != firmware.StatusActivationFailed {
		t.Fatalf("bank 2 status %q", s)
	}
	if l := f.get(t, "Device.DeviceInfo.FirmwareImage.2.BootFailureLog"); !strings.Contains(l, "rolled back") {
		t.Fatalf("BootFailureLog %q", l)
	}
	if a := f.get(t, "Device.DeviceInfo.ActiveFirmwareImage"); a != "Device.DeviceInfo.FirmwareImage.1." {
		t.Fatalf("ActiveFirmwareImage %q", a)
	}
}

// TestDownloadFailures: every failure ends in TransferComplete! with its
// fault code, the command's failure with the same code, a failed Status,
// and no restart. The codes are TR-369 1.3's: TR-181 defines
// TransferComplete!'s FaultCode as TR-369's, and a failed command's
// OperationComplete takes 7002-7008, 7016, 7022, 7023 or 7800-7999
// [R-OPR.0].
func TestDownloadFailures(t *testing.T) {
	good := script("2.0", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/good":
			w.Write(good)
		case "/junk":
			w.Write([]byte("not an image"))
		case "/stall": // half the image, then nothing until the client gives up
			w.Header().Set("Content-Length", strconv.Itoa(len(good)))
			w.Write(good[:len(good)/2])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(good) }))
	defer tlsSrv.Close()
	small := &firmware.Options{Download: &download.Options{MaxSize: int64(len(good)) - 1}}
	for _, tc := range []struct {
		name   string
		in     map[string]string
		opts   *firmware.Options
		code   uint32
		status string
		says   string // in FaultString and the command's message
	}{
		{"404", map[string]string{"URL": srv.URL + "/none"}, nil, firmware.CodeCommandFailure, firmware.StatusDownloadFailed, "404"},
		{"refused", map[string]string{"URL": "http://127.0.0.1:1/x"}, &firmware.Options{Download: &download.Options{Attempts: 1}}, firmware.CodeCommandFailure, firmware.StatusDownloadFailed, "refused"},
		{"bad checksum", map[string]string{"URL": srv.URL + "/good", "CheckSumAlgorithm": "SHA-256", "CheckSum": sum([]byte("x"))}, nil, firmware.CodeCommandFailure, firmware.StatusValidationFailed, "SHA-256"},
		{"size mismatch", map[string]string{"URL": srv.URL + "/good", "FileSize": "5"}, nil, firmware.CodeCommandFailure, firmware.StatusDownloadFailed, "more than 5"},
		{"over max_size", map[string]string{"URL": srv.URL + "/good"}, small, firmware.CodeResourcesExceeded, firmware.StatusDownloadFailed, "more than"},
		{"FileSize over max_size", map[string]string{"URL": srv.URL + "/good", "FileSize": strconv.Itoa(len(good))}, small, firmware.CodeResourcesExceeded, firmware.StatusDownloadFailed, "beyond the limit"},
		{"untrusted TLS", map[string]string{"URL": tlsSrv.URL + "/good"}, nil, firmware.CodeCommandFailure, firmware.StatusDownloadFailed, "certificate"},
		{"stalled server (timeout)", map[string]string{"URL": srv.URL + "/stall"}, &firmware.Options{Download: &download.Options{Attempts: 2, Backoff: 10 * time.Millisecond, Stall: 200 * time.Millisecond}},
			firmware.CodeCommandFailure, firmware.StatusDownloadFailed, "no data for"},
		{"not an image", map[string]string{"URL": srv.URL + "/junk"}, nil, firmware.CodeCommandFailure, firmware.StatusValidationFailed, "not valid"},
		{"unsupported scheme", map[string]string{"URL": "ftp://127.0.0.1/x"}, nil, firmware.CodeInvalidArguments, firmware.StatusDownloadFailed, "scheme"},
		{"checksum without algorithm", map[string]string{"URL": srv.URL + "/good", "CheckSum": sum(good)}, nil, firmware.CodeInvalidArguments, firmware.StatusNoImage, "CheckSumAlgorithm"},
	} {
		if !commandFailureCode(tc.code) {
			t.Fatalf("%s: %d is not a code TR-369 1.3 allows in a command's failure", tc.name, tc.code)
		}
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts)
			tc.in["AutoActivate"] = "true"
			err := f.operate(t, "Device.DeviceInfo.FirmwareImage.2.Download()", tc.in)
			if usperr.Code(err) != tc.code {
				t.Fatalf("command error %v, want code %d", err, tc.code)
			}
			ev := f.ev.last(t)
			if ev["FaultCode"] != strconv.FormatUint(uint64(tc.code), 10) || !strings.Contains(ev["FaultString"], tc.says) {
				t.Fatalf("TransferComplete! %v, want FaultString saying %q", ev, tc.says)
			}
			if !strings.Contains(usperr.Message(err), tc.says) {
				t.Fatalf("command error %q, want it saying %q", usperr.Message(err), tc.says)
			}
			if s := f.get(t, "Device.DeviceInfo.FirmwareImage.2.Status"); s != tc.status {
				t.Fatalf("status %q, want %q", s, tc.status)
			}
			select {
			case p := <-f.restarts:
				t.Fatalf("a failed download restarted into %s", p)
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
}

// TestActivateWindows: Activate() of an image that is not there fails;
// ConfirmationNeeded with no one to confirm does not use its window;
// invalid windows are refused.
func TestActivateWindows(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.operate(t, "Device.DeviceInfo.FirmwareImage.2.Activate()", map[string]string{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "1", "TimeWindow.1.Mode": "AnyTime"}); usperr.Code(err) != firmware.CodeCommandFailure {
		t.Fatalf("activating an empty bank: %v", err)
	}
	for _, tc := range []struct {
		name string
		in   map[string]string
		ok   bool
	}{
		{"one", map[string]string{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "10", "TimeWindow.1.Mode": "AnyTime"}, true},
		{"end before start", map[string]string{"TimeWindow.1.Start": "10", "TimeWindow.1.End": "5", "TimeWindow.1.Mode": "AnyTime"}, false},
		{"overlap", map[string]string{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "10", "TimeWindow.1.Mode": "AnyTime",
			"TimeWindow.2.Start": "5", "TimeWindow.2.End": "20", "TimeWindow.2.Mode": "AnyTime"}, false},
		{"bad mode", map[string]string{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "10", "TimeWindow.1.Mode": "Never"}, false},
		{"no mode", map[string]string{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "10"}, false},
		{"retries", map[string]string{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "10", "TimeWindow.1.Mode": "WhenIdle", "TimeWindow.1.MaxRetries": "11"}, false},
	} {
		_, err := firmware.ParseWindows(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Activating the running image succeeds without a restart.
	if err := f.operate(t, "Device.DeviceInfo.FirmwareImage.1.Activate()", map[string]string{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "5", "TimeWindow.1.Mode": "Immediately"}); err != nil {
		t.Fatalf("activating the running image: %v", err)
	}
	select {
	case p := <-f.restarts:
		t.Fatalf("activating the running image restarted into %s", p)
	case <-time.After(50 * time.Millisecond):
	}
	// Bank 2 holds an image; ConfirmationNeeded without a user fails after
	// its window without restarting.
	os.WriteFile(filepath.Join(f.dir, "img"), script("2.0", 0), 0o755)
	if err := f.operate(t, "Device.DeviceInfo.FirmwareImage.2.Download()", map[string]string{"URL": "file://" + filepath.Join(f.dir, "img"), "AutoActivate": "false"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := f.operate(t, "Device.DeviceInfo.FirmwareImage.2.Activate()", map[string]string{"TimeWindow.1.Start": "1", "TimeWindow.1.End": "2", "TimeWindow.1.Mode": "ConfirmationNeeded", "TimeWindow.1.UserMessage": "upgrade?"})
	if usperr.Code(err) != firmware.CodeCommandFailure || time.Since(start) < time.Second {
		t.Fatalf("unconfirmed activation: %v after %v", err, time.Since(start))
	}
	select {
	case p := <-f.restarts:
		t.Fatalf("restarted into %s", p)
	default:
	}
}

// TestRollbackNeverStarted: an activated image that dies before its boot
// loader runs (it never marks its start) is rolled back from too, and not
// launched again.
func TestRollbackNeverStarted(t *testing.T) {
	f := newFixture(t, nil)
	os.WriteFile(filepath.Join(f.dir, "img"), script("6.6", 3), 0o755)
	if err := f.operate(t, "Device.DeviceInfo.FirmwareImage.2.Download()", map[string]string{"URL": "file://" + filepath.Join(f.dir, "img"), "AutoActivate": "true"}); err != nil {
		t.Fatal(err)
	}
	<-f.restarts // the image is executed and exits at once
	rep := f.open(t, f.exe, nil)
	if rep.FailedBank != 2 || f.fl.Running() != 1 || rep.FirmwareUpdated {
		t.Fatalf("report %+v, running %d", rep, f.fl.Running())
	}
	if rep := f.open(t, f.exe, nil); rep != (firmware.BootReport{}) || f.fl.Running() != 1 {
		t.Fatalf("second start: report %+v, running %d", rep, f.fl.Running())
	}
}

// TestSetBootFirmwareImage: BootFirmwareImage takes only an Available
// image that holds a valid image; after it is set, the next start (a
// Reboot()) runs that bank, on trial, reporting FirmwareUpdated with no
// cause of its own (the Agent's recorded Reboot() cause stands).
func TestSetBootFirmwareImage(t *testing.T) {
	f := newFixture(t, nil)
	set := func(v string) error {
		_, err := f.eng.Set(context.Background(), datamodel.Caller{}, false, []datamodel.UpdateObject{{Path: "Device.DeviceInfo.",
			Params: []datamodel.ParamSetting{{Param: "BootFirmwareImage", Value: v, Required: true}}}})
		return err
	}
	if err := set("Device.DeviceInfo.FirmwareImage.2."); err == nil {
		t.Fatal("an empty bank became the boot image")
	}
	if err := set("Device.DeviceInfo.FirmwareImage.9."); err == nil {
		t.Fatal("a missing bank became the boot image")
	}
	os.WriteFile(filepath.Join(f.dir, "img"), script("2.0", 0), 0o755)
	if err := f.operate(t, "Device.DeviceInfo.FirmwareImage.2.Download()", map[string]string{"URL": "file://" + filepath.Join(f.dir, "img"), "AutoActivate": "false"}); err != nil {
		t.Fatal(err)
	}
	if err := set("Device.DeviceInfo.FirmwareImage.2."); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, "Device.DeviceInfo.BootFirmwareImage"); got != "Device.DeviceInfo.FirmwareImage.2." {
		t.Fatalf("BootFirmwareImage %q", got)
	}
	rep := f.open(t, f.exe, nil) // Reboot(): the installed binary starts, the boot loader runs bank 2
	if !rep.FirmwareUpdated || rep.Cause != "" || f.fl.Running() != 2 || !f.fl.Trial() {
		t.Fatalf("report %+v, running %d, trial %v", rep, f.fl.Running(), f.fl.Trial())
	}
	// Not confirmed: the next start goes back to bank 1.
	if rep := f.open(t, f.exe, nil); rep.FailedBank != 2 || f.fl.Running() != 1 {
		t.Fatalf("report %+v, running %d", rep, f.fl.Running())
	}
}

// TestRollbackNotConnected: an image on trial that does not connect in
// time rolls itself back (Dir.Rollback): it names the previous bank's
// binary to restart into, whose start reports the reason.
func TestRollbackNotConnected(t *testing.T) {
	f := newFixture(t, nil)
	os.WriteFile(filepath.Join(f.dir, "img"), script("2.0", 0), 0o755)
	if err := f.operate(t, "Device.DeviceInfo.FirmwareImage.2.Download()", map[string]string{"URL": "file://" + filepath.Join(f.dir, "img"), "AutoActivate": "true"}); err != nil {
		t.Fatal(err)
	}
	f.open(t, <-f.restarts, nil)
	if !f.fl.Trial() {
		t.Fatal("the new image is not on trial")
	}
	next := f.fl.Rollback("no MTP up within 1s")
	if next != f.fl.File(1) {
		t.Fatalf("roll back into %q", next)
	}
	rep := f.open(t, next, nil)
	if rep.FailedBank != 2 || rep.FailureLog != "no MTP up within 1s" || rep.Cause != "LocalReboot" || f.fl.Running() != 1 {
		t.Fatalf("report %+v, running %d", rep, f.fl.Running())
	}
	if l := f.get(t, "Device.DeviceInfo.FirmwareImage.2.BootFailureLog"); l != "no MTP up within 1s" {
		t.Fatalf("BootFailureLog %q", l)
	}
	// A confirmed image is not rolled back.
	if f.fl.Rollback("late") != "" {
		t.Fatal("rolled back without a trial")
	}
}

// TestDownloadResumedAfterRestart: a download cut short by the Agent
// stopping is continued by the next start (Resume) from the partial file
// with a Range request, and ends with TransferComplete!.
func TestDownloadResumedAfterRestart(t *testing.T) {
	img := script("2.0", 0)
	img = append(img, bytes.Repeat([]byte("#padding\n"), 20000)...)
	half := len(img) / 2
	var mu sync.Mutex
	var ranges []string
	hold := make(chan struct{})
	defer close(hold)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		first := len(ranges) == 1
		mu.Unlock()
		if first {
			w.Header().Set("Content-Length", strconv.Itoa(len(img)))
			w.Write(img[:half])
			w.(http.Flusher).Flush()
			select {
			case <-hold:
			case <-r.Context().Done():
			}
			return
		}
		http.ServeContent(w, r, "img", time.Unix(0, 0), bytes.NewReader(img))
	}))
	defer srv.Close()
	f := newFixture(t, nil)
	res, err := f.eng.Operate(context.Background(), datamodel.Caller{EndpointID: "ctrl"}, "Device.DeviceInfo.FirmwareImage.2.Download()", "dl-r",
		map[string]string{"URL": srv.URL, "AutoActivate": "false", "CheckSumAlgorithm": "SHA-256", "CheckSum": sum(img), "FileSize": strconv.Itoa(len(img))})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := res[0].Async(ctx); done <- err }()
	part := filepath.Join(f.dir, "fw", "download-2.part")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if fi, err := os.Stat(part); err == nil && fi.Size() == int64(half) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first half never arrived")
		}
	}
	if got := f.get(t, "Device.DeviceInfo.FirmwareImage.2.Status"); got != firmware.StatusDownloading {
		t.Fatalf("status while downloading %q", got)
	}
	f.svc.Close() // the Agent stops
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the cut download succeeded")
	}
	f.ev.mu.Lock()
	n := len(f.ev.got)
	f.ev.mu.Unlock()
	if n != 0 {
		t.Fatalf("TransferComplete! sent for a transfer that continues: %v", f.ev.got)
	}
	f.open(t, f.exe, nil) // the next start
	f.svc.Resume(context.Background())
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		f.ev.mu.Lock()
		n = len(f.ev.got)
		f.ev.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no TransferComplete! after the restart")
		}
	}
	if tc := f.ev.last(t); tc["FaultCode"] != "0" || tc["CommandKey"] != "dl-r" || tc["Requestor"] != "ctrl" {
		t.Fatalf("TransferComplete! %v", tc)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "bytes=" + strconv.Itoa(half) + "-"; len(ranges) != 2 || ranges[1] != want {
		t.Fatalf("requests %q, want the second with Range %s", ranges, want)
	}
	if v := f.get(t, "Device.DeviceInfo.FirmwareImage.2.Version"); v != "2.0" {
		t.Fatalf("version %q", v)
	}
}

// TestDiskFull: a disk that fills up while the image is fetched or while
// it is written into the bank ends the Download() with fault 7005
// (Resources exceeded), TransferComplete! says so, and the bank is
// DownloadFailed or InstallationFailed (/dev/full stands in for the full
// disk).
func TestDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	img := script("2.0", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
	defer srv.Close()
	for _, tc := range []struct {
		name, file, status string
	}{
		{"fetching", "download-2.part", firmware.StatusDownloadFailed},
		{"writing the bank", "bank2/usp.new", firmware.StatusInstallationFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			full := filepath.Join(f.dir, "fw", tc.file)
			if err := os.Symlink("/dev/full", full); err != nil {
				t.Fatal(err)
			}
			if tc.file == "download-2.part" { // a partial file of this URL, so that it is written to, not replaced
				os.WriteFile(full+".json", []byte(`{"url":"`+srv.URL+`"}`), 0o600)
			}
			err := f.operate(t, "Device.DeviceInfo.FirmwareImage.2.Download()", map[string]string{"URL": srv.URL, "AutoActivate": "true"})
			if usperr.Code(err) != firmware.CodeResourcesExceeded {
				t.Fatalf("err %v, want 7005", err)
			}
			if tc := f.ev.last(t); tc["FaultCode"] != "7005" {
				t.Fatalf("TransferComplete! %v", tc)
			}
			if s := f.get(t, "Device.DeviceInfo.FirmwareImage.2.Status"); s != tc.status {
				t.Fatalf("status %q, want %q", s, tc.status)
			}
		})
	}
}

// commandFailureCode tells whether TR-369 1.3 allows code in a command's
// failure (OperateResp CommandFailure, OperationComplete CommandFailure):
// 7002-7008, 7016, 7022, 7023 and the vendor range 7800-7999.
func commandFailureCode(code uint32) bool {
	return (code >= 7002 && code <= 7008) || code == 7016 || code == 7022 || code == 7023 || (code >= usperr.CodeVendorFirst && code <= usperr.CodeVendorLast)
}
