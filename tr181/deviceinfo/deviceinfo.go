package deviceinfo

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// Define adds Device.DeviceInfo with the parameters this package
// provides; names and types are those of TR-181 Device:2.16.
func Define(m *schema.Model) {
	m.Define("Device.DeviceInfo.").
		Param("Manufacturer", schema.String(schema.MaxLen(64))).
		Param("ManufacturerOUI", schema.String(schema.Len(6, 6), schema.Pattern(`[0-9A-F]{6}`))).
		Param("ModelName", schema.String(schema.MaxLen(64))).
		Param("Description", schema.String(schema.MaxLen(256))).
		Param("ProductClass", schema.String(schema.MaxLen(64))).
		Param("SerialNumber", schema.String(schema.MaxLen(64))).
		Param("HardwareVersion", schema.String(schema.MaxLen(64))).
		Param("SoftwareVersion", schema.String(schema.MaxLen(64))).
		Param("UpTime", schema.UnsignedInt(), schema.ValueChangeWillIgnore)
	m.Define("Device.DeviceInfo.MemoryStatus.").
		Param("Total", schema.UnsignedInt()).
		Param("Free", schema.UnsignedInt(), schema.ValueChangeWillIgnore)
	m.Define("Device.DeviceInfo.ProcessStatus.").
		Param("CPUUsage", schema.UnsignedInt(schema.Bounds("", "100")), schema.ValueChangeWillIgnore).
		Param("ProcessNumberOfEntries", schema.UnsignedInt())
	defineProcesses(m)
	defineTemperature(m)
}

// Info is the device's identity.
type Info struct {
	Manufacturer    string
	ManufacturerOUI string // six upper-case hex digits
	ModelName       string
	Description     string
	ProductClass    string
	SerialNumber    string
	HardwareVersion string
	SoftwareVersion string
	// Proc is the proc file system to read live figures from; "" means
	// "/proc".
	Proc string
	// Sys is the sysfs to read temperature sensors from (hwmon and
	// thermal zones); "" means "/sys".
	Sys string
	// MaxAge is how long live figures read from Proc are reused before
	// they are read again: memory and CPU usage are at most MaxAge old,
	// and UpTime, counted on from its last reading with the monotonic
	// clock, is read again after UptimeMaxAge. Zero means DefaultMaxAge;
	// negative reads every figure on every Get.
	MaxAge time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// DefaultMaxAge is how long live figures are reused unless Info.MaxAge
// says otherwise: a Get of Device.DeviceInfo. costs at most one reading
// of each /proc file per second, however often Controllers ask.
const DefaultMaxAge = time.Second

// UptimeMaxAge is how long UpTime is counted on from one reading of
// /proc/uptime before it is read again (the monotonic clock stops while
// the host is suspended, the kernel's uptime does not).
const UptimeMaxAge = time.Minute

// Host returns the identity of the machine: manufacturer and model from
// DMI where the kernel exposes them, the serial number from the machine
// ID, and the given product name and software version.
func Host(product, version string) Info {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	i := Info{
		Manufacturer:    read("/sys/class/dmi/id/sys_vendor"),
		ModelName:       read("/sys/class/dmi/id/product_name"),
		HardwareVersion: read("/sys/class/dmi/id/product_version"),
		SerialNumber:    read("/etc/machine-id"),
		ProductClass:    product,
		Description:     product + " USP Agent",
		SoftwareVersion: version,
		ManufacturerOUI: "000000",
	}
	if i.Manufacturer == "" {
		i.Manufacturer = "unknown"
	}
	if i.ModelName == "" {
		i.ModelName = product
	}
	if len(i.SerialNumber) > 64 {
		i.SerialNumber = i.SerialNumber[:64]
	}
	return i
}

// Register serves Device.DeviceInfo. and its sub-objects on mux.
func Register(mux *datamodel.Mux, info Info) {
	if info.Proc == "" {
		info.Proc = "/proc"
	}
	if info.MaxAge == 0 {
		info.MaxAge = DefaultMaxAge
	}
	if info.Now == nil {
		info.Now = time.Now
	}
	if info.Sys == "" {
		info.Sys = "/sys"
	}
	mux.Handle("Device.DeviceInfo.", &handler{info: info})
	mux.Handle("Device.DeviceInfo.ProcessStatus.Process.{i}.", newProcesses(info))
	mux.Handle("Device.DeviceInfo.TemperatureStatus.", newSensors(info))
}

type handler struct {
	info Info

	mu       sync.Mutex
	lastCPU  cpuTimes
	lastAt   time.Time
	cpuUsage uint64
	// up is seconds since boot at upAt, the last reading of uptime.
	up   float64
	upAt time.Time
	// total and free are memory figures read at memAt.
	total, free uint64
	memAt       time.Time
}

// fresh reports whether a figure read at at may still be used at now.
func (h *handler) fresh(at, now time.Time, maxAge time.Duration) bool {
	return !at.IsZero() && h.info.MaxAge > 0 && now.Sub(at) < maxAge && !now.Before(at)
}

func (h *handler) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	if r.Op != datamodel.OpGet {
		return usperr.Errorf(usperr.CodeRequestDenied, "%s is read-only", r.Path)
	}
	switch r.Path {
	case "Device.DeviceInfo.":
		for _, n := range r.Names {
			if n == "UpTime" {
				up, err := h.upTime()
				if err != nil {
					return err
				}
				w.SetValue(n, strconv.FormatUint(up, 10))
				continue
			}
			w.SetValue(n, h.identity(n))
		}
	case "Device.DeviceInfo.MemoryStatus.":
		total, free, err := h.memory()
		if err != nil {
			return err
		}
		for _, n := range r.Names {
			switch n {
			case "Total":
				w.SetValue(n, strconv.FormatUint(total, 10))
			case "Free":
				w.SetValue(n, strconv.FormatUint(free, 10))
			}
		}
	case "Device.DeviceInfo.ProcessStatus.":
		u, err := h.cpu()
		if err != nil {
			return err
		}
		w.SetValue("CPUUsage", strconv.FormatUint(u, 10))
	}
	return nil
}

// identity returns the value of one identity parameter.
func (h *handler) identity(name string) string {
	switch name {
	case "Manufacturer":
		return h.info.Manufacturer
	case "ManufacturerOUI":
		return h.info.ManufacturerOUI
	case "ModelName":
		return h.info.ModelName
	case "Description":
		return h.info.Description
	case "ProductClass":
		return h.info.ProductClass
	case "SerialNumber":
		return h.info.SerialNumber
	case "HardwareVersion":
		return h.info.HardwareVersion
	case "SoftwareVersion":
		return h.info.SoftwareVersion
	}
	return ""
}

// upTime is the seconds since the host booted: from /proc/uptime, read
// again after UptimeMaxAge and counted on with the clock in between.
func (h *handler) upTime() (uint64, error) {
	now := h.info.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.fresh(h.upAt, now, UptimeMaxAge) {
		secs, err := h.readUptime()
		if err != nil {
			return 0, err
		}
		h.up, h.upAt = secs, now
	}
	secs := h.up + now.Sub(h.upAt).Seconds()
	return min(uint64(secs), 1<<32-1), nil
}

// readUptime reads the seconds since boot from /proc/uptime.
func (h *handler) readUptime() (float64, error) {
	b, err := os.ReadFile(h.info.Proc + "/uptime")
	if err != nil {
		return 0, usperr.Errorf(usperr.CodeInternal, "reading uptime: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, usperr.Errorf(usperr.CodeInternal, "empty uptime")
	}
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil || secs < 0 {
		return 0, usperr.Errorf(usperr.CodeInternal, "uptime: %q", f[0])
	}
	return secs, nil
}

// memory returns total and available memory in KiB, from /proc/meminfo
// read at most MaxAge ago.
func (h *handler) memory() (total, free uint64, err error) {
	now := h.info.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.fresh(h.memAt, now, h.info.MaxAge) {
		if h.total, h.free, err = h.readMemory(); err != nil {
			return 0, 0, err
		}
		h.memAt = now
	}
	return h.total, h.free, nil
}

// readMemory reads total and available memory from /proc/meminfo.
func (h *handler) readMemory() (total, free uint64, err error) {
	b, err := os.ReadFile(h.info.Proc + "/meminfo")
	if err != nil {
		return 0, 0, usperr.Errorf(usperr.CodeInternal, "reading meminfo: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			free = v
		}
	}
	return min(total, 1<<32-1), min(free, 1<<32-1), nil
}

type cpuTimes struct{ busy, total uint64 }

// cpu returns the CPU usage in percent since the previous reading (or
// since boot, the first time), from /proc/stat; a reading less than a
// second old (and MaxAge) is reused, since usage over a shorter time says
// little.
func (h *handler) cpu() (uint64, error) {
	now := h.info.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.lastAt.IsZero() && !now.Before(h.lastAt) && now.Sub(h.lastAt) < max(time.Second, h.info.MaxAge) {
		return h.cpuUsage, nil
	}
	b, err := os.ReadFile(h.info.Proc + "/stat")
	if err != nil {
		return 0, usperr.Errorf(usperr.CodeInternal, "reading stat: %v", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, usperr.Errorf(usperr.CodeInternal, "unexpected /proc/stat")
	}
	var cur cpuTimes
	for i, s := range f[1:] {
		v, _ := strconv.ParseUint(s, 10, 64)
		cur.total += v
		if i != 3 && i != 4 { // idle and iowait
			cur.busy += v
		}
	}
	d := cur
	if cur.total > h.lastCPU.total {
		d = cpuTimes{busy: cur.busy - h.lastCPU.busy, total: cur.total - h.lastCPU.total}
	}
	if d.total > 0 {
		h.cpuUsage = min(100, d.busy*100/d.total)
	}
	h.lastCPU, h.lastAt = cur, now
	return h.cpuUsage, nil
}
