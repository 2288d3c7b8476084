package softwaremodules

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/usperr"
)

// InstallArgs are InstallDU()'s input arguments.
type InstallArgs struct {
	URL, UUID, Username, Password string
	// ExecutionEnvRef names the ExecEnv ("Device.SoftwareModules.ExecEnv.2");
	// empty lets the Manager choose the first enabled one the unit fits.
	ExecutionEnvRef string
	// MemoryKiB and CPUPercent limit the unit (Resources.AllocatedMemory,
	// Resources.AllocatedCPUPercent); 0 or -1 means no limit.
	MemoryKiB, CPUPercent int64
}

// UpdateArgs are DeploymentUnit.{i}.Update()'s input arguments; an empty
// URL means the unit's last URL and credentials.
type UpdateArgs struct {
	URL, Username, Password string
	// MemoryKiB and CPUPercent replace the unit's limits when not 0
	// (-1 removes one).
	MemoryKiB, CPUPercent int64
}

// dlResult is a fetched and unpacked Deployment Unit.
type dlResult struct {
	env int
	dir string
	man Manifest
}

// Install fetches and installs a Deployment Unit (InstallDU()). The unit
// and its Execution Unit appear only when the install succeeds; a failure
// leaves nothing behind (TR-369 Appendix I, "Install Faults"). Either way
// a DUStateChange! follows, and the error carries its fault code.
func (m *Manager) Install(ctx context.Context, a InstallArgs) (uint32, error) {
	start := time.Now()
	n, err := m.install(ctx, a)
	ev := duEvent{op: OpInstall, start: start, uuid: a.UUID, err: err}
	if err == nil {
		m.mu.Lock()
		d := m.findDU(n)
		ev.uuid, ev.version, ev.du, ev.eus, ev.state = d.UUID, d.Version, n, []uint32{d.EU}, StateInstalled
		m.mu.Unlock()
		m.publishLog(ev.eus[0])
		m.rowsAdded(n, ev.eus[0])
	} else {
		ev.state = StateFailed
		m.log.Warn("InstallDU failed", "url", redact(a.URL), "err", err)
	}
	m.emit(ctx, ev)
	return n, err
}

func (m *Manager) install(ctx context.Context, a InstallArgs) (uint32, error) {
	// [R-SMM.1]: an operation not complete within the limit is in error.
	ctx, cancel := context.WithTimeout(ctx, m.o.OperationTimeout)
	defer cancel()
	if a.UUID != "" && !validUUID(a.UUID) {
		return 0, usperr.Errorf(CodeInvalidArguments, "UUID %q is not an RFC 4122 UUID", a.UUID)
	}
	envs, err := m.candidates(a.ExecutionEnvRef)
	if err != nil {
		return 0, err
	}
	res, err := m.download(ctx, a.URL, a.Username, a.Password, envs)
	if err != nil {
		return 0, err
	}
	uuid := a.UUID
	if uuid == "" {
		uuid = nameUUID(res.man.Vendor, res.man.Name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.st.DUs {
		if d.UUID == uuid && d.Version == res.man.Version && d.Env == res.env {
			os.RemoveAll(res.dir)
			return 0, usperr.Errorf(CodeDuplicateDU, "version %s of %s is already installed on %s", d.Version, uuid, envRef(res.env))
		}
	}
	dn, un := m.st.NextDU, m.st.NextEU
	envName := m.o.Envs[res.env-1].Info().Name
	final := filepath.Join(m.o.Dir, "du", strconv.FormatUint(uint64(dn), 10))
	_ = os.RemoveAll(final)
	if err := os.Rename(res.dir, final); err != nil {
		os.RemoveAll(res.dir)
		return 0, usperr.Errorf(CodeRequestDenied, "%v", err)
	}
	now := time.Now().UTC()
	d := &duState{N: dn, UUID: uuid, DUID: envName + "-" + strconv.FormatUint(uint64(dn), 10), Alias: "cpe-" + strconv.FormatUint(uint64(dn), 10),
		Name: res.man.Name, URL: a.URL, Username: a.Username, Password: a.Password, Vendor: res.man.Vendor, Version: res.man.Version,
		Description: res.man.Description, Env: res.env, Installed: now, LastUpdate: now, EU: un,
		MemoryKiB: max(a.MemoryKiB, 0), CPUPercent: max(a.CPUPercent, 0)}
	u := &euState{N: un, EUID: envName + "-" + strconv.FormatUint(uint64(un), 10), Alias: "cpe-" + strconv.FormatUint(uint64(un), 10),
		Name: res.man.Name, DU: dn, Vendor: res.man.Vendor, Version: res.man.Version, Description: res.man.Description, Fault: FaultNone}
	m.st.NextDU++
	m.st.NextEU++
	m.st.DUs = append(m.st.DUs, d)
	m.st.EUs = append(m.st.EUs, u)
	m.du[dn] = &duRun{status: DUInstalled}
	m.eu[un] = &euRun{status: EUIdle}
	m.save()
	m.log.Info("deployment unit installed", "du", duRef(dn), "name", d.Name, "version", d.Version, "env", envName)
	return dn, nil
}

// candidates returns the environments an install may use.
func (m *Manager) candidates(ref string) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ref == "" {
		var out []int
		for i := range m.o.Envs {
			if !m.st.Envs[i].Disable {
				out = append(out, i+1)
			}
		}
		if len(out) == 0 {
			return nil, usperr.Errorf(CodeInvalidValue, "every execution environment is disabled")
		}
		return out, nil
	}
	n, ok := parseRef(ref, prefixEnv)
	if !ok || n < 1 || int(n) > len(m.o.Envs) {
		return nil, usperr.Errorf(CodeUnknownEnv, "no execution environment %s", ref)
	}
	if m.st.Envs[n-1].Disable {
		// TR-369 Appendix I, "Execution Environment Concepts": a state
		// change on a disabled EE fails with Invalid value.
		return nil, usperr.Errorf(CodeInvalidValue, "%s is disabled", ref)
	}
	return []int{int(n)}, nil
}

// parseRef reads the instance number of a row reference
// ("Device.SoftwareModules.ExecEnv.2", with or without the final dot).
func parseRef(ref, prefix string) (uint32, bool) {
	s, ok := strings.CutPrefix(strings.TrimSuffix(ref, "."), prefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// download fetches url and unpacks it with the first of envs it fits.
func (m *Manager) download(ctx context.Context, url, user, pass string, envs []int) (*dlResult, error) {
	select {
	case m.ops <- struct{}{}:
		defer func() { <-m.ops }()
	default:
		return nil, usperr.Errorf(usperr.CodeResourcesExceeded, "%d installs and updates are in progress already", cap(m.ops))
	}
	tmp := filepath.Join(m.o.Dir, "tmp", "dl-"+randomHex(8))
	defer os.Remove(tmp)
	if err := fetch(ctx, m.o.Client, url, user, pass, tmp, m.o.MaxDUSize); err != nil {
		return nil, err
	}
	var why []string
	for _, env := range envs {
		e := m.o.Envs[env-1]
		if err := e.Check(ctx); err != nil {
			why = append(why, err.Error())
			continue
		}
		dir := filepath.Join(m.o.Dir, "tmp", "unpack-"+randomHex(8))
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, usperr.Errorf(CodeRequestDenied, "%v", err)
		}
		man, err := e.Unpack(ctx, tmp, dir)
		switch {
		case err == nil:
			return &dlResult{env: env, dir: dir, man: man}, nil
		case errors.Is(err, ErrMismatch):
			os.RemoveAll(dir)
			why = append(why, fmt.Sprintf("%s: %v", e.Info().Name, err))
			continue
		case errors.Is(err, ErrCorrupt):
			os.RemoveAll(dir)
			return nil, usperr.Errorf(CodeCorruptData, "%v", err)
		case errors.Is(err, errTooBig):
			os.RemoveAll(dir)
			return nil, usperr.Errorf(CodeResourcesExceeded, "%v", err)
		default:
			os.RemoveAll(dir)
			return nil, usperr.Errorf(CodeRequestDenied, "unpacking: %v", err)
		}
	}
	return nil, usperr.Errorf(CodeEnvMismatch, "no execution environment takes this deployment unit: %s", strings.Join(why, "; "))
}

// begin moves Deployment Unit n from Installed to the transitory status
// to; any other status is a fault 7229 (Invalid Deployment Unit State).
func (m *Manager) begin(n uint32, to string) (*duState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.findDU(n)
	if d == nil {
		return nil, usperr.Errorf(CodeUnknownDU, "no deployment unit %s", duRef(n))
	}
	if m.envDisabledLocked(d.Env) {
		return nil, usperr.Errorf(CodeInvalidValue, "%s is disabled", envRef(d.Env))
	}
	if r := m.du[n]; r.status != DUInstalled {
		return nil, usperr.Errorf(CodeInvalidDUState, "%s is %s", duRef(n), r.status)
	}
	m.du[n].status = to
	c := *d
	return &c, nil
}

// Update replaces Deployment Unit n with the file at a.URL (Update()).
// Its Execution Unit, if Active, is stopped for the update and started
// again after it; a failure leaves the unit as it was. A DUStateChange!
// follows either way.
func (m *Manager) Update(ctx context.Context, n uint32, a UpdateArgs) error {
	start := time.Now()
	d, err := m.begin(n, DUUpdating)
	ev := duEvent{op: OpUpdate, start: start, du: n, err: err, state: StateInstalled}
	if err != nil {
		if d0 := m.snapshotDU(n); d0 != nil {
			ev.uuid, ev.version, ev.eus = d0.UUID, d0.Version, []uint32{d0.EU}
		} else {
			ev.du, ev.state = 0, StateFailed
		}
		m.emit(ctx, ev)
		return err
	}
	m.duChanged(n)
	err = m.update(ctx, d, a)
	m.mu.Lock()
	m.du[n].status = DUInstalled
	d = m.findDU(n)
	ev.uuid, ev.version, ev.eus, ev.err = d.UUID, d.Version, []uint32{d.EU}, err
	m.mu.Unlock()
	if err != nil {
		m.log.Warn("Update failed", "du", duRef(n), "err", err)
	}
	m.duChanged(n)
	m.emit(ctx, ev)
	return err
}

func (m *Manager) snapshotDU(n uint32) *duState {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := m.findDU(n); d != nil {
		c := *d
		return &c
	}
	return nil
}

func (m *Manager) update(ctx context.Context, d *duState, a UpdateArgs) error {
	ctx, cancel := context.WithTimeout(ctx, m.o.OperationTimeout) // [R-SMM.1]
	defer cancel()
	if a.URL == "" {
		a = UpdateArgs{URL: d.URL, Username: d.Username, Password: d.Password, MemoryKiB: a.MemoryKiB, CPUPercent: a.CPUPercent}
	}
	res, err := m.download(ctx, a.URL, a.Username, a.Password, []int{d.Env})
	if err != nil {
		return err
	}
	m.mu.Lock()
	for _, o := range m.st.DUs {
		if o.N != d.N && o.UUID == d.UUID && o.Env == d.Env && o.Version == res.man.Version {
			m.mu.Unlock()
			os.RemoveAll(res.dir)
			return usperr.Errorf(CodeDuplicateDU, "version %s of %s is already installed as %s", o.Version, o.UUID, duRef(o.N))
		}
	}
	m.mu.Unlock()
	// TR-369 Appendix I: Active EUs go Idle for the update and are
	// restarted once it is complete.
	wasActive := m.stopForUpdate(d.EU)
	final := filepath.Join(m.o.Dir, "du", strconv.FormatUint(uint64(d.N), 10))
	old := final + ".old"
	_ = os.RemoveAll(old)
	if err := os.Rename(final, old); err != nil {
		os.RemoveAll(res.dir)
		return usperr.Errorf(CodeRequestDenied, "%v", err)
	}
	if err := os.Rename(res.dir, final); err != nil {
		_ = os.Rename(old, final)
		os.RemoveAll(res.dir)
		return usperr.Errorf(CodeRequestDenied, "%v", err)
	}
	os.RemoveAll(old)
	m.mu.Lock()
	cur := m.findDU(d.N)
	cur.Name, cur.Version, cur.Vendor, cur.Description = res.man.Name, res.man.Version, res.man.Vendor, res.man.Description
	cur.URL, cur.Username, cur.Password, cur.LastUpdate = a.URL, a.Username, a.Password, time.Now().UTC()
	if a.MemoryKiB != 0 {
		cur.MemoryKiB = max(a.MemoryKiB, 0)
	}
	if a.CPUPercent != 0 {
		cur.CPUPercent = max(a.CPUPercent, 0)
	}
	if u := m.findEU(d.EU); u != nil {
		u.Name, u.Version, u.Vendor, u.Description = res.man.Name, res.man.Version, res.man.Vendor, res.man.Description
	}
	m.save()
	m.mu.Unlock()
	m.log.Info("deployment unit updated", "du", duRef(d.N), "version", res.man.Version)
	if wasActive {
		m.startEU(d.EU, FaultOnStart)
	}
	return nil
}

// Uninstall stops Deployment Unit n's Execution Unit and removes both
// (Uninstall()); a DUStateChange! follows.
func (m *Manager) Uninstall(ctx context.Context, n uint32) error {
	start := time.Now()
	d, err := m.begin(n, DUUninstalling)
	ev := duEvent{op: OpUninstall, start: start, du: n, err: err, state: StateInstalled}
	if err != nil {
		if d0 := m.snapshotDU(n); d0 != nil {
			ev.uuid, ev.version, ev.eus = d0.UUID, d0.Version, []uint32{d0.EU}
		} else {
			ev.du = 0
		}
		m.emit(ctx, ev)
		return err
	}
	ev.uuid, ev.version, ev.eus = d.UUID, d.Version, []uint32{d.EU}
	m.duChanged(n)
	m.stopForUpdate(d.EU)
	if err := os.RemoveAll(filepath.Join(m.o.Dir, "du", strconv.FormatUint(uint64(n), 10))); err != nil {
		m.mu.Lock()
		m.du[n].status = DUInstalled
		m.mu.Unlock()
		ev.err = usperr.Errorf(CodeRequestDenied, "%v", err)
		m.duChanged(n)
		m.emit(ctx, ev)
		return ev.err
	}
	m.unpublishLog(d.EU)
	m.mu.Lock()
	euid := ""
	if u := m.findEU(d.EU); u != nil {
		euid = u.EUID
	}
	m.st.DUs = deleteFunc(m.st.DUs, func(x *duState) bool { return x.N == n })
	m.st.EUs = deleteFunc(m.st.EUs, func(x *euState) bool { return x.N == d.EU })
	delete(m.du, n)
	delete(m.eu, d.EU)
	m.save()
	m.mu.Unlock()
	if euid != "" {
		_ = os.Remove(filepath.Join(m.o.Dir, "logs", containerID(euid)+".log"))
		_ = os.Remove(filepath.Join(m.o.Dir, "logs", containerID(euid)+".log.1"))
	}
	ev.state = StateUnInstalled
	m.rowsDeleted(n, d.EU)
	m.log.Info("deployment unit uninstalled", "du", duRef(n))
	m.emit(ctx, ev)
	return nil
}

func deleteFunc[T any](s []T, del func(T) bool) []T {
	out := s[:0]
	for _, x := range s {
		if !del(x) {
			out = append(out, x)
		}
	}
	return out
}

// duEvent is one DUStateChange!.
type duEvent struct {
	op, uuid, version, state string
	du                       uint32
	eus                      []uint32
	start                    time.Time
	err                      error
}

// emit sends DUStateChange! with every argument TR-181 lists.
func (m *Manager) emit(ctx context.Context, ev duEvent) {
	m.mu.Lock()
	n := m.notifier
	m.mu.Unlock()
	if n == nil {
		return
	}
	code, msg := faultOf(ev.err)
	ref := ""
	if ev.du != 0 {
		ref = duRef(ev.du)
	}
	var eus []string
	for _, u := range ev.eus {
		eus = append(eus, euRef(u))
	}
	args := map[string]string{
		"UUID": ev.uuid, "DeploymentUnitRef": ref, "Version": ev.version, "CurrentState": ev.state,
		"Resolved": strconv.FormatBool(ev.state == StateInstalled), "ExecutionUnitRefList": strings.Join(eus, ","),
		"StartTime": timeText(ev.start), "CompleteTime": timeText(time.Now()), "OperationPerformed": ev.op,
		"Fault.FaultCode": strconv.FormatUint(uint64(code), 10), "Fault.FaultString": msg,
	}
	if ev.err != nil && ev.op != OpUninstall && ev.state == StateFailed {
		args["CompleteTime"] = timeText(time.Time{})
	}
	n.Emit(context.WithoutCancel(ctx), EventDUStateChange, func(string) map[string]string { return args })
}

// nameUUID returns the RFC 4122 version 5 (name-based, SHA-1) UUID of a
// Deployment Unit made by vendor and named name, in the URL namespace, for
// units installed without a UUID.
func nameUUID(vendor, name string) string {
	ns := []byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns)
	h.Write([]byte(vendor + name))
	s := h.Sum(nil)[:16]
	s[6] = s[6]&0x0f | 0x50
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// validUUID checks the 8-4-4-4-12 hexadecimal form.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// redact drops what follows a URL's host, where tokens sometimes travel.
func redact(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}
