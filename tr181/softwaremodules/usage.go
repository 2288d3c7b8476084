package softwaremodules

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times on Linux.
const clockTicks = 100

// cpuSampler turns a process's CPU time into a percentage of the host's
// CPU over the time since the previous sample (or since the first).
type cpuSampler struct {
	ticks int64
	at    time.Time
}

// percent returns the CPU use of pid since the previous call, 0 at the
// first, -1 when unknown.
func (s *cpuSampler) percent(pid int) int64 {
	t := procTicks(pid)
	if t < 0 {
		return -1
	}
	now := time.Now()
	defer func() { s.ticks, s.at = t, now }()
	if s.at.IsZero() {
		return 0
	}
	wall := now.Sub(s.at).Seconds() * clockTicks * float64(runtime.NumCPU())
	if wall <= 0 {
		return 0
	}
	pct := int64(float64(t-s.ticks) * 100 / wall)
	return min(max(pct, 0), 100)
}

// procTicks returns utime+stime of pid, -1 if unknown.
func procTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return -1
	}
	var u, st int64
	if _, err := fmt.Sscan(f[11], &u); err != nil {
		return -1
	}
	if _, err := fmt.Sscan(f[12], &st); err != nil {
		return -1
	}
	return u + st
}

// diskKiB returns the size of the files under dir in KiB, -1 if unknown.
func diskKiB(dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		return -1
	}
	return (n + 1023) / 1024
}

// freeDiskKiB returns the space available under dir in KiB, -1 if unknown.
func freeDiskKiB(dir string) int64 {
	var s syscall.Statfs_t
	if syscall.Statfs(dir, &s) != nil {
		return -1
	}
	return int64(s.Bavail) * int64(s.Bsize) / 1024
}

// availableMemKiB returns MemAvailable from /proc/meminfo, -1 if unknown.
func availableMemKiB() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			var n int64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &n); err == nil {
				return n
			}
		}
	}
	return -1
}

// diskUse returns the size of dir in KiB, measured at most every 10 s.
func (m *Manager) diskUse(dir string) int64 {
	m.mu.Lock()
	s, ok := m.disk[dir]
	m.mu.Unlock()
	if ok && time.Since(s.at) < 10*time.Second {
		return s.kib
	}
	k := diskKiB(dir)
	m.mu.Lock()
	m.disk[dir] = diskSample{kib: k, at: time.Now()}
	m.mu.Unlock()
	return k
}
