package ipdiag

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/uspkit/uspkit/datamodel"
)

// maxLookups bounds NumberOfRepetitions, and so the Result rows.
const maxLookups = 1000

// resolvConf is where the host's default DNS server is read from.
const resolvConf = "/etc/resolv.conf"

// nsLookup is Device.DNS.Diagnostics.NSLookupDiagnostics():
// NumberOfRepetitions A and AAAA queries for HostName to DNSServer (a host
// name or IP address, optionally with ":port"; empty: the host's first
// nameserver), each waiting up to Timeout ms.
func (d *Diag) nsLookup(ctx context.Context, in args, w datamodel.ResponseWriter) error {
	reps := min(in.uint("NumberOfRepetitions", 1), maxLookups)
	timeout := ms(in.uint("Timeout", 5000))
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ifname, err := d.ifName(ctx, in)
	if err != nil {
		d.log.Warn("diagnostics: interface", "err", err)
		w.SetValue("Status", "Error_Other")
		return nil
	}
	server, err := dnsServer(ctx, in.str("DNSServer"))
	if err != nil {
		d.log.Warn("diagnostics: DNS server", "server", in.str("DNSServer"), "err", err)
		w.SetValue("Status", "Error_DNSServerNotResolved")
		return nil
	}
	name := dns.Fqdn(in.str("HostName"))
	if _, ok := dns.IsDomainName(name); !ok {
		w.SetValue("Status", "Error_Other")
		return nil
	}
	cl := &dns.Client{Timeout: timeout, Dialer: &net.Dialer{Timeout: timeout, Control: bindControl(ifname, 0)}}
	ok := 0
	for i := uint64(0); i < reps; i++ {
		r := d.lookupOnce(ctx, cl, server, name)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if r.status == "Success" {
			ok++
		}
		p := "Result." + strconv.FormatUint(i+1, 10) + "."
		w.SetValue(p+"Status", r.status)
		w.SetValue(p+"AnswerType", r.answer)
		w.SetValue(p+"HostNameReturned", r.name)
		w.SetValue(p+"IPAddresses", strings.Join(r.addrs, ","))
		host, _, _ := net.SplitHostPort(server)
		w.SetValue(p+"DNSServerIP", host)
		w.SetValue(p+"ResponseTime", msText(r.rtt))
	}
	w.SetValue("Status", "Complete")
	w.SetValue("SuccessCount", strconv.Itoa(ok))
	return nil
}

// dnsServer returns host:port of the server to ask.
func dnsServer(ctx context.Context, s string) (string, error) {
	if s == "" {
		cfg, err := dns.ClientConfigFromFile(resolvConf)
		if err != nil || len(cfg.Servers) == 0 {
			return "", errors.Join(errors.New("no nameserver in "+resolvConf), err)
		}
		return net.JoinHostPort(cfg.Servers[0], cfg.Port), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), "53"
	}
	ip, err := resolve(ctx, host, "Any")
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(ip.String(), port), nil
}

type lookup struct {
	status, answer, name string
	addrs                []string
	rtt                  time.Duration
}

func (d *Diag) lookupOnce(ctx context.Context, cl *dns.Client, server, name string) lookup {
	r := lookup{answer: "None"}
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		m := new(dns.Msg)
		m.SetQuestion(name, qt)
		resp, rtt, err := exchange(ctx, cl, m, server)
		r.rtt += rtt
		if err != nil {
			var ne net.Error
			switch {
			case ctx.Err() != nil:
			case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded):
				r.status = "Error_Timeout"
			default:
				r.status = "Error_DNSServerNotAvailable"
			}
			return r
		}
		if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
			r.status = "Error_Other"
			return r
		}
		for _, rr := range resp.Answer {
			switch a := rr.(type) {
			case *dns.A:
				r.addrs = append(r.addrs, a.A.String())
				r.name = strings.TrimSuffix(a.Hdr.Name, ".")
			case *dns.AAAA:
				r.addrs = append(r.addrs, a.AAAA.String())
				r.name = strings.TrimSuffix(a.Hdr.Name, ".")
			}
		}
		if len(resp.Answer) > 0 {
			if resp.Authoritative {
				r.answer = "Authoritative"
			} else if r.answer == "None" {
				r.answer = "NonAuthoritative"
			}
		}
	}
	if len(r.addrs) == 0 {
		r.status, r.answer = "Error_HostNameNotResolved", "None"
		return r
	}
	r.status = "Success"
	return r
}

// exchange asks server one question and waits up to the client's Timeout
// for the answer; the context's end (a Cancel()) interrupts the wait.
func exchange(ctx context.Context, cl *dns.Client, m *dns.Msg, server string) (*dns.Msg, time.Duration, error) {
	co, err := cl.DialContext(ctx, server)
	if err != nil {
		return nil, 0, err
	}
	defer co.Close()
	start := time.Now()
	co.SetDeadline(start.Add(cl.Timeout)) // before the cancel hook, which may move it
	stop := context.AfterFunc(ctx, func() { co.SetDeadline(time.Now()) })
	defer stop()
	if err := co.WriteMsg(m); err != nil {
		return nil, 0, err
	}
	for {
		r, err := co.ReadMsg()
		if err != nil {
			return nil, time.Since(start), err
		}
		if r.Id == m.Id { // others answer earlier questions that timed out
			return r, time.Since(start), nil
		}
	}
}
