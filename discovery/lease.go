package discovery

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// maxLease bounds the lease data read.
const maxLease = 1 << 20

// Lease is the BBF vendor information of a DHCP client's lease.
type Lease struct {
	// Interface the lease is for, when the lease says.
	Interface string
	// Server is the DHCPv4 server's identifier (option 54), when the
	// lease says: the Gateway of [R-DIS.2d].
	Server netip.Addr
	// V4 is from DHCPv4 option 125, V6 from DHCPv6 option 17.
	V4, V6 VendorInfo
	// DNS are the DNS servers the lease gives (DHCPv4 option 6, DHCPv6
	// option 23): where the Agent looks up the DNS-SD records of a
	// Controller's FQDN [R-DIS.7].
	DNS []netip.Addr
}

// Info returns the lease's vendor information: DHCPv4's, with DHCPv6's for
// what DHCPv4 did not say.
func (l *Lease) Info() VendorInfo {
	v := l.V4
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	fill(&v.ControllerURL, l.V6.ControllerURL)
	fill(&v.ProvisioningCode, l.V6.ProvisioningCode)
	fill(&v.RetryMinimumWaitInterval, l.V6.RetryMinimumWaitInterval)
	fill(&v.RetryIntervalMultiplier, l.V6.RetryIntervalMultiplier)
	fill(&v.EndpointID, l.V6.EndpointID)
	if v.Gateway.IsZero() {
		v.Gateway = l.V6.Gateway
	}
	return v
}

// ReadLease reads a DHCP client's lease in any of the forms below, told
// apart by their first character:
//
//   - ISC dhclient lease files (dhclient.leases, dhclient6.leases): the
//     last "lease" or "lease6" block counts; option 125 is "option vivso"
//     and option 17 "option dhcp6.vendor-opts", as colon-separated hex or
//     a quoted string.
//   - The environment a DHCP client gives its script, one NAME=value a
//     line, as `env` prints it: busybox udhcpc (OpenWrt) passes option 125
//     as opt125 in hex when started with "-O 125", odhcp6c passes option 17
//     as OPTION_17 in hex; "interface" names the interface and "serverid"
//     the DHCPv4 server.
//   - The same variables as one JSON object of strings (what OpenWrt's
//     hotplug scripts write with jshn).
//
// An option that does not decode gives an error naming it.
func ReadLease(r io.Reader) (*Lease, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxLease+1))
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	if len(b) > maxLease {
		return nil, errors.New("lease: longer than 1 MiB")
	}
	t := bytes.TrimSpace(b)
	switch {
	case len(t) == 0:
		return &Lease{}, nil
	case t[0] == '{':
		var vars map[string]string
		if err := json.Unmarshal(t, &vars); err != nil {
			return nil, fmt.Errorf("lease: JSON: %w", err)
		}
		return fromVars(vars)
	case bytes.Contains(t, []byte("lease")) && bytes.Contains(t, []byte("{")):
		return readDhclient(string(b))
	default:
		vars := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 64*1024), maxLease)
		for sc.Scan() {
			line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
			if k, v, ok := strings.Cut(line, "="); ok {
				vars[k] = unquoteShell(v)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("lease: %w", err)
		}
		return fromVars(vars)
	}
}

func unquoteShell(v string) string {
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

func fromVars(vars map[string]string) (*Lease, error) {
	l := &Lease{Interface: vars["interface"]}
	if a, err := netip.ParseAddr(strings.TrimSpace(vars["serverid"])); err == nil {
		l.Server = a
	}
	if l.Interface == "" {
		l.Interface = vars["INTERFACE"]
	}
	// udhcpc's "dns", odhcp6c's "RDNSS": space-separated addresses.
	l.DNS = parseAddrs(vars["dns"]+" "+vars["RDNSS"], " ")
	if h := vars["opt125"]; h != "" {
		b, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil {
			return nil, fmt.Errorf("lease: opt125: %w", err)
		}
		if l.V4, err = ParseV4(b); err != nil {
			return nil, fmt.Errorf("lease: %w", err)
		}
	}
	if h := vars["OPTION_17"]; h != "" {
		b, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil {
			return nil, fmt.Errorf("lease: OPTION_17: %w", err)
		}
		if l.V6, err = ParseV6(b); err != nil {
			return nil, fmt.Errorf("lease: %w", err)
		}
	}
	return l, nil
}

// maxDNS bounds the DNS servers taken from a lease.
const maxDNS = 8

// parseAddrs reads the IP addresses of a list; what is not one is skipped.
func parseAddrs(list, sep string) []netip.Addr {
	var out []netip.Addr
	for _, f := range strings.Split(list, sep) {
		if a, err := netip.ParseAddr(strings.TrimSpace(f)); err == nil && len(out) < maxDNS {
			out = append(out, a)
		}
	}
	return out
}

// readDhclient reads the last lease block of an ISC dhclient lease file.
func readDhclient(s string) (*Lease, error) {
	var last, cur *Lease
	depth := 0
	for _, st := range dhclientStatements(s) {
		switch {
		case strings.HasSuffix(st, " {"):
			depth++
			if depth == 1 && (st == "lease {" || st == "lease6 {") {
				cur = &Lease{}
			}
		case st == "}":
			if depth--; depth <= 0 {
				depth = 0
				if cur != nil {
					last = cur
				}
				cur = nil
			}
		case cur == nil:
		case strings.HasPrefix(st, "option dhcp-server-identifier "):
			if a, err := netip.ParseAddr(strings.TrimSpace(strings.TrimPrefix(st, "option dhcp-server-identifier "))); err == nil {
				cur.Server = a
			}
		case strings.HasPrefix(st, "option domain-name-servers "):
			cur.DNS = parseAddrs(strings.TrimPrefix(st, "option domain-name-servers "), ",")
		case strings.HasPrefix(st, "option dhcp6.name-servers "):
			cur.DNS = append(cur.DNS, parseAddrs(strings.TrimPrefix(st, "option dhcp6.name-servers "), ",")...)
		case strings.HasPrefix(st, "interface "):
			cur.Interface = unquoteShell(strings.TrimSpace(strings.TrimPrefix(st, "interface ")))
		case strings.HasPrefix(st, "option vivso "):
			b, err := dhclientValue(strings.TrimPrefix(st, "option vivso "))
			if err != nil {
				return nil, fmt.Errorf("lease: option vivso: %w", err)
			}
			if cur.V4, err = ParseV4(b); err != nil {
				return nil, fmt.Errorf("lease: %w", err)
			}
		case strings.HasPrefix(st, "option dhcp6.vendor-opts "):
			b, err := dhclientValue(strings.TrimPrefix(st, "option dhcp6.vendor-opts "))
			if err != nil {
				return nil, fmt.Errorf("lease: option dhcp6.vendor-opts: %w", err)
			}
			if cur.V6, err = ParseV6(b); err != nil {
				return nil, fmt.Errorf("lease: %w", err)
			}
		}
	}
	if last == nil {
		return &Lease{}, nil
	}
	return last, nil
}

// dhclientStatements splits a lease file into statements: "lease {", "}",
// and each "…;" without its semicolon, outside quoted strings.
func dhclientStatements(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	flush := func(extra string) {
		if t := strings.TrimSpace(strings.TrimSpace(cur.String()) + extra); t != "" {
			out = append(out, t)
		}
		cur.Reset()
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
			cur.WriteByte(c)
		case inQuote:
			cur.WriteByte(c)
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == ';':
			flush("")
		case c == '{':
			flush(" {")
		case c == '}':
			flush("")
			out = append(out, "}")
		case c == '\n' || c == '\t' || c == '\r':
			cur.WriteByte(' ')
		default:
			cur.WriteByte(c)
		}
	}
	return out
}

// dhclientValue decodes an option value as dhclient writes it: hex bytes
// separated by colons, or a quoted string with C-style escapes.
func dhclientValue(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		if len(v) < 2 || !strings.HasSuffix(v, `"`) {
			return nil, errors.New("unterminated string")
		}
		return unescapeC(v[1 : len(v)-1])
	}
	var out []byte
	for _, h := range strings.Split(v, ":") {
		n, err := strconv.ParseUint(h, 16, 8)
		if err != nil {
			return nil, fmt.Errorf("%q is not a hex byte", h)
		}
		out = append(out, byte(n))
	}
	return out, nil
}

func unescapeC(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		if i+1 >= len(s) {
			return nil, errors.New("a trailing backslash")
		}
		i++
		switch c := s[i]; {
		case c >= '0' && c <= '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			n, _ := strconv.ParseUint(s[i:j], 8, 16)
			if n > 255 {
				return nil, fmt.Errorf("octal escape \\%s is above 255", s[i:j])
			}
			out = append(out, byte(n))
			i = j - 1
		case c == 'n':
			out = append(out, '\n')
		case c == 't':
			out = append(out, '\t')
		case c == 'r':
			out = append(out, '\r')
		case c == 'x' && i+2 < len(s):
			n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("hex escape: %w", err)
			}
			out = append(out, byte(n))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out, nil
}
