package host

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ntpConfigs returns the files NTP servers are read from unless
// Options.NTPConfigs names others: systemd-timesyncd, chrony, ntpd and
// ntpsec.
func ntpConfigs() []string {
	return []string{"/etc/systemd/timesyncd.conf", "/etc/chrony/chrony.conf", "/etc/chrony.conf", "/etc/ntpsec/ntp.conf", "/etc/ntp.conf"}
}

// readTime reads Device.Time.: the NTP servers the host is configured
// with, whether the kernel clock is synchronised, the local time and the
// time zone as a POSIX TZ string.
func (h *Host) readTime(ctx context.Context, b *builder) error {
	files := h.opt.NTPConfigs
	if files == nil {
		files = ntpConfigs()
	}
	var servers []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if servers = ntpServers(data); len(servers) > 0 {
			break
		}
	}
	synced, known := clockSynced()
	synced = synced && known
	// Enabled when an NTP client is configured, or when something (a
	// client this package does not know, the host of a container) keeps
	// the clock synchronised.
	p := map[string]string{"Enable": strconv.FormatBool(len(servers) > 0 || synced)}
	for i := range 5 {
		v := ""
		if i < len(servers) {
			v = servers[i]
		}
		p["NTPServer"+strconv.Itoa(i+1)] = v
	}
	p["Status"] = "Disabled"
	if synced {
		p["Status"] = "Synchronized"
	} else if len(servers) > 0 {
		p["Status"] = "Unsynchronized"
	}
	p["CurrentLocalTime"] = b.now.Local().Format(time.RFC3339)
	p["LocalTimeZone"] = h.timeZone()
	b.obj("Device.Time.", p)
	return nil
}

// ntpServers returns the servers an NTP configuration names: "NTP=" of
// systemd-timesyncd (FallbackNTP= when NTP= is empty), "server" and
// "pool" lines of chrony and ntpd. Names longer than TR-181's 64
// characters are left out.
func ntpServers(data []byte) []string {
	var out, fallback []string
	add := func(l *[]string, s string) {
		if s != "" && len(s) <= 64 && len(*l) < 5 {
			*l = append(*l, s)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if v, ok := strings.CutPrefix(line, "NTP="); ok {
			for _, s := range strings.Fields(v) {
				add(&out, s)
			}
			continue
		}
		if v, ok := strings.CutPrefix(line, "FallbackNTP="); ok {
			for _, s := range strings.Fields(v) {
				add(&fallback, s)
			}
			continue
		}
		if f := strings.Fields(line); len(f) >= 2 && (f[0] == "server" || f[0] == "pool") {
			add(&out, f[1])
		}
	}
	if len(out) == 0 {
		return fallback
	}
	return out
}

// clockSynced asks the kernel whether its clock is synchronised (the
// STA_UNSYNC bit that NTP daemons clear).
func clockSynced() (synced, ok bool) {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return false, false
	}
	return state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0, true
}

// timeZone returns the POSIX TZ string of the host's time zone: the TZ
// variable when set, otherwise the footer of the TZif file (version 2
// and later), which holds exactly that; "" when neither is there.
func (h *Host) timeZone() string {
	if tz := os.Getenv("TZ"); tz != "" && !strings.HasPrefix(tz, ":") && !strings.Contains(tz, "/") {
		return clip(tz, 256)
	}
	file := h.opt.LocalTime
	if file == "" {
		file = "/etc/localtime"
	}
	data, err := os.ReadFile(file)
	if err != nil || len(data) < 5 || string(data[:4]) != "TZif" || data[4] < '2' {
		return ""
	}
	return clip(tzFooter(data), 256)
}

// tzFooter returns the TZ string between the last two newlines of a
// TZif file.
func tzFooter(data []byte) string {
	data = bytes.TrimSuffix(data, []byte("\n"))
	i := bytes.LastIndexByte(data, '\n')
	if i < 0 {
		return ""
	}
	s := string(data[i+1:])
	for _, c := range s {
		if c < 0x20 || c > 0x7e {
			return ""
		}
	}
	return s
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
