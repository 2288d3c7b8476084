package host

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
)

const tableDNSServer = "Device.DNS.Client.Server."

// readDNS reads Device.DNS.Client. and its Server rows from the resolver
// configuration: one row per nameserver line, in the file's order.
func (h *Host) readDNS(ctx context.Context, b *builder) error {
	file := h.opt.ResolvConf
	if file == "" {
		file = "/etc/resolv.conf"
	}
	data, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	servers := nameservers(data)
	st := "Enabled"
	if len(servers) == 0 {
		st = "Disabled"
	}
	b.obj("Device.DNS.Client.", map[string]string{"Enable": fmt.Sprint(len(servers) > 0), "Status": st})
	b.table(tableDNSServer)
	for _, s := range servers {
		b.row(tableDNSServer, s, map[string]string{"Enable": "true", "Status": "Enabled", "Alias": "", "DNSServer": s,
			"Interface": "", "Type": "Static"})
	}
	return nil
}

// nameservers returns the addresses of a resolv.conf's nameserver lines,
// without repeats; lines that do not hold an IP address are skipped.
func nameservers(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil {
			continue
		}
		s := a.WithZone("").String()
		if len(s) <= 45 && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
