package softwaremodules

import (
	"context"

	"github.com/uspkit/uspkit/datamodel"
)

// Announcer takes changes to provided objects made outside the engine, so
// that ObjectCreation, ObjectDeletion and ValueChange subscriptions see
// them at once; *agent.Agent is one. A Notifier that also implements it
// is told of every DU and EU row that appears or goes and of every change
// of their Status and faults.
type Announcer interface {
	Announce(ctx context.Context, changes []datamodel.Change)
}

// announce hands changes to the Notifier when it is an Announcer; m.mu
// must not be held (the Agent may read the objects back).
func (m *Manager) announce(changes ...datamodel.Change) {
	m.mu.Lock()
	a, _ := m.notifier.(Announcer)
	m.mu.Unlock()
	if a != nil && len(changes) > 0 {
		a.Announce(m.base, changes)
	}
}

// euChanged announces unit n's Status and fault parameters that differ
// from what was last announced.
func (m *Manager) euChanged(n uint32) {
	m.mu.Lock()
	u, r := m.findEU(n), m.eu[n]
	if u == nil || r == nil {
		m.mu.Unlock()
		return
	}
	now := map[string]string{"Status": r.status, "ExecutionFaultCode": u.Fault, "ExecutionFaultMessage": u.FaultMsg}
	if now["ExecutionFaultCode"] == "" {
		now["ExecutionFaultCode"] = FaultNone
	}
	diff := m.diffLocked(euRef(n), now)
	m.mu.Unlock()
	if len(diff) > 0 {
		m.announce(datamodel.Change{Op: datamodel.OpSet, Path: euRef(n) + ".", Params: diff})
	}
}

// duChanged announces unit n's Status and Version when they changed.
func (m *Manager) duChanged(n uint32) {
	m.mu.Lock()
	d, r := m.findDU(n), m.du[n]
	if d == nil || r == nil {
		m.mu.Unlock()
		return
	}
	diff := m.diffLocked(duRef(n), map[string]string{"Status": r.status, "Version": d.Version})
	m.mu.Unlock()
	if len(diff) > 0 {
		m.announce(datamodel.Change{Op: datamodel.OpSet, Path: duRef(n) + ".", Params: diff})
	}
}

// diffLocked returns the values of now that differ from those last
// announced for path, and remembers now.
func (m *Manager) diffLocked(path string, now map[string]string) map[string]string {
	last := m.announced[path]
	if last == nil {
		last = map[string]string{}
		m.announced[path] = last
	}
	diff := map[string]string{}
	for k, v := range now {
		if last[k] != v {
			diff[k] = v
			last[k] = v
		}
	}
	return diff
}

// rowsAdded announces a new DU and its EU.
func (m *Manager) rowsAdded(du, eu uint32) {
	m.mu.Lock()
	d, u := m.findDU(du), m.findEU(eu)
	if d == nil || u == nil {
		m.mu.Unlock()
		return
	}
	dc := datamodel.Change{Op: datamodel.OpAdd, Path: duRef(du) + ".", Params: map[string]string{"UUID": d.UUID, "Version": d.Version,
		"ExecutionEnvRef": envRef(d.Env), "Alias": d.Alias, "Status": DUInstalled}}
	uc := datamodel.Change{Op: datamodel.OpAdd, Path: euRef(eu) + ".", Params: map[string]string{"EUID": u.EUID, "Alias": u.Alias, "Status": EUIdle}}
	m.announced[duRef(du)] = map[string]string{"Status": DUInstalled, "Version": d.Version}
	m.announced[euRef(eu)] = map[string]string{"Status": EUIdle, "ExecutionFaultCode": FaultNone, "ExecutionFaultMessage": ""}
	m.mu.Unlock()
	m.announce(dc, uc)
}

// rowsDeleted announces that a DU and its EU are gone.
func (m *Manager) rowsDeleted(du, eu uint32) {
	m.mu.Lock()
	delete(m.announced, duRef(du))
	delete(m.announced, euRef(eu))
	m.mu.Unlock()
	m.announce(datamodel.Change{Op: datamodel.OpDelete, Path: euRef(eu) + "."}, datamodel.Change{Op: datamodel.OpDelete, Path: duRef(du) + "."})
}
