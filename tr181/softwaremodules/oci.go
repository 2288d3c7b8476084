package softwaremodules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// OCI image annotations a bundle's config.json carries to describe its
// Deployment Unit (OCI image-spec "Pre-Defined Annotation Keys").
const (
	AnnotationTitle       = "org.opencontainers.image.title"
	AnnotationVersion     = "org.opencontainers.image.version"
	AnnotationVendor      = "org.opencontainers.image.vendor"
	AnnotationDescription = "org.opencontainers.image.description"
)

// OCIOptions configure an OCIEnv.
type OCIOptions struct {
	// Runtimes are the OCI runtime binaries to try, in order (names
	// looked up in PATH, or paths); the first that runs a probe container
	// is used. Nil means runc, then crun.
	Runtimes []string
	// StateDir holds the runtimes' container state (their --root) and the
	// probe bundle; required.
	StateDir string
	// StartTimeout bounds how long a container may take to run; 0 means
	// 15 s.
	StartTimeout time.Duration
}

// OCIEnv is an Execution Environment whose Execution Units are OCI
// containers run by runc or crun (as root). A Deployment Unit is a tar
// file (gzip or not) holding either an OCI runtime bundle — config.json,
// whose annotations name the unit (AnnotationTitle and AnnotationVersion
// are required), and the root filesystem it names (a relative path inside
// the bundle, rootfs/ by convention) — or an OCI image layout (oci-layout,
// index.json, blobs/), which is turned into a bundle at install (see
// unpackImage). The container runs without a terminal; its output goes to
// the unit's log.
type OCIEnv struct {
	o OCIOptions

	mu      sync.Mutex
	probed  bool
	runtime string // the binary in use, "" if none works
	version string
	err     error // why none works
}

// NewOCI returns an OCIEnv; the runtimes are probed at the first Check or
// Start.
func NewOCI(o *OCIOptions) *OCIEnv {
	e := &OCIEnv{o: *o}
	if e.o.Runtimes == nil {
		e.o.Runtimes = []string{"runc", "crun"}
	}
	if e.o.StartTimeout == 0 {
		e.o.StartTimeout = 15 * time.Second
	}
	return e
}

// Info describes the environment; Vendor and Version are those of the
// runtime in use once probed.
func (e *OCIEnv) Info() EnvInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return EnvInfo{Name: "OCI", Type: "OCI Container", Vendor: e.runtime, Version: e.version}
}

// Capabilities: OCI images (and runtime bundles, which TR-181 does not
// name).
func (e *OCIEnv) Capabilities() []Capability {
	return []Capability{{Specification: "OCIImage", SpecificationVersion: "1.1", SpecificationURI: "https://github.com/opencontainers/image-spec"}}
}

// AppliesLimits: memory and CPU limits become cgroup limits.
func (e *OCIEnv) AppliesLimits() bool { return true }

// Runtime returns the runtime binary in use after a successful Check.
func (e *OCIEnv) Runtime() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runtime
}

// Check probes the runtimes once: each is asked to run a container that
// runs the host's true(1) from a read-only view of /usr. It returns why
// none works, naming each runtime's failure.
func (e *OCIEnv) Check(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.probed {
		return e.err
	}
	e.probed = true
	var why []string
	for _, rt := range e.o.Runtimes {
		bin, err := lookPath(rt)
		if err == nil {
			err = e.probe(ctx, bin)
		}
		if err == nil {
			e.runtime = bin
			e.version = runtimeVersion(ctx, bin)
			return nil
		}
		why = append(why, fmt.Sprintf("%s: %v", rt, err))
	}
	e.err = fmt.Errorf("softwaremodules: no OCI runtime works: %s", strings.Join(why, "; "))
	return e.err
}

// lookPath finds a runtime in PATH, then in the sbin directories a
// non-root PATH leaves out.
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil || strings.Contains(name, "/") {
		return p, err
	}
	for _, d := range []string{"/usr/local/sbin", "/usr/sbin", "/sbin"} {
		if fi, serr := os.Stat(filepath.Join(d, name)); serr == nil && !fi.IsDir() {
			return filepath.Join(d, name), nil
		}
	}
	return "", err
}

func runtimeVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) >= 3 && f[1] == "version" {
		v := f[2]
		if len(v) > 32 {
			v = v[:32]
		}
		return v
	}
	return ""
}

// probe runs a container with the host's /usr as its read-only root.
func (e *OCIEnv) probe(ctx context.Context, bin string) error {
	if os.Geteuid() != 0 {
		return errors.New("the Agent does not run as root")
	}
	dir := filepath.Join(e.o.StateDir, "probe")
	_ = os.RemoveAll(dir)
	defer os.RemoveAll(dir)
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "usr"), 0o755); err != nil {
		return err
	}
	mounts := []map[string]any{{"destination": "/proc", "type": "proc", "source": "proc"},
		{"destination": "/usr", "type": "bind", "source": "/usr", "options": []string{"rbind", "ro"}}}
	for _, d := range []string{"bin", "lib", "lib64", "sbin"} {
		fi, err := os.Lstat("/" + d)
		switch {
		case err != nil:
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink("/" + d)
			_ = os.Symlink(target, filepath.Join(rootfs, d))
		case fi.IsDir():
			_ = os.Mkdir(filepath.Join(rootfs, d), 0o755)
			mounts = append(mounts, map[string]any{"destination": "/" + d, "type": "bind", "source": "/" + d, "options": []string{"rbind", "ro"}})
		}
	}
	cfg := map[string]any{
		"ociVersion": "1.0.2",
		"process":    map[string]any{"terminal": false, "user": map[string]int{"uid": 0, "gid": 0}, "args": []string{"true"}, "env": []string{"PATH=/usr/bin:/bin"}, "cwd": "/"},
		"root":       map[string]any{"path": "rootfs", "readonly": true},
		"mounts":     mounts,
		"linux":      map[string]any{"namespaces": []map[string]string{{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}}},
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	id := fmt.Sprintf("uspkit-probe-%d", os.Getpid())
	cmd := exec.CommandContext(ctx, bin, "--root", e.o.StateDir, "run", "--bundle", dir, id)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	_ = exec.Command(bin, "--root", e.o.StateDir, "delete", "--force", id).Run()
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 200 {
			msg = msg[len(msg)-200:]
		}
		return fmt.Errorf("probe container: %v: %s", err, msg)
	}
	return nil
}

// Reset deletes every container of the runtime's state directory: those
// an Agent that died left running.
func (e *OCIEnv) Reset(ctx context.Context) error {
	if err := e.Check(ctx); err != nil {
		return nil // nothing can have run
	}
	bin := e.Runtime()
	out, err := exec.CommandContext(ctx, bin, "--root", e.o.StateDir, "list", "-q").Output()
	if err != nil {
		return fmt.Errorf("%s list: %w", filepath.Base(bin), err)
	}
	for _, id := range strings.Fields(string(out)) {
		if err := exec.CommandContext(ctx, bin, "--root", e.o.StateDir, "delete", "--force", id).Run(); err != nil {
			return fmt.Errorf("%s delete %s: %w", filepath.Base(bin), id, err)
		}
	}
	return nil
}

// bundleConfig is the part of an OCI runtime config.json Unpack checks.
type bundleConfig struct {
	Process *struct {
		Args []string `json:"args"`
	} `json:"process"`
	Root *struct {
		Path string `json:"path"`
	} `json:"root"`
	Annotations map[string]string `json:"annotations"`
}

// Unpack checks the bundle's config.json, unpacks it into dir and turns
// the container's terminal off.
func (e *OCIEnv) Unpack(ctx context.Context, src, dir string) (Manifest, error) {
	b, err := readArchiveFile(src, "config.json", 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := readArchiveFile(src, "oci-layout", 4096); lerr == nil {
			return unpackImage(src, dir)
		}
		return Manifest{}, fmt.Errorf("%w: neither config.json (a runtime bundle) nor oci-layout (an image layout)", ErrMismatch)
	}
	if err != nil {
		return Manifest{}, err
	}
	var bc bundleConfig
	if err := json.Unmarshal(b, &bc); err != nil {
		return Manifest{}, fmt.Errorf("%w: config.json: %v", ErrCorrupt, err)
	}
	if bc.Process == nil || len(bc.Process.Args) == 0 || bc.Root == nil || !filepath.IsLocal(bc.Root.Path) {
		return Manifest{}, fmt.Errorf("%w: config.json needs process.args and a root.path inside the bundle", ErrCorrupt)
	}
	a := bc.Annotations
	m := Manifest{Name: a[AnnotationTitle], Version: a[AnnotationVersion], Vendor: a[AnnotationVendor], Description: a[AnnotationDescription]}
	if m.Name == "" || m.Version == "" {
		return Manifest{}, fmt.Errorf("%w: config.json annotations need %s and %s", ErrCorrupt, AnnotationTitle, AnnotationVersion)
	}
	if err := unpack(src, dir); err != nil {
		return Manifest{}, err
	}
	if err := noTerminal(filepath.Join(dir, "config.json")); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return m, nil
}

// noTerminal sets process.terminal to false in a config.json, keeping the
// rest as it is.
func noTerminal(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(b, &cfg); err != nil {
		return err
	}
	var proc map[string]json.RawMessage
	if err := json.Unmarshal(cfg["process"], &proc); err != nil {
		return err
	}
	proc["terminal"] = json.RawMessage("false")
	cfg["process"], _ = json.Marshal(proc)
	b, _ = json.Marshal(cfg)
	return os.WriteFile(path, b, 0o600)
}

// containerID derives a container ID from an EUID.
func containerID(euid string) string {
	var b strings.Builder
	b.WriteString("uspkit-")
	for _, r := range euid {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Start runs the bundle with `RUNTIME run` and returns once the runtime
// reports the container running.
func (e *OCIEnv) Start(ctx context.Context, u Unit) (Process, error) {
	if err := e.Check(ctx); err != nil {
		return nil, err
	}
	bin := e.Runtime()
	id := containerID(u.ID)
	c := &container{bin: bin, root: e.o.StateDir, id: id, done: make(chan struct{})}
	_ = c.runtime(context.Background(), "delete", "--force", id) // left by an Agent that died
	if err := setLimits(filepath.Join(u.Dir, "config.json"), u.MemoryKiB, u.CPUPercent); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	cmd := exec.Command(bin, "--root", e.o.StateDir, "run", "--bundle", u.Dir, id)
	cmd.Stdout, cmd.Stderr = u.Log, u.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c.cmd = cmd
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	deadline := time.NewTimer(e.o.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			_ = c.runtime(context.Background(), "delete", "--force", id)
			return nil, fmt.Errorf("%s run: %v", filepath.Base(bin), c.err)
		case <-deadline.C:
			c.stopWithin(time.Second)
			return nil, fmt.Errorf("%s: the container did not run within %v", filepath.Base(bin), e.o.StartTimeout)
		case <-ctx.Done():
			c.stopWithin(time.Second)
			return nil, ctx.Err()
		case <-tick.C:
			if st, pid := c.state(); st == "running" {
				c.pid = pid
				return c, nil
			}
		}
	}
}

// stopWithin stops the container, killing it after d.
func (c *container) stopWithin(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_ = c.Stop(ctx)
}

// container is a running OCI container.
type container struct {
	bin, root, id string
	cmd           *exec.Cmd
	pid           int
	done          chan struct{}
	err           error
	mu            sync.Mutex
	cpu           cpuSampler
}

func (c *container) runtime(ctx context.Context, args ...string) error {
	return exec.CommandContext(ctx, c.bin, append([]string{"--root", c.root}, args...)...).Run()
}

// state returns the container's status and init pid.
func (c *container) state() (string, int) {
	out, err := exec.Command(c.bin, "--root", c.root, "state", c.id).Output()
	if err != nil {
		return "", 0
	}
	var s struct {
		Status string `json:"status"`
		Pid    int    `json:"pid"`
	}
	if json.Unmarshal(out, &s) != nil {
		return "", 0
	}
	return s.Status, s.Pid
}

func (c *container) Done() <-chan struct{} { return c.done }
func (c *container) Err() error            { return c.err }

// Stop sends SIGTERM to the container, SIGKILL when ctx ends, then
// deletes it.
func (c *container) Stop(ctx context.Context) error {
	_ = c.runtime(context.Background(), "kill", c.id, "TERM")
	select {
	case <-c.done:
	case <-ctx.Done():
		_ = c.runtime(context.Background(), "kill", "--all", c.id, "KILL")
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.done
		}
	}
	return c.runtime(context.Background(), "delete", "--force", c.id)
}

// Usage reads memory from the container's memory cgroup (v1 or v2), else
// the init process's resident set.
func (c *container) Usage() Usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return Usage{MemoryKiB: -1, CPUPercent: -1}
	default:
	}
	mem := cgroupMemoryKiB(c.pid)
	if mem < 0 {
		mem = rssKiB(c.pid)
	}
	return Usage{MemoryKiB: mem, CPUPercent: c.cpu.percent(c.pid)}
}

// cgroupMemoryKiB returns the memory charged to pid's memory cgroup, -1
// if unknown.
func cgroupMemoryKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		var file string
		switch {
		case f[1] == "memory":
			file = filepath.Join("/sys/fs/cgroup/memory", f[2], "memory.usage_in_bytes")
		case f[0] == "0" && f[1] == "":
			file = filepath.Join("/sys/fs/cgroup", f[2], "memory.current")
		default:
			continue
		}
		v, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		var n int64
		if _, err := fmt.Sscan(strings.TrimSpace(string(v)), &n); err == nil && n > 0 {
			return n / 1024
		}
	}
	return -1
}

// setLimits writes the unit's memory and CPU limits into config.json's
// linux.resources (memory.limit in bytes; cpu.quota over a 100 ms
// period), or removes them when 0, keeping the rest as it is.
func setLimits(path string, memKiB, cpuPct int64) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(b, &cfg); err != nil {
		return err
	}
	linux := map[string]json.RawMessage{}
	if raw, ok := cfg["linux"]; ok {
		if err := json.Unmarshal(raw, &linux); err != nil {
			return err
		}
	}
	res := map[string]json.RawMessage{}
	if raw, ok := linux["resources"]; ok {
		if err := json.Unmarshal(raw, &res); err != nil {
			return err
		}
	}
	delete(res, "memory")
	delete(res, "cpu")
	if memKiB > 0 {
		res["memory"], _ = json.Marshal(map[string]int64{"limit": memKiB * 1024})
	}
	if cpuPct > 0 {
		const period = 100000
		res["cpu"], _ = json.Marshal(map[string]int64{"quota": cpuPct * period / 100 * int64(runtime.NumCPU()), "period": period})
	}
	linux["resources"], _ = json.Marshal(res)
	cfg["linux"], _ = json.Marshal(linux)
	b, _ = json.Marshal(cfg)
	return os.WriteFile(path, b, 0o600)
}
