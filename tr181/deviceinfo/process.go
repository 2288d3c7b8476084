package deviceinfo

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// defineProcesses adds Device.DeviceInfo.ProcessStatus.Process.{i}.
func defineProcesses(m *schema.Model) {
	m.Define("Device.DeviceInfo.ProcessStatus.Process.{i}.", schema.Keys("PID"), schema.NumEntries("ProcessNumberOfEntries")).
		Param("PID", schema.UnsignedInt()).
		Param("Command", schema.String(schema.MaxLen(256))).
		Param("Size", schema.UnsignedInt()).
		Param("Priority", schema.UnsignedInt(schema.Bounds("", "99"))).
		Param("CPUTime", schema.UnsignedInt()).
		Param("State", schema.String(schema.Enum("Running", "Sleeping", "Stopped", "Idle", "Uninterruptible", "Zombie")))
}

// process is one row of the Process table.
type process struct {
	pid      uint32
	command  string
	sizeKiB  uint64
	priority uint64
	cpuMs    uint64
	state    string
}

// processes serves ProcessStatus.Process.{i}. from /proc, read at most
// once per MaxAge. A process's instance number is its PID: it keeps it
// while it runs, across restarts of the Agent too [R-ARC.8], with nothing
// to store.
type processes struct {
	info Info

	mu     sync.Mutex
	at     time.Time
	rows   map[uint32]*process // by instance number
	prev   map[uint32]*process // the reading before rows
	order  []uint32
	pageKB uint64
}

func newProcesses(info Info) *processes {
	return &processes{info: info, pageKB: uint64(os.Getpagesize() / 1024)}
}

func (ps *processes) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	if r.Op != datamodel.OpGet && r.Op != datamodel.OpList {
		return usperr.Errorf(usperr.CodeRequestDenied, "%s is read-only", r.Path)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err := ps.refresh(r.Op == datamodel.OpList); err != nil {
		return err
	}
	if r.Op == datamodel.OpList {
		for _, n := range ps.order {
			w.AddInstance(n)
		}
		return nil
	}
	n := r.Instances[len(r.Instances)-1]
	p := ps.rows[n]
	if p == nil {
		// The row may have been listed from the previous reading, the
		// process ending in between: its last values answer.
		p = ps.prev[n]
	}
	if p == nil {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s has ended", r.Path)
	}
	for _, n := range r.Names {
		switch n {
		case "PID":
			w.SetValue(n, strconv.FormatUint(uint64(p.pid), 10))
		case "Command":
			w.SetValue(n, p.command)
		case "Size":
			w.SetValue(n, strconv.FormatUint(min(p.sizeKiB, 1<<32-1), 10))
		case "Priority":
			w.SetValue(n, strconv.FormatUint(p.priority, 10))
		case "CPUTime":
			w.SetValue(n, strconv.FormatUint(min(p.cpuMs, 1<<32-1), 10))
		case "State":
			w.SetValue(n, p.state)
		}
	}
	return nil
}

// refresh reads /proc again when the last reading is older than MaxAge;
// with a negative MaxAge, for every listing, the rows of a Get being
// read from the listing it follows. ps.mu is held.
func (ps *processes) refresh(list bool) error {
	now := ps.info.Now()
	if ps.rows != nil && (ps.info.MaxAge > 0 && !now.Before(ps.at) && now.Sub(ps.at) < ps.info.MaxAge || ps.info.MaxAge < 0 && !list) {
		return nil
	}
	ents, err := os.ReadDir(ps.info.Proc)
	if err != nil {
		return usperr.Errorf(usperr.CodeInternal, "reading %s: %v", ps.info.Proc, err)
	}
	rows := map[uint32]*process{}
	for _, e := range ents {
		pid, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil {
			continue
		}
		if p, ok := ps.read(uint32(pid)); ok { // else it ended while being read
			rows[uint32(pid)] = p
		}
	}
	ps.prev, ps.rows, ps.at = ps.rows, rows, now
	ps.order = ps.order[:0]
	for n := range rows {
		ps.order = append(ps.order, n)
	}
	slices.Sort(ps.order)
	return nil
}

// read reads one process from /proc/PID/stat and /proc/PID/cmdline.
func (ps *processes) read(pid uint32) (*process, bool) {
	dir := ps.info.Proc + "/" + strconv.FormatUint(uint64(pid), 10)
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(b)
	// The command name is in parentheses and may itself hold spaces and
	// parentheses: the fields after it start after the last ')'.
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return nil, false
	}
	comm := s[open+1 : closing]
	f := strings.Fields(s[closing+1:])
	if len(f) < 22 {
		return nil, false
	}
	// f[0] is field 3 (state) of proc(5).
	num := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
	prio, _ := strconv.ParseInt(f[15], 10, 64) // field 18: priority
	p := &process{pid: pid, state: procState(f[0]), cpuMs: (num(11) + num(12)) * 1000 / clockTicks,
		sizeKiB: num(21) * ps.pageKB, priority: uint64(min(max(prio, 0), 99))}
	cmd, _ := os.ReadFile(dir + "/cmdline")
	p.command = strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
	if p.command == "" {
		p.command = "[" + comm + "]" // a kernel thread
	}
	if len(p.command) > 256 {
		p.command = p.command[:256]
	}
	return p, true
}

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat: 100 on
// every Linux architecture.
const clockTicks = 100

// procState maps proc(5)'s state letter to TR-181's State.
func procState(s string) string {
	switch s {
	case "R":
		return "Running"
	case "T", "t":
		return "Stopped"
	case "I":
		return "Idle"
	case "D":
		return "Uninterruptible"
	case "Z", "X", "x":
		return "Zombie"
	}
	return "Sleeping" // S, W, P, K
}
