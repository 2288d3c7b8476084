package ipdiag

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"path"
	"strconv"
	"strings"
	"time"
)

// ftpTimeout bounds each reply of the FTP server.
const ftpTimeout = 30 * time.Second

// ftpSession is one FTP control connection (RFC 959) of a transfer test.
type ftpSession struct {
	ctx  context.Context
	c    net.Conn
	tp   *textproto.Conn
	x    *xfer
	sp   *transferSpec
	dl   *net.Dialer
	netw string
}

// ftpFail is a test's end with a TR-181 Status.
type ftpFail struct{ status, why string }

func (e *ftpFail) Error() string { return e.status + ": " + e.why }

// cmd sends a command and reads its reply; a reply whose code does not
// start with one of the digits in want fails with status.
func (s *ftpSession) cmd(status, want, format string, args ...any) (int, string, error) {
	deadline(s.ctx, s.c.SetDeadline, ftpTimeout)
	id, err := s.tp.Cmd(format, args...)
	if err != nil {
		return 0, "", &ftpFail{"Error_NoResponse", err.Error()}
	}
	s.tp.StartResponse(id)
	defer s.tp.EndResponse(id)
	return s.reply(status, want)
}

func (s *ftpSession) reply(status, want string) (int, string, error) {
	deadline(s.ctx, s.c.SetDeadline, ftpTimeout)
	code, msg, err := s.tp.ReadResponse(0)
	if err != nil {
		var pe textproto.ProtocolError
		if errors.As(err, &pe) || errors.Is(err, io.EOF) {
			return 0, "", &ftpFail{"Error_NoResponse", err.Error()}
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, "", &ftpFail{"Error_NoResponse", err.Error()}
		}
	}
	if !strings.ContainsRune(want, rune('0'+code/100)) {
		return code, msg, &ftpFail{status, fmt.Sprintf("%d %s", code, msg)}
	}
	return code, msg, nil
}

// ftpTransfer runs one connection of an FTP download (RETR) or upload
// (STOR) and fills x: TR-143 times its TCP open on the data connection,
// ROM at RETR or STOR, BOM and EOM at the data connection's first and last
// data.
func (d *Diag) ftpTransfer(ctx context.Context, sp *transferSpec, x *xfer) {
	if err := d.ftpRun(ctx, sp, x); err != nil {
		var f *ftpFail
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			x.status = "Error_Timeout"
		case errors.As(err, &f):
			x.status = f.status
		default:
			x.status = transferErr(ctx, err, sp.down)
		}
		d.log.Warn("diagnostics: FTP", "url", sp.url.Redacted(), "status", x.status, "err", err)
	}
}

func (d *Diag) ftpRun(ctx context.Context, sp *transferSpec, x *xfer) error {
	now := d.opt.Now
	s := &ftpSession{ctx: ctx, x: x, sp: sp, netw: "tcp" + network(sp.proto),
		dl: &net.Dialer{Control: sp.control(), Timeout: ftpTimeout}}
	host := sp.url.Host
	if sp.url.Port() == "" {
		host = net.JoinHostPort(sp.url.Hostname(), "21")
	}
	c, err := s.dl.DialContext(ctx, s.netw, host)
	if err != nil {
		return err
	}
	s.c = &countConn{Conn: c, x: x, down: sp.down, now: now}
	s.tp = textproto.NewConn(s.c)
	defer s.tp.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if err := s.login(); err != nil {
		return err
	}
	dir, file := path.Split(sp.url.Path)
	if !sp.down && dir != "" && dir != "/" {
		if _, _, err := s.cmd("Error_NoCWD", "2", "CWD %s", dir); err != nil {
			return err
		}
	}
	var size int64 = -1
	if sp.down {
		if _, msg, err := s.cmd("", "2", "SIZE %s", sp.url.Path); err == nil {
			size, _ = strconv.ParseInt(strings.TrimSpace(msg), 10, 64)
		}
	}
	data, err := s.passive(ctx)
	if err != nil {
		return err
	}
	defer data.Close()
	stopData := context.AfterFunc(ctx, func() { data.SetDeadline(time.Now()) })
	defer stopData()
	x.rom = now()
	if sp.down {
		_, _, err = s.cmd("Error_TransferFailed", "1", "RETR %s", sp.url.Path)
	} else {
		_, _, err = s.cmd("Error_NoSTOR", "1", "STOR %s", file)
	}
	if err != nil {
		return err
	}
	if sp.down {
		err = d.ftpReceive(ctx, sp, data, x, size)
	} else {
		err = d.ftpSend(ctx, sp, data, x)
	}
	data.Close()
	if err != nil {
		return err
	}
	status := "Error_NoTransferComplete"
	if sp.down {
		status = "Error_TransferFailed"
	}
	_, _, err = s.reply(status, "2")
	if err != nil && sp.duration > 0 {
		err = nil // a time-based test ends the transfer itself: the server may say so
	}
	if err == nil {
		s.cmd("", "2", "QUIT")
	}
	return err
}

// login greets, logs in (the URL's user and password, else anonymous)
// and asks for binary transfers.
func (s *ftpSession) login() error {
	if _, _, err := s.reply("Error_InitConnectionFailed", "2"); err != nil {
		return err
	}
	user, pass := "anonymous", "uspkit@"
	if u := s.sp.url.User; u != nil {
		user = u.Username()
		if p, ok := u.Password(); ok {
			pass = p
		}
	}
	code, _, err := s.cmd("Error_PasswordRequestFailed", "23", "USER %s", user)
	if err != nil {
		return err
	}
	if code/100 == 3 {
		if _, _, err := s.cmd("Error_LoginFailed", "2", "PASS %s", pass); err != nil {
			return err
		}
	}
	_, _, err = s.cmd("Error_NoTransferMode", "2", "TYPE I")
	return err
}

// passive opens the data connection: EPSV, then PASV (RFC 2428, 959).
func (s *ftpSession) passive(ctx context.Context) (net.Conn, error) {
	var addr string
	if _, msg, err := s.cmd("Error_NoPASV", "2", "EPSV"); err == nil {
		i, j := strings.Index(msg, "(|||"), strings.LastIndex(msg, "|)")
		if i < 0 || j < i+4 {
			return nil, &ftpFail{"Error_NoPASV", msg}
		}
		addr = net.JoinHostPort(s.sp.url.Hostname(), msg[i+4:j])
	} else {
		_, msg, err := s.cmd("Error_NoPASV", "2", "PASV")
		if err != nil {
			return nil, err
		}
		i, j := strings.IndexByte(msg, '('), strings.IndexByte(msg, ')')
		if i < 0 || j < i {
			return nil, &ftpFail{"Error_NoPASV", msg}
		}
		f := strings.Split(msg[i+1:j], ",")
		if len(f) != 6 {
			return nil, &ftpFail{"Error_NoPASV", msg}
		}
		hi, _ := strconv.Atoi(f[4])
		lo, _ := strconv.Atoi(f[5])
		// The server's own address, not the one it names: it may sit
		// behind NAT, and naming another host would bounce the data.
		addr = net.JoinHostPort(s.sp.url.Hostname(), strconv.Itoa(hi<<8|lo))
	}
	s.x.tcpReq = s.x.clock()
	c, err := s.dl.DialContext(ctx, s.netw, addr)
	if err != nil {
		return nil, &ftpFail{"Error_NoPASV", err.Error()}
	}
	s.x.tcpResp = s.x.clock()
	s.x.addr = c.LocalAddr().(*net.TCPAddr).IP.String()
	return &countConn{Conn: c, x: s.x, down: s.sp.down, now: s.x.clock}, nil
}

func (d *Diag) ftpReceive(ctx context.Context, sp *transferSpec, data net.Conn, x *xfer, size int64) error {
	now := d.opt.Now
	r := bufio.NewReaderSize(data, 64<<10)
	buf := make([]byte, 64<<10)
	var end time.Time
	for {
		deadline(ctx, data.SetReadDeadline, ftpTimeout)
		n, err := r.Read(buf)
		if n > 0 {
			t := now()
			if x.bom.IsZero() {
				x.bom, x.atBOM = t, readCounters(sp.ifname)
				sp.inc.began(t)
				if sp.duration > 0 {
					end = t.Add(sp.duration)
				}
			}
			x.eom = t
			x.body += uint64(n)
		}
		if !end.IsZero() && !x.eom.Before(end) {
			x.atEOM = readCounters(sp.ifname)
			return nil
		}
		if err == io.EOF {
			x.atEOM = readCounters(sp.ifname)
			if size >= 0 && x.body != uint64(size) {
				x.status = "Error_IncorrectSize"
				return &ftpFail{"Error_IncorrectSize", fmt.Sprintf("%d bytes, SIZE said %d", x.body, size)}
			}
			if x.bom.IsZero() {
				x.bom, x.eom = now(), now()
			}
			return nil
		}
		if err != nil {
			return &ftpFail{"Error_TransferFailed", err.Error()}
		}
	}
}

func (d *Diag) ftpSend(ctx context.Context, sp *transferSpec, data net.Conn, x *xfer) error {
	p := &payload{left: sp.length, timed: sp.duration, now: d.opt.Now, x: x, ifname: sp.ifname, inc: sp.inc}
	deadline(ctx, data.SetWriteDeadline, max(ftpTimeout, sp.duration+ftpTimeout))
	_, err := io.Copy(data, p)
	p.finish()
	if err != nil {
		return &ftpFail{"Error_NoTransferComplete", err.Error()}
	}
	if err := data.Close(); err != nil {
		return &ftpFail{"Error_NoTransferComplete", err.Error()}
	}
	x.eom, x.atEOM = d.opt.Now(), readCounters(sp.ifname)
	if x.bom.IsZero() {
		x.bom, x.atBOM = x.rom, x.atEOM
	}
	return nil
}

// deadline moves a connection's deadline d from now, unless ctx has
// ended: a cancel hook that ran before must not be undone.
func deadline(ctx context.Context, set func(time.Time) error, d time.Duration) {
	set(time.Now().Add(d))
	if ctx.Err() != nil {
		set(time.Now())
	}
}
