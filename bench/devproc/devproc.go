// Package devproc starts `phantom dev` — every Phantom-DB service in one
// process, each on its own loopback port and talking to the others over
// its network API — on a fresh data directory and free ports, for
// benchmarks that measure it next to a peer system. Authentication is off
// (`--auth none`): the instance is throwaway and listens on 127.0.0.1 only.
package devproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Ports is how many consecutive ports `phantom dev --port-base` takes;
// PGPortOffset is the PostgreSQL protocol port's offset from the base.
const (
	Ports        = 11
	PGPortOffset = 8
)

// Options configure a dev process.
type Options struct {
	// Bin is the phantom binary.
	Bin string
	// Dir receives the process log (Dir/phantom.log) and, unless DataDir
	// is set, the data directory (Dir/phantom-data).
	Dir string
	// DataDir is dev's --data-dir (default Dir/phantom-data); an existing
	// one is reused.
	DataDir string
	// Args are extra flags for `phantom dev`.
	Args []string
	// StartTimeout bounds the wait until SQL is served (default 60 s).
	StartTimeout time.Duration
	// LogLevel is dev's --log-level (default warn).
	LogLevel string
	// StatementTimeout is dev's --statement-timeout; 0 keeps dev's default
	// (30 s). A bulk load's COMMIT may need longer.
	StatementTimeout time.Duration
}

// Dev is a running `phantom dev`.
type Dev struct {
	// PGPort is the PostgreSQL protocol port on 127.0.0.1.
	PGPort int
	// LogPath is the file receiving the process's output.
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// Start starts `phantom dev` and returns once it answers SELECT 1 over the
// PostgreSQL protocol.
func Start(ctx context.Context, o Options) (_ *Dev, err error) {
	if o.StartTimeout <= 0 {
		o.StartTimeout = 60 * time.Second
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	base, err := FreePortBase(Ports)
	if err != nil {
		return nil, err
	}
	d := &Dev{PGPort: base + PGPortOffset, LogPath: filepath.Join(o.Dir, "phantom.log"), done: make(chan struct{})}
	f, err := os.Create(d.LogPath)
	if err != nil {
		return nil, fmt.Errorf("devproc: %w", err)
	}
	if o.DataDir == "" {
		o.DataDir = filepath.Join(o.Dir, "phantom-data")
	}
	args := []string{"dev",
		"--data-dir", o.DataDir,
		"--port-base", strconv.Itoa(base),
		"--auth", "none",
		"--log-level", o.LogLevel}
	if o.StatementTimeout > 0 {
		args = append(args, "--statement-timeout", o.StatementTimeout.String())
	}
	args = append(args, o.Args...)
	d.cmd = exec.Command(o.Bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = f, f
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("devproc: start %s: %w", o.Bin, err)
	}
	go func() {
		_ = d.cmd.Wait()
		f.Close()
		close(d.done)
	}()
	defer func() {
		if err != nil {
			d.Stop()
		}
	}()
	deadline := time.Now().Add(o.StartTimeout)
	for {
		var c *pgconn.PgConn
		if c, err = pgconn.Connect(ctx, d.DSN("phantom")); err == nil {
			err = c.Exec(ctx, "SELECT 1").Close()
			c.Close(ctx)
			if err == nil {
				return d, nil
			}
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("devproc: dev exited during start (see %s)", d.LogPath)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("devproc: not serving SQL within %s: %w (see %s)", o.StartTimeout, err, d.LogPath)
		}
	}
}

// DSN returns a connection string for the default database as user
// (any name: authentication is off).
func (d *Dev) DSN(user string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/phantom?sslmode=disable", user, d.PGPort)
}

// Exited reports whether the process has exited.
func (d *Dev) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Stop stops the process (SIGTERM, then SIGKILL of its process group after
// 10 s) and waits for it.
func (d *Dev) Stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

// FreePortBase returns p such that p..p+n-1 were free on 127.0.0.1 a
// moment ago.
func FreePortBase(n int) (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("devproc: free port: %w", err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base+n > 65535 {
			continue
		}
		ok := true
		var ls []net.Listener
		for i := range n {
			li, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, li)
		}
		for _, li := range ls {
			li.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("devproc: no run of free ports found")
}
