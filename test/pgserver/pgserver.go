// Package pgserver starts a throwaway PostgreSQL server from the binaries
// on the machine (Debian's postgresql-15 at /usr/lib/postgresql/<v>/bin, or
// whatever pg_config --bindir names), for recording expected SQL answers
// and for benchmarks that measure PostgreSQL next to Phantom-DB in the same
// run. The server listens on 127.0.0.1 on a free port, with trust
// authentication, and is removed with its data directory by Stop.
//
// PostgreSQL refuses to run as root; when this process is root, initdb and
// postgres run as the "postgres" user (or "nobody") instead.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options configure a server.
type Options struct {
	// BinDir holds initdb and postgres; empty means PHANTOM_PG_BIN, then
	// pg_config --bindir, then the newest /usr/lib/postgresql/*/bin.
	BinDir string
	// Fsync keeps PostgreSQL's durability settings (fsync, synchronous
	// commit) on; off is faster for recording answers, on is fair for
	// benchmarks.
	Fsync bool
	// Settings are extra "name=value" server settings (-c).
	Settings []string
	// Log receives the server's output; nil discards it.
	Log *os.File
}

// NoFsyncSettings are the settings a server without Options.Fsync runs
// with.
var NoFsyncSettings = []string{"fsync=off", "synchronous_commit=off", "full_page_writes=off"}

// Server is a running PostgreSQL.
type Server struct {
	// Port is the TCP port on 127.0.0.1.
	Port int
	dir  string
	cmd  *exec.Cmd
	done chan error
}

// FindBinDir returns the directory of the PostgreSQL server binaries.
func FindBinDir() (string, error) {
	if d := os.Getenv("PHANTOM_PG_BIN"); d != "" {
		return d, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("pgserver: no PostgreSQL server binaries found (install postgresql-15 or set PHANTOM_PG_BIN)")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initialises a fresh cluster in a temporary directory and starts
// PostgreSQL on it, returning once it accepts connections.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin := opts.BinDir
	if bin == "" {
		var err error
		if bin, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "phantom-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	s := &Server{dir: dir, done: make(chan error, 1)}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgserver: initdb: %w\n%s", err, out))
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	s.Port = port
	args := []string{"-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "TimeZone=UTC"}
	if !opts.Fsync {
		for _, kv := range NoFsyncSettings {
			args = append(args, "-c", kv)
		}
	}
	for _, kv := range opts.Settings {
		args = append(args, "-c", kv)
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	if opts.Log != nil {
		s.cmd.Stdout, s.cmd.Stderr = opts.Log, opts.Log
	}
	if err := s.cmd.Start(); err != nil {
		return fail(fmt.Errorf("pgserver: start postgres: %w", err))
	}
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			c.Close()
			// Accepting TCP comes a moment before accepting sessions;
			// pg_isready-style polling is left to the first client's retry.
			return s, nil
		}
		select {
		case err := <-s.done:
			return fail(fmt.Errorf("pgserver: postgres exited during start: %v", err))
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, errors.New("pgserver: postgres did not listen within 30s")
		}
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// DSN returns a connection string for database db as user postgres.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", s.Addr(), db)
}

// Stop shuts the server down (fast shutdown, then SIGKILL after 10 s) and
// removes its directory.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	os.RemoveAll(s.dir)
}

// credential returns the user to run PostgreSQL as (nil: this process's)
// and gives it dir.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pgserver: running as root and no postgres or nobody user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgserver: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
