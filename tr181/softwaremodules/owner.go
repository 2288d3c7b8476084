package softwaremodules

import "syscall"

// DeploymentUnitOf returns the Deployment Unit
// ("Device.SoftwareModules.DeploymentUnit.N") whose running Execution
// Unit process pid is part of, or "" when it is none's: the unit's own
// process or one in its process group (the Process environment runs each
// unit in a process group of its own). A USP Broker uses it to fill
// Device.USPServices.USPService.{i}.DeploymentUnitRef of a USP Service
// that runs as an Execution Unit, from the process on the other end of
// its socket. Units of other environments (containers) are not matched.
func (m *Manager) DeploymentUnitOf(pid int) string {
	if pid <= 0 {
		return ""
	}
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		pgid = -1
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for n, r := range m.eu {
		p, ok := r.proc.(*proc)
		if !ok || p.cmd.Process == nil {
			continue
		}
		select {
		case <-p.done:
			continue
		default:
		}
		if eu := p.cmd.Process.Pid; eu == pid || eu == pgid {
			if u := m.findEU(n); u != nil && m.findDU(u.DU) != nil {
				return duRef(u.DU)
			}
		}
	}
	return ""
}
