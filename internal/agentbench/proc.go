package agentbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procSample is what the bench reads of a process before and after a cell.
type procSample struct {
	// User and System are the process's CPU time so far, in user space and
	// in the kernel (utime and stime of /proc/<pid>/stat).
	User, System time.Duration
	// Run is the CPU time of its live threads so far, to the nanosecond
	// (the first field of /proc/<pid>/task/*/schedstat); 0 where the
	// kernel has no schedstat.
	Run time.Duration
	// Voluntary and Involuntary are its context switches so far, summed
	// over its live threads (/proc/<pid>/task/*/status): a thread that
	// blocked (a read, a futex wait, epoll) and one the scheduler took the
	// CPU from.
	Voluntary, Involuntary int64
}

// sub returns s - o, field by field.
func (s procSample) sub(o procSample) procSample {
	return procSample{User: s.User - o.User, System: s.System - o.System, Run: s.Run - o.Run,
		Voluntary: s.Voluntary - o.Voluntary, Involuntary: s.Involuntary - o.Involuntary}
}

// readProc samples process pid: CPU times, then each thread's run time and
// context switches. A thread that exits between two samples takes its
// figures with it, so Run and the switch counts are a lower bound for
// processes that start and end threads during a cell.
func readProc(pid int) (procSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("agentbench: cpu: %w", err)
	}
	var s procSample
	if s.User, s.System, err = parseStat(pid, b); err != nil {
		return procSample{}, err
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, dir := range tasks {
		if b, err := os.ReadFile(filepath.Join(dir, "schedstat")); err == nil {
			s.Run += parseSchedstat(b)
		}
		b, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			continue // the thread has exited
		}
		v, iv := parseSwitches(b)
		s.Voluntary += v
		s.Involuntary += iv
	}
	return s, nil
}

// parseSchedstat returns the first field of a schedstat file: nanoseconds
// on a CPU; 0 if it is not a number.
func parseSchedstat(b []byte) time.Duration {
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || ns < 0 {
		return 0
	}
	return time.Duration(ns)
}

// parseStat returns utime and stime of a /proc/<pid>/stat line.
func parseStat(pid int, b []byte) (user, system time.Duration, err error) {
	// The command name, field 2, may hold spaces; fields count from the
	// closing parenthesis.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("agentbench: /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // state is field 3; utime 14, stime 15
		return 0, 0, fmt.Errorf("agentbench: /proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("agentbench: /proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(ut) * time.Second / clockTicks, time.Duration(st) * time.Second / clockTicks, nil
}

// parseSwitches returns voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches of a /proc/.../status file; 0 for a missing
// line.
func parseSwitches(b []byte) (voluntary, involuntary int64) {
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "voluntary_ctxt_switches":
			voluntary = n
		case "nonvoluntary_ctxt_switches":
			involuntary = n
		}
	}
	return voluntary, involuntary
}

// procRSS returns VmRSS of process pid in KiB.
func procRSS(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("agentbench: rss: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.Atoi(f[0])
		}
	}
	return 0, fmt.Errorf("agentbench: /proc/%d/status: no VmRSS", pid)
}
