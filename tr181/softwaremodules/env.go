package softwaremodules

import (
	"context"
)

// SetEnvEnabled enables or disables ExecEnv n (ExecEnv.{n}.Enable). A
// disabled environment's Execution Units are stopped (in the background)
// and show UnStartable
// (TR-369 Appendix I, "Execution Environment Concepts"); enabling it again
// starts those whose AutoStart is true.
func (m *Manager) SetEnvEnabled(ctx context.Context, n int, on bool) {
	m.mu.Lock()
	if n < 1 || n > len(m.st.Envs) || m.st.Envs[n-1].Disable == !on {
		m.mu.Unlock()
		return
	}
	m.st.Envs[n-1].Disable = !on
	m.save()
	var units []uint32
	for _, u := range m.st.EUs {
		if m.duOf(u).Env == n && (on && u.AutoStart || !on) {
			units = append(units, u.N)
		}
	}
	m.wg.Add(len(units))
	m.mu.Unlock()
	// In the background: the Set that asked holds the engine, which the
	// Agent may need to notify of the units' changes.
	for _, u := range units {
		go func() {
			defer m.wg.Done()
			if on {
				m.startEU(u, FaultOnAutoStart)
				return
			}
			m.stopEU(u)
			m.mu.Lock()
			if x := m.findEU(u); x != nil && m.eu[u].status == EUIdle && m.envDisabledLocked(n) { // not enabled again meanwhile
				x.Fault, x.FaultMsg = FaultUnStartable, "the execution environment is disabled"
				m.save()
			}
			m.mu.Unlock()
			m.euChanged(u)
		}()
	}
}
