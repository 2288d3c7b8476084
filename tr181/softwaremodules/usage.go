package softwaremodules

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
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
func (s *cpuSampler) percent(pid int) int64 { return s.percentOf(procTicks(pid)) }

// percentOf turns a CPU time in ticks (-1: unknown) into a percentage
// since the previous call.
func (s *cpuSampler) percentOf(t int64) int64 {
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

// groupUsage sums the resident set (KiB) and CPU ticks of every process
// of process group pgid, read from /proc; -1, -1 if none is found.
func groupUsage(pgid int) (rss, ticks int64) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return -1, -1
	}
	rss, ticks = -1, -1
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		if ticks < 0 {
			rss, ticks = 0, 0
		}
		ticks += u + st
		if r := rssKiB(pid); r > 0 {
			rss += r
		}
	}
	return rss, ticks
}
