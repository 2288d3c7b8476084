package deviceinfo

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// defineTemperature adds Device.DeviceInfo.TemperatureStatus. and its
// TemperatureSensor table.
func defineTemperature(m *schema.Model) {
	m.Define("Device.DeviceInfo.TemperatureStatus.").
		Param("TemperatureSensorNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.DeviceInfo.TemperatureStatus.TemperatureSensor.{i}.", schema.Keys("Name"), schema.AliasKey(), schema.NumEntries("TemperatureSensorNumberOfEntries")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite).
		Param("Status", schema.String(schema.Enum("Disabled", "Enabled", "Error"))).
		Param("ResetTime", schema.DateTime()).
		Param("Name", schema.String(schema.MaxLen(256))).
		Param("Value", schema.Int(schema.Bounds("-274", ""))).
		Param("LastUpdate", schema.DateTime()).
		Param("MinValue", schema.Int(schema.Bounds("-274", ""))).
		Param("MinTime", schema.DateTime()).
		Param("MaxValue", schema.Int(schema.Bounds("-274", ""))).
		Param("MaxTime", schema.DateTime())
}

// sensor is one temperature sensor and what was seen of it since the
// Agent started (ResetTime).
type sensor struct {
	num          uint32
	name, file   string
	value        int64
	ok           bool
	reset, last  time.Time
	min, max     int64
	minAt, maxAt time.Time
}

// sensors serves TemperatureStatus from the kernel's hwmon and thermal
// zone sensors under Sys, read at most once per MaxAge.
type sensors struct {
	info Info

	mu     sync.Mutex
	at     time.Time
	byName map[string]*sensor
	order  []*sensor
	next   uint32
}

func newSensors(info Info) *sensors { return &sensors{info: info, byName: map[string]*sensor{}} }

// find lists the sensor files: hwmon temperature inputs, named after the
// chip and the input's label, and thermal zones, named after their type.
func (ss *sensors) find() map[string]string {
	out := map[string]string{}
	read := func(p string) string { b, _ := os.ReadFile(p); return strings.TrimSpace(string(b)) }
	inputs, _ := filepath.Glob(filepath.Join(ss.info.Sys, "class/hwmon/hwmon*/temp*_input"))
	for _, in := range inputs {
		dir := filepath.Dir(in)
		base := strings.TrimSuffix(filepath.Base(in), "_input")
		label := read(filepath.Join(dir, base+"_label"))
		if label == "" {
			label = base
		}
		out[filepath.Base(dir)+" "+read(filepath.Join(dir, "name"))+" "+label] = in
	}
	zones, _ := filepath.Glob(filepath.Join(ss.info.Sys, "class/thermal/thermal_zone*/temp"))
	for _, z := range zones {
		dir := filepath.Dir(z)
		out[filepath.Base(dir)+" "+read(filepath.Join(dir, "type"))] = z
	}
	return out
}

// refresh reads the sensors again when the last reading is older than
// MaxAge; ss.mu is held. A sensor that disappears frees its row; one
// that appears gets the next instance number.
func (ss *sensors) refresh() {
	now := ss.info.Now()
	if !ss.at.IsZero() && ss.info.MaxAge > 0 && !now.Before(ss.at) && now.Sub(ss.at) < ss.info.MaxAge {
		return
	}
	ss.at = now
	found := ss.find()
	for name := range ss.byName {
		if _, ok := found[name]; !ok {
			delete(ss.byName, name)
		}
	}
	// Sensors first seen together are numbered in name order, so that
	// the same hardware gets the same numbers at every start [R-ARC.8].
	for _, name := range slices.Sorted(maps.Keys(found)) {
		file := found[name]
		s := ss.byName[name]
		if s == nil {
			ss.next++
			s = &sensor{num: ss.next, name: name, file: file, reset: now}
			ss.byName[name] = s
		}
		b, err := os.ReadFile(s.file)
		milli, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		s.ok = err == nil && perr == nil
		if !s.ok {
			continue
		}
		v := max((milli+500)/1000, -274)
		if milli < 0 {
			v = max((milli-500)/1000, -274)
		}
		s.value, s.last = v, now
		if s.minAt.IsZero() || v < s.min {
			s.min, s.minAt = v, now
		}
		if s.maxAt.IsZero() || v > s.max {
			s.max, s.maxAt = v, now
		}
	}
	ss.order = ss.order[:0]
	for _, s := range ss.byName {
		ss.order = append(ss.order, s)
	}
	slices.SortFunc(ss.order, func(a, b *sensor) int { return int(a.num) - int(b.num) })
}

func (ss *sensors) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	if r.Op != datamodel.OpGet && r.Op != datamodel.OpList {
		return usperr.Errorf(usperr.CodeRequestDenied, "%s is read-only", r.Path)
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.refresh()
	if r.Op == datamodel.OpList {
		for _, s := range ss.order {
			w.AddInstance(s.num)
		}
		return nil
	}
	if r.Path == "Device.DeviceInfo.TemperatureStatus." {
		return nil // only the counted TemperatureSensorNumberOfEntries
	}
	n := r.Instances[len(r.Instances)-1]
	i := slices.IndexFunc(ss.order, func(s *sensor) bool { return s.num == n })
	if i < 0 {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s is gone", r.Path)
	}
	s := ss.order[i]
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "0001-01-01T00:00:00Z"
		}
		return t.UTC().Format(time.RFC3339)
	}
	status := "Enabled"
	if !s.ok {
		status = "Error"
	}
	vals := map[string]string{"Alias": "cpe-" + strconv.FormatUint(uint64(s.num), 10), "Enable": "true", "Status": status,
		"ResetTime": ts(s.reset), "Name": s.name, "Value": strconv.FormatInt(s.value, 10), "LastUpdate": ts(s.last),
		"MinValue": strconv.FormatInt(s.min, 10), "MinTime": ts(s.minAt), "MaxValue": strconv.FormatInt(s.max, 10), "MaxTime": ts(s.maxAt)}
	if len(s.name) > 256 {
		vals["Name"] = s.name[:256]
	}
	for _, name := range r.Names {
		w.SetValue(name, vals[name])
	}
	return nil
}
