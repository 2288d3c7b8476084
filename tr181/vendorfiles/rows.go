package vendorfiles

import (
	"fmt"
	"slices"
	"strconv"
)

// LogRef returns the path of VendorLogFile row n, as a list of
// references such as ExecutionUnit.{i}.VendorLogList names it.
func LogRef(n uint32) string {
	return "Device.DeviceInfo.VendorLogFile." + strconv.FormatUint(uint64(n), 10)
}

// AddLog adds a VendorLogFile row for l, a log that comes and goes with
// something else (an Execution Unit's), and returns its instance number:
// n when n is not 0 and free (a number kept across restarts), else the
// next number not used since Register. Names are the table's unique key:
// a second row of the same Name is refused.
func (f *Files) AddLog(n uint32, l LogFile) (uint32, error) {
	if l.Name == "" || len(l.Name) > 64 || l.Open == nil {
		return 0, fmt.Errorf("vendorfiles: log %.64q: a Name of 1 to 64 characters and Open are required", l.Name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.logs {
		if x.Name == l.Name {
			return 0, fmt.Errorf("vendorfiles: a log named %q exists", l.Name)
		}
	}
	if _, taken := f.logs[n]; n == 0 || taken {
		n = f.nextLog
	}
	f.logs[n] = l
	f.nextLog = max(f.nextLog, n+1)
	return n, nil
}

// RemoveLog removes VendorLogFile row n, which AddLog added.
func (f *Files) RemoveLog(n uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if int(n) > len(f.o.Logs) {
		delete(f.logs, n)
		delete(f.aliases, LogRef(n)+".")
	}
}

func (f *Files) logAt(n uint32) (LogFile, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.logs[n]
	return l, ok
}

func (f *Files) logInstances() []uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]uint32, 0, len(f.logs))
	for n := range f.logs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
