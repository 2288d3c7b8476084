package softwaremodules

import (
	"context"
	"fmt"

	"github.com/uspkit/uspkit/usperr"
)

// SetRequestedState asks Execution Unit n to become Active or Idle
// (SetRequestedState()). The transition runs in the background: Status
// shows Starting or Stopping, then Active or Idle, and a failure shows in
// ExecutionFaultCode and ExecutionFaultMessage. Active while Stopping is
// refused (7002); Active while Starting or Active, and Idle while Idle or
// Stopping, are ignored; on a disabled ExecEnv the request fails with 7012
// (TR-369 Appendix I, "EU Faults").
func (m *Manager) SetRequestedState(ctx context.Context, n uint32, requested string) error {
	m.mu.Lock()
	u := m.findEU(n)
	if u == nil {
		m.mu.Unlock()
		return usperr.Errorf(usperr.CodeObjectNotFound, "no execution unit %s", euRef(n))
	}
	if env := m.duOf(u).Env; m.envDisabledLocked(env) {
		m.mu.Unlock()
		return usperr.Errorf(CodeInvalidValue, "%s is disabled", envRef(env))
	}
	status := m.eu[n].status
	duStatus := ""
	if r := m.du[u.DU]; r != nil {
		duStatus = r.status
	}
	m.mu.Unlock()
	switch {
	case requested == EUActive && status == EUIdle && duStatus != DUInstalled:
		return usperr.Errorf(usperr.CodeRequestDenied, "its deployment unit is %s", duStatus)
	case requested == EUActive && status == EUStopping:
		return usperr.Errorf(usperr.CodeRequestDenied, "%s is Stopping", euRef(n))
	case requested == EUActive && status == EUIdle:
		m.goStart(n, FaultOnStart)
	case requested == EUIdle && (status == EUActive || status == EUStarting):
		m.goStop(n)
	case requested != EUActive && requested != EUIdle:
		return usperr.Errorf(usperr.CodeInvalidCommandArgs, "RequestedState %q is not Idle or Active", requested)
	}
	return nil
}

// Restart stops Execution Unit n if it runs, then starts it (Restart()),
// in the background.
func (m *Manager) Restart(ctx context.Context, n uint32) error {
	m.mu.Lock()
	u := m.findEU(n)
	var err error
	switch {
	case u == nil:
		err = usperr.Errorf(usperr.CodeObjectNotFound, "no execution unit %s", euRef(n))
	case m.envDisabledLocked(m.duOf(u).Env):
		err = usperr.Errorf(CodeInvalidValue, "%s is disabled", envRef(m.duOf(u).Env))
	case m.closed:
		err = usperr.Errorf(usperr.CodeRequestDenied, "shutting down")
	}
	if err == nil {
		m.wg.Add(1)
	}
	m.mu.Unlock()
	if err != nil {
		return err
	}
	go func() {
		defer m.wg.Done()
		m.stopEU(n)
		m.startEU(n, FaultOnStart)
	}()
	return nil
}

func (m *Manager) goStart(n uint32, fault string) {
	m.mu.Lock()
	if r := m.eu[n]; r == nil || r.status != EUIdle || m.closed {
		m.mu.Unlock()
		return
	}
	m.eu[n].status = EUStarting
	m.wg.Add(1)
	m.mu.Unlock()
	m.euChanged(n)
	go func() {
		defer m.wg.Done()
		m.run(n, fault)
	}()
}

// startEU starts Execution Unit n now if it is Idle, and returns when it
// is Active or has failed to start.
func (m *Manager) startEU(n uint32, fault string) {
	m.mu.Lock()
	if r := m.eu[n]; r == nil || r.status != EUIdle || m.closed {
		m.mu.Unlock()
		return
	}
	m.eu[n].status = EUStarting
	m.wg.Add(1)
	m.mu.Unlock()
	m.euChanged(n)
	func() {
		defer m.wg.Done()
		m.run(n, fault)
	}()
}

// run starts unit n (Status Starting) and, once it runs, supervises it
// in a goroutine of its own.
func (m *Manager) run(n uint32, fault string) {
	m.mu.Lock()
	u := m.findEU(n)
	if u == nil {
		m.mu.Unlock()
		return
	}
	d := m.duOf(u)
	env := m.o.Envs[d.Env-1]
	unit := Unit{ID: u.EUID, Dir: m.duDir(d.N), Log: m.logWriter(u.EUID), MemoryKiB: d.MemoryKiB, CPUPercent: d.CPUPercent}
	m.mu.Unlock()
	p, err := env.Start(m.base, unit)
	m.mu.Lock()
	r := m.eu[n]
	if r == nil || m.closed { // uninstalled or closing meanwhile
		m.mu.Unlock()
		if p != nil {
			ctx, cancel := context.WithTimeout(context.Background(), m.o.StopTimeout)
			_ = p.Stop(ctx)
			cancel()
		}
		return
	}
	u = m.findEU(n)
	if err != nil {
		r.status = EUIdle
		u.Fault, u.FaultMsg = fault, clip(err.Error())
		m.save()
		m.mu.Unlock()
		m.euChanged(n)
		m.log.Warn("execution unit did not start", "eu", euRef(n), "fault", fault, "err", err)
		return
	}
	r.status, r.proc, r.stopping = EUActive, p, false
	u.Fault, u.FaultMsg = FaultNone, ""
	m.save()
	m.wg.Add(1)
	m.mu.Unlock()
	m.euChanged(n)
	m.log.Info("execution unit active", "eu", euRef(n))
	go func() {
		defer m.wg.Done()
		m.supervise(n, p)
	}()
}

// supervise waits for unit n's process to end. An end the Agent did not
// ask for is FailureWhileActive when the process failed.
func (m *Manager) supervise(n uint32, p Process) {
	<-p.Done()
	m.mu.Lock()
	r := m.eu[n]
	if r == nil || r.proc != p || r.stopping { // stopEU sets the status
		if r != nil && r.proc == p {
			r.proc = nil
		}
		m.mu.Unlock()
		return
	}
	r.proc = nil
	r.status = EUIdle
	if u := m.findEU(n); u != nil && p.Err() != nil {
		u.Fault, u.FaultMsg = FaultWhileActive, clip(fmt.Sprintf("exited: %v", p.Err()))
		m.log.Warn("execution unit ended", "eu", euRef(n), "err", p.Err())
		m.save()
	}
	m.mu.Unlock()
	m.euChanged(n)
}

func (m *Manager) goStop(n uint32) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.stopEU(n)
	}()
}

// stopEU stops unit n (Status Stopping, then Idle); a unit still Starting
// is stopped once it runs.
func (m *Manager) stopEU(n uint32) bool {
	m.waitStarted(n)
	m.mu.Lock()
	r := m.eu[n]
	if r == nil || r.proc == nil || r.status != EUActive {
		m.mu.Unlock()
		return false
	}
	r.status, r.stopping = EUStopping, true
	p := r.proc
	m.mu.Unlock()
	m.euChanged(n)
	ctx, cancel := context.WithTimeout(context.Background(), m.o.StopTimeout)
	err := p.Stop(ctx)
	cancel()
	<-p.Done()
	m.mu.Lock()
	if r := m.eu[n]; r != nil {
		r.status, r.proc, r.stopping = EUIdle, nil, false
		if u := m.findEU(n); u != nil && err != nil {
			u.Fault, u.FaultMsg = FaultOnStop, clip(err.Error())
			m.save()
		}
	}
	m.mu.Unlock()
	m.euChanged(n)
	return true
}

// stopForUpdate stops unit n for an Update or Uninstall and reports
// whether it was Active.
func (m *Manager) stopForUpdate(n uint32) bool { return m.stopEU(n) }

func (m *Manager) waitStarted(n uint32) {
	for range 600 {
		m.mu.Lock()
		r := m.eu[n]
		starting := r != nil && r.status == EUStarting
		m.mu.Unlock()
		if !starting {
			return
		}
		sleep(50)
	}
}

func clip(s string) string {
	if len(s) > 256 {
		return s[:256]
	}
	return s
}
