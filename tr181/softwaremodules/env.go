package softwaremodules

import (
	"context"
	"sync"
)

// SetEnvEnabled enables or disables ExecEnv n (ExecEnv.{n}.Enable). A
// disabled environment's Execution Units are stopped and show UnStartable
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
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, u := range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if on {
				m.startEU(u, FaultOnAutoStart)
				return
			}
			m.stopEU(u)
			m.mu.Lock()
			if x := m.findEU(u); x != nil {
				x.Fault, x.FaultMsg = FaultUnStartable, "the execution environment is disabled"
				m.save()
			}
			m.mu.Unlock()
			m.euChanged(u)
		}()
	}
	wg.Wait()
}
