package softwaremodules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ManifestFile is the name of a plain-process Deployment Unit's manifest,
// at the root of its tar.gz.
const ManifestFile = "manifest.json"

// ProcessManifest is the manifest of a plain-process Deployment Unit:
//
//	{"name": "hello", "version": "1.0", "vendor": "Acme",
//	 "description": "says hello", "command": ["bin/hello", "--loud"],
//	 "env": ["GREETING=hi"]}
//
// Command[0] is a path inside the unit (or an absolute path on the host);
// the process runs in the unit's directory.
type ProcessManifest struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Vendor      string   `json:"vendor"`
	Description string   `json:"description"`
	Command     []string `json:"command"`
	Env         []string `json:"env"`
}

// ProcessEnv is an Execution Environment whose Execution Units are child
// processes of the Agent. A Deployment Unit is a tar file (gzip or not)
// holding ManifestFile and whatever the command needs. The zero value is
// ready to use.
type ProcessEnv struct{}

// Info describes the environment.
func (ProcessEnv) Info() EnvInfo {
	return EnvInfo{Name: "Process", Type: "Linux Process", Vendor: "uspkit", Version: "1.0"}
}

// Check always succeeds: any host can run processes.
func (ProcessEnv) Check(context.Context) error { return nil }

// Unpack checks the manifest, then unpacks the file into dir.
func (ProcessEnv) Unpack(ctx context.Context, src, dir string) (Manifest, error) {
	pm, err := readProcessManifest(src)
	if err != nil {
		return Manifest{}, err
	}
	if err := unpack(src, dir); err != nil {
		return Manifest{}, err
	}
	return Manifest{Name: pm.Name, Version: pm.Version, Vendor: pm.Vendor, Description: pm.Description}, nil
}

func readProcessManifest(src string) (*ProcessManifest, error) {
	b, err := readArchiveFile(src, ManifestFile, 64<<10)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s", ErrMismatch, ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	var pm ProcessManifest
	if err := json.Unmarshal(b, &pm); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, ManifestFile, err)
	}
	if pm.Name == "" || pm.Version == "" || len(pm.Command) == 0 {
		return nil, fmt.Errorf("%w: %s needs name, version and command", ErrCorrupt, ManifestFile)
	}
	return &pm, nil
}

// Start runs the manifest's command in the unit's directory, in a process
// group of its own.
func (ProcessEnv) Start(ctx context.Context, u Unit) (Process, error) {
	b, err := os.ReadFile(filepath.Join(u.Dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	var pm ProcessManifest
	if err := json.Unmarshal(b, &pm); err != nil || len(pm.Command) == 0 {
		return nil, fmt.Errorf("%s: unreadable", ManifestFile)
	}
	bin := pm.Command[0]
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(u.Dir, filepath.Clean("/"+bin))
	}
	cmd := exec.Command(bin, pm.Command[1:]...)
	cmd.Dir = u.Dir
	cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + u.Dir}, pm.Env...)
	cmd.Stdout, cmd.Stderr = u.Log, u.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), start: time.Now()}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// proc is a running child process.
type proc struct {
	cmd   *exec.Cmd
	done  chan struct{}
	err   error
	start time.Time
	mu    sync.Mutex
	cpu   cpuSampler
}

func (p *proc) Done() <-chan struct{} { return p.done }
func (p *proc) Err() error            { return p.err }

// Stop sends SIGTERM to the process group, SIGKILL when ctx ends.
func (p *proc) Stop(ctx context.Context) error {
	pg := -p.cmd.Process.Pid
	_ = syscall.Kill(pg, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = syscall.Kill(pg, syscall.SIGKILL)
		<-p.done
	}
	return nil
}

func (p *proc) Usage() Usage {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return Usage{MemoryKiB: -1, CPUPercent: -1}
	default:
	}
	// The unit is its process group: the command and what it started.
	rss, ticks := groupUsage(p.cmd.Process.Pid)
	return Usage{MemoryKiB: rss, CPUPercent: p.cpu.percentOf(ticks)}
}

// rssKiB reads a process's resident set size from /proc, -1 if unknown.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var n int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d", &n); err == nil {
				return n
			}
		}
	}
	return -1
}
