package softwaremodules

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/tr181/vendorfiles"
)

// LogTable is Device.DeviceInfo.VendorLogFile, where each Execution Unit's
// log is a row; *vendorfiles.Files is one.
type LogTable interface {
	// AddLog adds a row for l, at instance n when it is free, and
	// returns the instance used.
	AddLog(n uint32, l vendorfiles.LogFile) (uint32, error)
	// RemoveLog removes row n.
	RemoveLog(n uint32)
}

// PublishLogs makes the log of each Execution Unit a row of t, a
// Device.DeviceInfo.VendorLogFile.{i} that ExecutionUnit.{i}.VendorLogList
// names: for the units installed now, and for each unit installed later
// until it is uninstalled, when its row goes with it. A row's Upload()
// sends the newest MaximumSize bytes (Options.MaxLog) of the unit's output,
// from the start of a line; the log is kept in the data directory, so the
// row is Persistent, and it keeps its instance number across restarts.
// Call it once, before Start.
func (m *Manager) PublishLogs(t LogTable) {
	m.mu.Lock()
	m.logs = t
	eus := make([]uint32, 0, len(m.st.EUs))
	for _, u := range m.st.EUs {
		eus = append(eus, u.N)
	}
	m.mu.Unlock()
	for _, n := range eus {
		m.publishLog(n)
	}
}

// logName is the Name of an Execution Unit's VendorLogFile row: its log's
// file name, unique as EUIDs are (TR-181 lets Name be derived from the
// file's path).
func logName(euid string) string {
	name := containerID(euid) + ".log"
	if len(name) > 64 {
		name = name[len(name)-64:]
	}
	return name
}

// publishLog adds Execution Unit n's VendorLogFile row, if there is a
// LogTable and the unit has no row yet.
func (m *Manager) publishLog(n uint32) {
	m.logMu.Lock()
	defer m.logMu.Unlock()
	m.mu.Lock()
	t, u, r := m.logs, m.findEU(n), m.eu[n]
	if t == nil || u == nil || r == nil || r.logRow != 0 {
		m.mu.Unlock()
		return
	}
	want, euid := u.LogFile, u.EUID
	m.mu.Unlock()
	path, limit := filepath.Join(m.o.Dir, "logs", containerID(euid)+".log"), m.o.MaxLog
	l := vendorfiles.LogFile{Name: logName(euid), MaximumSize: uint32(min(limit, math.MaxUint32)), Persistent: true,
		Open: func(context.Context) (io.ReadCloser, error) { return openTail(path, limit) }}
	row, err := t.AddLog(want, l)
	if err != nil {
		m.log.Warn("execution unit log not published", "eu", euRef(n), "err", err)
		return
	}
	m.mu.Lock()
	u, r = m.findEU(n), m.eu[n]
	if u == nil || r == nil { // uninstalled meanwhile
		m.mu.Unlock()
		t.RemoveLog(row)
		return
	}
	r.logRow = row
	if u.LogFile != row {
		u.LogFile = row
		m.save()
	}
	m.mu.Unlock()
	m.announce(datamodel.Change{Op: datamodel.OpAdd, Path: vendorfiles.LogRef(row) + ".", Params: map[string]string{"Name": l.Name}})
}

// unpublishLog removes Execution Unit n's VendorLogFile row: TR-181 says
// the logs an EU brought SHOULD go when its DU is uninstalled.
func (m *Manager) unpublishLog(n uint32) {
	m.logMu.Lock()
	defer m.logMu.Unlock()
	m.mu.Lock()
	t, r := m.logs, m.eu[n]
	row := uint32(0)
	if r != nil {
		row, r.logRow = r.logRow, 0
	}
	m.mu.Unlock()
	if t == nil || row == 0 {
		return
	}
	t.RemoveLog(row)
	m.announce(datamodel.Change{Op: datamodel.OpDelete, Path: vendorfiles.LogRef(row) + "."})
}

// openTail opens the newest limit bytes of a log that rotatingLog writes
// (path.1, then path), from the start of a line when it must cut. What
// is read is what the files held when they were opened.
func openTail(path string, limit int64) (io.ReadCloser, error) {
	var files []*os.File
	var sizes []int64
	closeAll := func() error {
		var errs []error
		for _, f := range files {
			errs = append(errs, f.Close())
		}
		return errors.Join(errs...)
	}
	var total int64
	for _, p := range []string{path + ".1", path} {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			closeAll()
			return nil, err
		}
		files = append(files, f)
		fi, err := f.Stat()
		if err != nil {
			closeAll()
			return nil, err
		}
		sizes = append(sizes, fi.Size())
		total += fi.Size()
	}
	skip := max(total-limit, 0)
	// The cut is inside a line unless the byte before it ends one.
	cutsLine := skip > 0 && byteAt(files, sizes, skip-1) != '\n'
	var rs []io.Reader
	for i, f := range files {
		n := min(skip, sizes[i])
		if _, err := f.Seek(n, io.SeekStart); err != nil {
			closeAll()
			return nil, err
		}
		skip -= n
		rs = append(rs, io.LimitReader(f, sizes[i]-n))
	}
	var r io.Reader = io.MultiReader(rs...)
	if cutsLine {
		br := bufio.NewReader(r)
		_, _ = br.ReadString('\n') // the line cut in two
		r = br
	}
	return readCloser{r, closeAll}, nil
}

// byteAt returns the byte at offset off of the files one after the
// other, 0 when it cannot be read.
func byteAt(files []*os.File, sizes []int64, off int64) byte {
	for i, f := range files {
		if off < sizes[i] {
			b := make([]byte, 1)
			if _, err := f.ReadAt(b, off); err != nil {
				return 0
			}
			return b[0]
		}
		off -= sizes[i]
	}
	return 0
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }
