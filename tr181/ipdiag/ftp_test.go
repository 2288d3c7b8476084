package ipdiag_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ftpServer is a small FTP server (RFC 959 passive mode) with one file;
// fail names the commands ("USER", "PASS", "TYPE", "EPSV", "PASV", "CWD",
// "RETR", "STOR", "END" for the transfer's end; comma-separated) that it
// refuses.
type ftpServer struct {
	ln       net.Listener
	file     []byte
	fail     string
	short    bool // send half the file after announcing all of it
	mu       sync.Mutex
	uploaded int
	wg       sync.WaitGroup
}

func newFTPServer(t *testing.T, file []byte, fail string, short bool) *ftpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &ftpServer{ln: ln, file: file, fail: fail, short: short}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *ftpServer) url(path string) string {
	return "ftp://user:secret@" + s.ln.Addr().String() + path
}

func (s *ftpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(format string, args ...any) { fmt.Fprintf(c, format+"\r\n", args...) }
	say("220 test server")
	var pasv net.Listener
	defer func() {
		if pasv != nil {
			pasv.Close()
		}
	}()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if slices.Contains(strings.Split(s.fail, ","), cmd) {
			say("550 refused")
			continue
		}
		switch cmd {
		case "USER":
			say("331 password please")
		case "PASS":
			say("230 in")
		case "TYPE", "CWD":
			say("200 ok")
		case "SIZE":
			say("213 %d", len(s.file))
		case "EPSV", "PASV":
			pasv, _ = net.Listen("tcp", "127.0.0.1:0")
			port := pasv.Addr().(*net.TCPAddr).Port
			if cmd == "EPSV" {
				say("229 passive (|||%d|)", port)
			} else {
				say("227 passive (127,0,0,1,%d,%d)", port>>8, port&0xff)
			}
		case "RETR", "STOR":
			if pasv == nil {
				say("425 no data connection")
				continue
			}
			say("150 here it comes")
			d, err := pasv.Accept()
			if err != nil {
				return
			}
			if cmd == "RETR" {
				b := s.file
				if s.short {
					b = b[:len(b)/2]
				}
				d.Write(b)
			} else {
				n, _ := io.Copy(io.Discard, d)
				s.mu.Lock()
				s.uploaded += int(n)
				s.mu.Unlock()
			}
			d.Close()
			if slices.Contains(strings.Split(s.fail, ","), "END") {
				say("451 aborted")
			} else {
				say("226 done")
			}
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

func TestFTPDownload(t *testing.T) {
	file := []byte(strings.Repeat("0123456789", 100000))
	f := newFixture(t, nil)
	cases := []struct {
		fail   string
		short  bool
		conns  string
		status string
	}{
		{"", false, "2", "Complete"},
		{"EPSV", false, "1", "Complete"}, // falls back to PASV
		{"USER", false, "1", "Error_PasswordRequestFailed"},
		{"PASS", false, "1", "Error_LoginFailed"},
		{"TYPE", false, "1", "Error_NoTransferMode"},
		{"PASV", false, "1", "Complete"}, // EPSV serves
		{"RETR", false, "1", "Error_TransferFailed"},
		{"END", false, "1", "Error_TransferFailed"},
		{"", true, "1", "Error_IncorrectSize"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s short %v", tc.fail, tc.short), func(t *testing.T) {
			s := newFTPServer(t, file, tc.fail, tc.short)
			out := f.mustRun(t, "Device.IP.Diagnostics.DownloadDiagnostics()", map[string]string{"DownloadURL": s.url("/pub/file.bin"),
				"NumberOfConnections": tc.conns, "EnablePerConnectionResults": "true"})
			if out["Status"] != tc.status {
				t.Fatalf("Status %q, want %q: %v", out["Status"], tc.status, out)
			}
			if tc.status != "Complete" {
				return
			}
			n := atoi(t, tc.conns)
			if got := atoi(t, out["TestBytesReceived"]); got < n*len(file) || got > n*(len(file)+4096) {
				t.Errorf("TestBytesReceived %d for %d files of %d bytes", got, n, len(file))
			}
			checkTimes(t, out, "")
		})
	}
	t.Run("no passive mode", func(t *testing.T) {
		s := newFTPServer(t, file, "EPSV,PASV", false)
		out := f.mustRun(t, "Device.IP.Diagnostics.DownloadDiagnostics()", map[string]string{"DownloadURL": s.url("/f")})
		if out["Status"] != "Error_NoPASV" {
			t.Fatalf("%v", out)
		}
	})
}

func TestFTPUpload(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct{ fail, status string }{
		{"", "Complete"},
		{"CWD", "Error_NoCWD"},
		{"STOR", "Error_NoSTOR"},
		{"END", "Error_NoTransferComplete"},
	}
	for _, tc := range cases {
		t.Run(tc.fail, func(t *testing.T) {
			s := newFTPServer(t, nil, tc.fail, false)
			out := f.mustRun(t, "Device.IP.Diagnostics.UploadDiagnostics()", map[string]string{"UploadURL": s.url("/in/up.bin"),
				"TestFileLength": strconv.Itoa(300000)})
			if out["Status"] != tc.status {
				t.Fatalf("Status %q, want %q: %v", out["Status"], tc.status, out)
			}
			if tc.status == "Complete" {
				s.mu.Lock()
				defer s.mu.Unlock()
				if s.uploaded != 300000 || atoi(t, out["TestBytesSent"]) < 300000 {
					t.Errorf("server got %d, TestBytesSent %s", s.uploaded, out["TestBytesSent"])
				}
				checkTimes(t, out, "")
			}
		})
	}
}

// TestFTPPasswordNotLogged: the password of an FTP URL stays out of the
// log.
func TestFTPPasswordNotLogged(t *testing.T) {
	f := newFixture(t, nil)
	s := newFTPServer(t, []byte("x"), "PASS", false)
	out := f.mustRun(t, "Device.IP.Diagnostics.DownloadDiagnostics()", map[string]string{"DownloadURL": s.url("/f")})
	if out["Status"] != "Error_LoginFailed" {
		t.Fatalf("%v", out)
	}
	if log := f.log.String(); strings.Contains(log, "secret") || !strings.Contains(log, "Error_LoginFailed") {
		t.Errorf("log:\n%s", log)
	}
}
