package firmware

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Dir is the Flash of a Linux host: an image is a `usp` binary (written
// gzip-compressed or not) in bank directories dir/bank1, dir/bank2, …;
// the first start copies the running binary into bank 1. Booting a bank
// means executing its binary: Boot, called at every start before anything
// else, says which binary this start must run, and rolls back to the
// previous bank when a newly activated one started before and was never
// confirmed (Confirm) — it exited, or did not connect in time.
//
// The state (boot bank, last good bank, the activation on trial) is in
// dir/boot.json, written by rename so that a crash leaves the old or the
// new state, never a mix.
type Dir struct {
	dir string
	o   DirOptions

	mu      sync.Mutex
	st      dirState
	exeBank int // the bank whose binary this process runs, or 0
	running int
}

// DirOptions configure a Dir; nil means the defaults.
type DirOptions struct {
	// Banks is the number of banks; 0 means 2.
	Banks int
	// Version is the running binary's version, recorded for bank 1 when
	// the running binary is copied there at the first start.
	Version string
	// Restart ends the running process and starts the binary at path in
	// its place (with the same arguments); Activate calls it. nil makes
	// Activate fail.
	Restart func(path string)
	// ValidateTimeout bounds the run of `IMAGE version` that validates an
	// image; 0 means 10 s.
	ValidateTimeout time.Duration
}

type dirState struct {
	// Boot is the bank to start; Good the last one confirmed.
	Boot, Good int
	// Trial is an activation not yet confirmed.
	Trial *trial `json:",omitempty"`
	// Report is for the next start that runs in place.
	Report *BootReport `json:",omitempty"`
	// Images are the validated images per bank ("1", "2").
	Images map[string]Image
}

type trial struct {
	Bank, From int
	Key        string
	// Launched is set before the trial bank's binary is first executed;
	// Started by that binary's Boot. A start that finds the trial
	// launched before and not confirmed rolls back.
	Launched, Started bool
	// Remote is set for an Activate() (a Controller's request).
	Remote bool
}

// OpenDir opens (creating it) the bank directory dir; exe is the running
// binary, copied into bank 1 at the first start.
func OpenDir(dir, exe string, o *DirOptions) (*Dir, error) {
	d := &Dir{dir: dir}
	if o != nil {
		d.o = *o
	}
	if d.o.Banks <= 0 {
		d.o.Banks = 2
	}
	if d.o.ValidateTimeout <= 0 {
		d.o.ValidateTimeout = 10 * time.Second
	}
	for i := 1; i <= d.o.Banks; i++ {
		if err := os.MkdirAll(filepath.Dir(d.File(i)), 0o700); err != nil {
			return nil, fmt.Errorf("firmware: %w", err)
		}
	}
	b, err := os.ReadFile(d.statePath())
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &d.st); err != nil {
			return nil, fmt.Errorf("firmware: %s: %w", d.statePath(), err)
		}
	case errors.Is(err, os.ErrNotExist):
		if err := copyExecutable(exe, d.File(1)); err != nil {
			return nil, fmt.Errorf("firmware: installing the running image in bank 1: %w", err)
		}
		d.st = dirState{Boot: 1, Good: 1, Images: map[string]Image{"1": {Name: "usp", Version: d.o.Version}}}
		if err := d.save(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("firmware: %w", err)
	}
	if d.st.Images == nil {
		d.st.Images = map[string]Image{}
	}
	d.exeBank = d.bankOf(exe)
	d.running = d.exeBank
	if d.running == 0 {
		d.running = d.st.Boot
	}
	return d, nil
}

// File is the path of bank's binary.
func (d *Dir) File(bank int) string {
	return filepath.Join(d.dir, "bank"+strconv.Itoa(bank), "usp")
}

func (d *Dir) statePath() string { return filepath.Join(d.dir, "boot.json") }

func (d *Dir) save() error {
	b, _ := json.MarshalIndent(d.st, "", " ")
	tmp := d.statePath() + ".tmp"
	if err := writeSync(tmp, b); err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	if err := os.Rename(tmp, d.statePath()); err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	return nil
}

func writeSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// bankOf returns the bank whose binary is exe, or 0.
func (d *Dir) bankOf(exe string) int {
	real := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		a, _ := filepath.Abs(p)
		return a
	}
	e := real(exe)
	for i := 1; i <= d.o.Banks; i++ {
		if real(d.File(i)) == e {
			return i
		}
	}
	return 0
}

// Boot is the boot loader, run at the start of the process whose binary
// is exe. When another bank's binary must run, it returns its path (the
// caller executes it in place of this process, which runs Boot again);
// otherwise "" and the report of this start.
//
// A trial bank is started once: its first start marks the trial started
// and reports FirmwareUpdated; a start that finds the trial started and
// not confirmed rolls back to the bank it came from, reports the failure,
// and the bank keeps its image but is not booted again [TR-181
// BootFirmwareImage: the boot image is not changed to the one that did
// start].
func (d *Dir) Boot() (execPath string, r BootReport, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	exeBank := d.exeBank
	target := d.st.Boot
	if t := d.st.Trial; t != nil {
		switch {
		case exeBank == t.Bank && t.Launched && !t.Started:
			t.Started = true
			d.st.Report = &BootReport{FirmwareUpdated: true, Cause: t.cause(), CommandKey: t.Key}
		case t.Launched:
			d.st.Trial, d.st.Boot = nil, t.From
			d.st.Report = &BootReport{Cause: "LocalReboot", CommandKey: t.Key, FailedBank: t.Bank,
				FailureLog: "the image in bank " + strconv.Itoa(t.Bank) + " stopped or did not connect before it was confirmed; rolled back to bank " + strconv.Itoa(t.From)}
			target = t.From
		default: // set to boot (SetBoot) but not launched yet
			t.Launched = true
			target = t.Bank
			if exeBank == t.Bank {
				t.Started = true
				d.st.Report = &BootReport{FirmwareUpdated: true, Cause: t.cause(), CommandKey: t.Key}
			}
		}
		if err := d.save(); err != nil {
			return "", r, err
		}
	}
	if target != exeBank {
		if _, err := os.Stat(d.File(target)); err == nil {
			return d.File(target), r, nil
		}
	}
	d.running = target
	if d.st.Report != nil {
		r = *d.st.Report
		d.st.Report = nil
		if err := d.save(); err != nil {
			return "", r, err
		}
	}
	return "", r, nil
}

// Trial reports whether the running image is on trial: started after an
// activation and not yet confirmed.
func (d *Dir) Trial() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.Trial != nil && d.st.Trial.Started && d.st.Trial.Bank == d.running
}

// Confirm ends the running image's trial: it is the good image from now.
func (d *Dir) Confirm() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.st.Trial
	if t == nil || !t.Started || t.Bank != d.running {
		return nil
	}
	d.st.Trial, d.st.Good, d.st.Boot = nil, t.Bank, t.Bank
	return d.save()
}

// Rollback ends a failed trial of the running image now: it returns the
// binary of the bank to restart into (the next start reports the
// failure), or "" when the running image is not on trial.
func (d *Dir) Rollback(reason string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.st.Trial
	if t == nil || !t.Started || t.Bank != d.running {
		return ""
	}
	d.st.Trial, d.st.Boot = nil, t.From
	d.st.Report = &BootReport{Cause: "LocalReboot", CommandKey: t.Key, FailedBank: t.Bank, FailureLog: reason}
	if err := d.save(); err != nil {
		return ""
	}
	return d.File(t.From)
}

// Banks implements Flash.
func (d *Dir) Banks() int { return d.o.Banks }

// Running implements Flash.
func (d *Dir) Running() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}

// Image implements Flash.
func (d *Dir) Image(bank int) (Image, bool) {
	d.mu.Lock()
	img, ok := d.st.Images[strconv.Itoa(bank)]
	d.mu.Unlock()
	if !ok {
		return Image{}, false
	}
	_, err := os.Stat(d.File(bank))
	return img, err == nil
}

// Write implements Flash: the image, gunzipped when it starts with the
// gzip magic, replaces bank's binary by rename.
func (d *Dir) Write(ctx context.Context, bank int, r io.Reader) error {
	if bank < 1 || bank > d.o.Banks {
		return fmt.Errorf("no bank %d", bank)
	}
	d.mu.Lock()
	if bank == d.running {
		d.mu.Unlock()
		return fmt.Errorf("bank %d is running", bank)
	}
	delete(d.st.Images, strconv.Itoa(bank))
	err := d.save()
	d.mu.Unlock()
	if err != nil {
		return err
	}
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	return writeExecutable(ctx, d.File(bank), r)
}

// Validate implements Flash: the image must run `IMAGE version` and say
// "usp VERSION …".
func (d *Dir) Validate(ctx context.Context, bank int) (Image, error) {
	ctx, cancel := context.WithTimeout(ctx, d.o.ValidateTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.File(bank), "version")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		return Image{}, fmt.Errorf("running %s version: %w", d.File(bank), err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 || f[0] != "usp" {
		return Image{}, fmt.Errorf("not a usp image: %q", clip(string(out), 64))
	}
	img := Image{Name: "usp", Version: clip(f[1], 64)}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.st.Images[strconv.Itoa(bank)] = img
	return img, d.save()
}

// SetBoot implements Flash. Booting a bank other than the good one puts
// it on trial.
func (d *Dir) SetBoot(ctx context.Context, bank int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if bank < 1 || bank > d.o.Banks {
		return fmt.Errorf("no bank %d", bank)
	}
	if t := d.st.Trial; t != nil && t.Bank == bank {
		d.st.Boot = bank // already on trial: it stays so
		return d.save()
	}
	d.st.Boot, d.st.Trial = bank, nil
	if bank != d.running {
		d.st.Trial = &trial{Bank: bank, From: d.running}
	}
	return d.save()
}

// Activate implements Flash: bank goes on trial and Restart starts its
// binary.
func (d *Dir) Activate(ctx context.Context, bank int, commandKey string) error {
	if d.o.Restart == nil {
		return errors.New("no way to restart")
	}
	d.mu.Lock()
	if bank == d.running {
		d.mu.Unlock()
		return fmt.Errorf("bank %d is running", bank)
	}
	d.st.Boot, d.st.Trial = bank, &trial{Bank: bank, From: d.running, Key: commandKey, Launched: true, Remote: true}
	err := d.save()
	d.mu.Unlock()
	if err != nil {
		return err
	}
	d.o.Restart(d.File(bank))
	return nil
}

// cause is the Boot! cause of a trial's first start: RemoteReboot for an
// Activate(), else "" (the cause the Agent recorded, such as Reboot()'s).
func (t *trial) cause() string {
	if t.Remote {
		return "RemoteReboot"
	}
	return ""
}

// copyExecutable copies the binary src to dst.
func copyExecutable(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeExecutable(context.Background(), dst, f)
}

// writeExecutable writes r to path (0755) through a temporary file and a
// rename.
func writeExecutable(ctx context.Context, path string, r io.Reader) error {
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o700)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	_, err = io.CopyBuffer(f, r, make([]byte, 64<<10))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
