package softwaremodules

import (
	"context"
	"strconv"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/tr181/vendorfiles"
	"github.com/uspkit/uspkit/usperr"
)

// Register serves Device.SoftwareModules on mux from m. Define must have
// added the objects to mux's model.
func Register(mux *datamodel.Mux, m *Manager) {
	mux.Handle(pathRoot, datamodel.HandlerFunc(m.ServeUSP))
}

// ServeUSP serves the Device.SoftwareModules objects and commands.
func (m *Manager) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	switch r.Op {
	case datamodel.OpList:
		return m.list(w, r)
	case datamodel.OpGet:
		return m.get(ctx, w, r)
	case datamodel.OpSet:
		return m.set(ctx, r)
	case datamodel.OpOperate:
		return m.operate(ctx, r)
	}
	return usperr.Errorf(usperr.CodeRequestDenied, "%s: %s is not supported", r.Path, r.Op)
}

func (m *Manager) list(w datamodel.ResponseWriter, r *datamodel.Request) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch r.Object.Path {
	case pathEnv, pathCls:
		for i := range m.o.Envs {
			w.AddInstance(uint32(i + 1))
		}
	case pathCap:
		if n := r.Instances[0]; n >= 1 && int(n) <= len(m.o.Envs) {
			for i := range capabilities(m.o.Envs[n-1]) {
				w.AddInstance(uint32(i + 1))
			}
		}
	case pathDU:
		for _, d := range m.st.DUs {
			w.AddInstance(d.N)
		}
	case pathEU:
		for _, u := range m.st.EUs {
			w.AddInstance(u.N)
		}
	}
	return nil
}

func (m *Manager) get(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	var vals map[string]string
	var err error
	switch r.Object.Path {
	case pathRoot:
		m.mu.Lock()
		vals = map[string]string{"ExecEnvNumberOfEntries": strconv.Itoa(len(m.o.Envs)), "ExecEnvClassNumberOfEntries": strconv.Itoa(len(m.o.Envs)),
			"DeploymentUnitNumberOfEntries": strconv.Itoa(len(m.st.DUs)), "ExecutionUnitNumberOfEntries": strconv.Itoa(len(m.st.EUs))}
		m.mu.Unlock()
	case pathEnv:
		vals, err = m.envValues(ctx, r.Instances[0])
	case pathCls:
		vals, err = m.classValues(r.Instances[0])
	case pathCap:
		vals, err = m.capValues(r.Instances[0], r.Instances[1])
	case pathDU:
		vals, err = m.duValues(r.Instances[0])
	case pathEU:
		vals, err = m.euValues(r.Instances[0])
	}
	if err != nil {
		return err
	}
	for _, n := range r.Names {
		w.SetValue(n, vals[n])
	}
	return nil
}

func notFound(path string) error {
	return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", path)
}

func (m *Manager) envValues(ctx context.Context, n uint32) (map[string]string, error) {
	if n < 1 || int(n) > len(m.o.Envs) {
		return nil, notFound(envRef(int(n)))
	}
	e := m.o.Envs[n-1]
	checkErr := e.Check(ctx)
	info := e.Info()
	m.mu.Lock()
	defer m.mu.Unlock()
	es := m.st.Envs[n-1]
	status := "Up"
	switch {
	case es.Disable:
		status = "Disabled"
	case checkErr != nil:
		status = "Error"
	}
	var active []string
	for _, u := range m.st.EUs {
		if m.duOf(u).Env == int(n) && m.eu[u.N].status == EUActive {
			active = append(active, euRef(u.N))
		}
	}
	reason := ""
	if checkErr != nil {
		reason = clip(checkErr.Error())
	}
	return map[string]string{"Enable": strconv.FormatBool(!es.Disable), "Status": status, "Alias": es.Alias, "Name": info.Name,
		"Type": info.Type, "Vendor": info.Vendor, "Version": info.Version, "ParentExecEnv": "",
		"AllocatedDiskSpace": "-1", "AllocatedMemory": "-1", "AllocatedCPUPercent": "-1",
		"AvailableDiskSpace": strconv.FormatInt(freeDiskKiB(m.o.Dir), 10), "AvailableMemory": strconv.FormatInt(availableMemKiB(), 10),
		"ActiveExecutionUnits": strings.Join(active, ","), "CreatedAt": timeText(es.Created), "ExecEnvClassRef": prefixCls + strconv.Itoa(int(n)),
		"RestartReason": reason, "RestartCount": "0", "LastRestarted": timeText(es.Created)}, nil
}

func (m *Manager) duValues(n uint32) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.findDU(n)
	if d == nil {
		return nil, notFound(duRef(n))
	}
	return map[string]string{"UUID": d.UUID, "DUID": d.DUID, "Alias": d.Alias, "Name": d.Name, "Status": m.du[n].status,
		"Resolved": "true", "URL": d.URL, "Description": d.Description, "Vendor": d.Vendor, "Version": d.Version,
		"ExecutionUnitList": euRef(d.EU), "ExecutionEnvRef": envRef(d.Env), "Installed": timeText(d.Installed),
		"LastUpdate": timeText(d.LastUpdate)}, nil
}

func (m *Manager) euValues(n uint32) (map[string]string, error) {
	m.mu.Lock()
	u := m.findEU(n)
	if u == nil {
		m.mu.Unlock()
		return nil, notFound(euRef(n))
	}
	r := m.eu[n]
	d := m.duOf(u)
	vals := map[string]string{"EUID": u.EUID, "Alias": u.Alias, "Name": u.Name, "ExecEnvLabel": u.EUID, "Status": r.status,
		"ExecutionFaultCode": u.Fault, "ExecutionFaultMessage": u.FaultMsg, "AutoStart": strconv.FormatBool(u.AutoStart),
		"Vendor": u.Vendor, "Version": u.Version, "Description": u.Description, "AllocatedDiskSpace": "-1",
		"AllocatedMemory": limitText(d.MemoryKiB), "AllocatedCPUPercent": limitText(d.CPUPercent), "ExecutionEnvRef": envRef(d.Env)}
	if l, ok := m.o.Envs[d.Env-1].(Limiter); !ok || !l.AppliesLimits() {
		vals["AllocatedMemory"], vals["AllocatedCPUPercent"] = "-1", "-1"
	}
	if vals["ExecutionFaultCode"] == "" {
		vals["ExecutionFaultCode"] = FaultNone
	}
	if r.logRow != 0 {
		vals["VendorLogList"] = vendorfiles.LogRef(r.logRow)
	}
	p := r.proc
	dir := m.duDir(d.N)
	m.mu.Unlock()
	use := Usage{}
	if p != nil {
		use = p.Usage()
	}
	vals["MemoryInUse"] = strconv.FormatInt(use.MemoryKiB, 10)
	vals["CPUPercentInUse"] = strconv.FormatInt(use.CPUPercent, 10)
	vals["DiskSpaceInUse"] = strconv.FormatInt(m.diskUse(dir), 10)
	return vals, nil
}

func (m *Manager) set(ctx context.Context, r *datamodel.Request) error {
	n := r.Instances[0]
	for name, v := range r.Values {
		var ok bool
		switch r.Object.Path + name {
		case pathCls + "Alias":
			ok = true
		case pathEnv + "Enable", pathEU + "AutoStart":
			_, err := strconv.ParseBool(v)
			ok = err == nil
		case pathEnv + "Alias", pathDU + "Alias", pathEU + "Alias":
			ok = true
		}
		if !ok {
			return usperr.Errorf(usperr.CodeParamReadOnly, "%s%s is not writable", r.Path, name)
		}
	}
	if r.CheckOnly {
		return m.exists(r)
	}
	for name, v := range r.Values {
		if r.Object.Path == pathEnv && name == "Enable" {
			on, _ := strconv.ParseBool(v)
			m.SetEnvEnabled(ctx, int(n), on)
			continue
		}
		if err := m.setField(r.Object.Path, n, name, v); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) exists(r *datamodel.Request) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := r.Instances[0]
	switch r.Object.Path {
	case pathEnv, pathCls:
		if n < 1 || int(n) > len(m.o.Envs) {
			return notFound(r.Path)
		}
	case pathDU:
		if m.findDU(n) == nil {
			return notFound(r.Path)
		}
	case pathEU:
		if m.findEU(n) == nil {
			return notFound(r.Path)
		}
	}
	return nil
}

func (m *Manager) setField(obj string, n uint32, name, v string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.save()
	switch obj {
	case pathEnv:
		if n >= 1 && int(n) <= len(m.st.Envs) {
			m.st.Envs[n-1].Alias = v
			return nil
		}
	case pathCls:
		if n >= 1 && int(n) <= len(m.st.Envs) {
			m.st.Envs[n-1].ClassAlias = v
			return nil
		}
	case pathDU:
		if d := m.findDU(n); d != nil {
			d.Alias = v
			return nil
		}
	case pathEU:
		if u := m.findEU(n); u != nil {
			if name == "AutoStart" {
				u.AutoStart, _ = strconv.ParseBool(v)
			} else {
				u.Alias = v
			}
			return nil
		}
	}
	return usperr.Errorf(usperr.CodeObjectNotFound, "no instance %d", n)
}

func (m *Manager) operate(ctx context.Context, r *datamodel.Request) error {
	in := r.Values
	switch r.Object.Path + r.Command.Name {
	case pathRoot + "InstallDU()":
		_, err := m.Install(ctx, InstallArgs{URL: in["URL"], UUID: in["UUID"], Username: in["Username"], Password: in["Password"],
			ExecutionEnvRef: in["ExecutionEnvRef"], MemoryKiB: intArg(in, "Resources.AllocatedMemory"), CPUPercent: intArg(in, "Resources.AllocatedCPUPercent")})
		return commandError(err)
	case pathDU + "Update()":
		return commandError(m.Update(ctx, r.Instances[0], UpdateArgs{URL: in["URL"], Username: in["Username"], Password: in["Password"],
			MemoryKiB: intArg(in, "Resources.AllocatedMemory"), CPUPercent: intArg(in, "Resources.AllocatedCPUPercent")}))
	case pathDU + "Uninstall()":
		return m.Uninstall(ctx, r.Instances[0])
	case pathEU + "SetRequestedState()":
		return m.SetRequestedState(ctx, r.Instances[0], in["RequestedState"])
	case pathEU + "Restart()":
		return m.Restart(ctx, r.Instances[0])
	}
	return usperr.Errorf(usperr.CodeCommandFailure, "%s%s is not supported", r.Path, r.Command.Name)
}

// capabilities returns the formats of e that TR-181 names.
func capabilities(e ExecEnv) []Capability {
	if c, ok := e.(Capable); ok {
		return c.Capabilities()
	}
	return nil
}

// classValues serves ExecEnvClass.{n}: one class per environment.
func (m *Manager) classValues(n uint32) (map[string]string, error) {
	if n < 1 || int(n) > len(m.o.Envs) {
		return nil, notFound(prefixCls + strconv.Itoa(int(n)))
	}
	e := m.o.Envs[n-1]
	info := e.Info()
	m.mu.Lock()
	alias := m.st.Envs[n-1].ClassAlias
	m.mu.Unlock()
	return map[string]string{"Alias": alias, "Name": info.Name, "Vendor": info.Vendor, "Version": info.Version, "DeploymentUnitRef": "",
		"CapabilityNumberOfEntries": strconv.Itoa(len(capabilities(e)))}, nil
}

func (m *Manager) capValues(n, c uint32) (map[string]string, error) {
	if n < 1 || int(n) > len(m.o.Envs) {
		return nil, notFound(prefixCls + strconv.Itoa(int(n)))
	}
	caps := capabilities(m.o.Envs[n-1])
	if c < 1 || int(c) > len(caps) {
		return nil, notFound(prefixCls + strconv.Itoa(int(n)) + ".Capability." + strconv.Itoa(int(c)))
	}
	x := caps[c-1]
	return map[string]string{"Specification": x.Specification, "SpecificationVersion": x.SpecificationVersion, "SpecificationURI": x.SpecificationURI}, nil
}

// intArg reads an int argument the engine has checked; absent is 0.
func intArg(in map[string]string, name string) int64 {
	n, _ := strconv.ParseInt(in[name], 10, 64)
	return n
}

// limitText shows a limit, -1 for none.
func limitText(n int64) string {
	if n <= 0 {
		return "-1"
	}
	return strconv.FormatInt(n, 10)
}
