package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// One PostgreSQL serves the tests of this binary, each test in a database
// of its own. It starts on first use (a run of tests that need none
// starts none) and stops with the test process, however that exits
// (Main's os.Exit, a panic, a -timeout): the server is the child
// of a small reaper shell, in a process group of its own, whose stdin is
// a pipe whose write end only this process holds. When the kernel closes
// that pipe, at our exit, the reaper sends the server SIGINT (a fast
// shutdown), SIGKILLs its process group if it is not gone within ten
// seconds, and removes its directory. Nothing here starts a goroutine, so
// the leak check of Main is not disturbed.
//
// PostgreSQL refuses to run as root: when the tests do, the reaper, initdb
// and the server run as the user "nobody", in a directory of theirs.
var sharedPG struct {
	mu  sync.Mutex
	s   *PostgresServer
	err error
}

// server is a PostgreSQL server listening on 127.0.0.1 and on a unix
// socket in its directory, with trust authentication for "postgres".
type PostgresServer struct {
	bin  string              // directory of initdb and postgres
	dir  string              // data/, sock/, server.log; owned by cred
	cred *syscall.Credential // whom the server runs as; nil: as we do
	env  []string
	port int

	Initdb  time.Duration // how long initdb took
	Startup time.Duration // how long the last start took, until it accepted connections

	mu  sync.Mutex
	g   *reaper // nil while stopped
	pid int     // the postmaster's
	dbs int     // databases created, for unique names
}

// reaper is the shell that runs the server and stops it when its stdin
// reaches end of file.
type reaper struct {
	cmd  *exec.Cmd
	pipe *os.File // the write end of its stdin
}

// Postgres returns the sharedPG server, starting it if need be; it
// skips the test when PostgreSQL is not installed (fails it when
// USP_REQUIRE_EXTERNAL=1).
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	bin := postgresBin(t)
	sharedPG.mu.Lock()
	defer sharedPG.mu.Unlock()
	if sharedPG.s == nil && sharedPG.err == nil {
		sharedPG.s, sharedPG.err = newServer(t, bin)
		if sharedPG.err == nil {
			t.Logf("PostgreSQL: initdb took %v, the server started in %v; 127.0.0.1:%d, socket %s",
				sharedPG.s.Initdb.Round(time.Millisecond), sharedPG.s.Startup.Round(time.Millisecond),
				sharedPG.s.port, sharedPG.s.SockDir())
		}
	}
	if sharedPG.err != nil {
		t.Fatalf("PostgreSQL: %v", sharedPG.err)
	}
	return sharedPG.s
}

// OwnPostgres starts a server for t alone, stopped and removed at its end,
// for tests that kill it.
func OwnPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	s, err := newServer(t, postgresBin(t))
	if err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("stopping PostgreSQL: %v", err)
		}
	})
	return s
}

// postgresBin finds the directory of initdb and postgres: on the PATH,
// else where Debian and Ubuntu's postgresql packages put them.
func postgresBin(t testing.TB) string {
	t.Helper()
	dirs := []string{"/usr/lib/postgresql/15/bin"}
	more, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Reverse(more) // newest first, as the names sort
	initdb := LookPath(t, "initdb", "postgresql", append(dirs, more...)...)
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real
	}
	dir := filepath.Dir(initdb)
	if _, err := os.Stat(filepath.Join(dir, "postgres")); err != nil {
		t.Fatalf("PostgreSQL: initdb is in %s but postgres is not: %v", dir, err)
	}
	return dir
}

// newServer runs initdb in a new directory and starts the server on a
// free port.
func newServer(t testing.TB, bin string) (*PostgresServer, error) {
	s := &PostgresServer{bin: bin, env: serverEnv(), port: FreePort(t)}
	var err error
	if s.cred, err = serverUser(); err != nil {
		return nil, err
	}
	if s.dir, err = os.MkdirTemp("", "uspkit-postgres-"); err != nil {
		return nil, err
	}
	if err := s.initdb(); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	if err := s.Start(); err != nil {
		os.RemoveAll(s.dir)
		return nil, err
	}
	return s, nil
}

// serverUser returns nil when we are not root, else the credentials of
// "nobody", as PostgreSQL will not run as root.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root and no user to run PostgreSQL as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// serverEnv is our environment without the PG* variables that would
// point initdb or the server elsewhere.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, "LC_ALL=C")
}

func (s *PostgresServer) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *PostgresServer) SockDir() string { return filepath.Join(s.dir, "sock") }
func (s *PostgresServer) logPath() string { return filepath.Join(s.dir, "server.log") }

// initdb hands the directory to the server's user and creates the
// cluster: superuser "postgres", trust authentication, UTF-8, C locale.
// --no-sync only skips flushing the new files, which a crash of the
// server (as opposed to the machine) does not need.
func (s *PostgresServer) initdb() error {
	if err := os.Mkdir(s.SockDir(), 0o700); err != nil {
		return err
	}
	if s.cred != nil {
		for _, d := range []string{s.dir, s.SockDir()} {
			if err := os.Chown(d, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
				return err
			}
		}
	}
	start := time.Now()
	cmd := exec.Command(filepath.Join(s.bin, "initdb"), "-D", s.dataDir(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir, cmd.Env = s.dir, s.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	s.Initdb = time.Since(start)
	return nil
}

// reaperScript runs the server ("$@") in a session and process group of
// its own (setsid), so that it can be killed apart from the shell, which
// then reaps it; see the comment on sharedPG. At end of input it asks the
// server for a fast shutdown, gives it ten seconds to remove its lock
// file (the last thing it does), SIGKILLs whatever is left of its group
// and removes the directory. A line "killed" says the server's group was
// SIGKILLed already and its directory is to stay, for a restart.
const reaperScript = `setsid "$@" &
pg=$!
read how
if [ "$how" != killed ]; then
	kill -s INT $pg
	i=0
	while [ -e "$USPKIT_POSTGRES_DIR/data/postmaster.pid" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i+1))
	done
fi
kill -s KILL -- -$pg 2>/dev/null
wait $pg
[ "$how" = killed ] || rm -rf "$USPKIT_POSTGRES_DIR"
`

// start starts the server on the directory and waits until it accepts
// connections; a restart after kill uses the same port.
func (s *PostgresServer) Start() error {
	log, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	offset, err := log.Seek(0, 2)
	if err != nil {
		return err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	begin := time.Now()
	cmd := exec.Command("/bin/sh", "-c", reaperScript, "sh", filepath.Join(s.bin, "postgres"), "-D", s.dataDir(),
		"-p", strconv.Itoa(s.port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.SockDir(),
		"-c", "max_connections=200", "-c", "lc_messages=C")
	cmd.Dir, cmd.Env = s.dir, append(s.env, "USPKIT_POSTGRES_DIR="+s.dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, log, log
	// A process group of its own, so that a ^C at the terminal reaches
	// only us and the reaper stays to stop the server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.cred}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return err
	}
	g := &reaper{cmd: cmd, pipe: pw}
	if err := s.waitReady(offset, 60*time.Second); err != nil {
		g.pipe.Close()
		g.cmd.Wait()
		return err
	}
	pid, err := s.postmasterPID()
	if err != nil {
		g.pipe.Close()
		g.cmd.Wait()
		return err
	}
	s.mu.Lock()
	s.g, s.pid = g, pid
	s.mu.Unlock()
	s.Startup = time.Since(begin)
	return nil
}

// waitReady waits until the server logs, after offset, that it accepts
// connections, and fails as soon as it logs a FATAL or PANIC error.
func (s *PostgresServer) waitReady(offset int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile(s.logPath())
		if err != nil {
			return err
		}
		data = data[min(offset, int64(len(data))):]
		switch {
		case bytes.Contains(data, []byte("ready to accept connections")):
			return nil
		case bytes.Contains(data, []byte("FATAL:")) || bytes.Contains(data, []byte("PANIC:")):
			return fmt.Errorf("the server failed to start:\n%s", data)
		case time.Now().After(deadline):
			return fmt.Errorf("the server is not ready after %v:\n%s", timeout, data)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// postmasterPID reads the postmaster's PID, the first line of its lock
// file.
func (s *PostgresServer) postmasterPID() (int, error) {
	data, err := os.ReadFile(filepath.Join(s.dataDir(), "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strconv.Atoi(line)
}

// kill SIGKILLs every process of the server, as a crash would, and waits
// until they are gone; the directory stays for a restart with start.
func (s *PostgresServer) Kill() error {
	s.mu.Lock()
	g, pid := s.g, s.pid
	s.g = nil
	s.mu.Unlock()
	if g == nil {
		return nil
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -KILL -%d: %w", pid, err)
	}
	return g.finish(true, pid)
}

// stop stops the server (SIGINT, a fast shutdown) and removes its
// directory.
func (s *PostgresServer) stop() error {
	s.mu.Lock()
	g, pid := s.g, s.pid
	s.g = nil
	s.mu.Unlock()
	if g == nil {
		return os.RemoveAll(s.dir)
	}
	return g.finish(false, pid)
}

// finish tells the reaper whether the server was killed, waits until it
// is done, and then until every process of the server's group has exited
// (the postmaster's children go to init, which reaps them or leaves them
// zombies, which hold nothing that a restart needs).
func (g *reaper) finish(killed bool, pid int) error {
	if killed {
		g.pipe.WriteString("killed\n")
	}
	g.pipe.Close()
	err := g.cmd.Wait()
	if err2 := waitGroupExited(pid, 10*time.Second); err == nil {
		err = err2
	}
	return err
}

// waitGroupExited waits until no process of group pgid is running,
// reading /proc (a zombie counts as exited, and kill(-pgid, 0) would
// count it as running).
func waitGroupExited(pgid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if !groupRunning(pgid) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process group %d still running after %v", pgid, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func groupRunning(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold anything, so
		// the fields are counted after its last ')'.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) >= 3 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// dsn is the connection string for database db over TCP.
func (s *PostgresServer) DSN(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", s.port, db)
}

// newDatabase creates an empty database for t, dropped at its end, and
// returns its name.
func (s *PostgresServer) NewDatabase(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.dbs++
	name := fmt.Sprintf("usp_%d", s.dbs)
	s.mu.Unlock()
	s.admin(t, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		s.mu.Lock()
		running := s.g != nil
		s.mu.Unlock()
		if running {
			s.admin(t, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		}
	})
	return name
}

// admin runs sql in the postgres database.
func (s *PostgresServer) admin(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("PostgreSQL: %s: %v", sql, err)
	}
}

// Port returns the server's TCP port (its unix socket uses the same
// number).
func (s *PostgresServer) Port() int { return s.port }
