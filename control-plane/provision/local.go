package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// LocalConfig configures Local.
type LocalConfig struct {
	// Binary is the phantom executable. Default $PHANTOM_BIN, else the
	// running executable.
	Binary string
	// LogService, PageServer and ControlPlane are passed to the compute as
	// --logservice, --pageserver and --control-plane. Required.
	LogService   string
	PageServer   string
	ControlPlane string
	// NATSURL is passed as --nats-url (heartbeats and load reports).
	NATSURL string
	// Host is the address computes listen on. Default 127.0.0.1.
	Host string
	// LogDir receives one <instance>.log per compute (stderr and stdout).
	// Default: a new temporary directory.
	LogDir string
	// ExtraArgs are appended to every compute's arguments (e.g.
	// "--log-level", "warn").
	ExtraArgs []string
	// Env is added to every compute's environment (on top of this
	// process's), e.g. PHANTOM_CONTROL_PLANE_TOKEN=....
	Env []string
	// ReadyTimeout bounds the wait for /healthz. Default 60 s.
	ReadyTimeout time.Duration
	// DrainGrace is the time between marking an instance draining and
	// SIGTERM, so proxies see the change first. Default 1 s.
	DrainGrace time.Duration
	// StopTimeout is how long a compute may take to exit after SIGTERM
	// before SIGKILL. Default 30 s.
	StopTimeout time.Duration
	// OnChange is called (from any goroutine, without locks held) after an
	// instance of endpoint changes state or exits.
	OnChange func(endpoint string)
	// Logger receives lifecycle logs. Default slog.Default().
	Logger *slog.Logger
}

// Local runs computes as child processes on loopback.
type Local struct {
	cfg LocalConfig

	mu     sync.Mutex
	seq    uint64
	procs  map[string]*localProc
	closed bool
}

type localProc struct {
	inst   Instance
	cmd    *exec.Cmd
	exited chan struct{}
	logf   *os.File
}

// NewLocal checks cfg and returns a Local provisioner.
func NewLocal(cfg LocalConfig) (*Local, error) {
	if cfg.Binary == "" {
		cfg.Binary = os.Getenv("PHANTOM_BIN")
	}
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("provision: find the phantom binary: %w", err)
		}
		cfg.Binary = exe
	}
	if cfg.LogService == "" || cfg.PageServer == "" || cfg.ControlPlane == "" {
		return nil, errors.New("provision: LogService, PageServer and ControlPlane are required")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.LogDir == "" {
		d, err := os.MkdirTemp("", "phantom-computes-")
		if err != nil {
			return nil, fmt.Errorf("provision: log dir: %w", err)
		}
		cfg.LogDir = d
	} else if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("provision: log dir: %w", err)
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 60 * time.Second
	}
	if cfg.DrainGrace == 0 {
		cfg.DrainGrace = time.Second
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Local{cfg: cfg, procs: map[string]*localProc{}}, nil
}

// freeAddr answers a loopback address whose port was free a moment ago.
func freeAddr(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Start launches `phantom compute` for spec and waits for its /healthz. A
// port taken between choosing and binding it is retried on new ports.
func (l *Local) Start(ctx context.Context, spec Spec) (Instance, error) {
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		inst, err := l.start(ctx, spec)
		if err == nil {
			return inst, nil
		}
		last = err
		if !errors.Is(err, errExitedEarly) || ctx.Err() != nil {
			break
		}
	}
	return Instance{}, last
}

var errExitedEarly = errors.New("compute exited before it was ready")

func (l *Local) start(ctx context.Context, spec Spec) (Instance, error) {
	httpAddr, err := freeAddr(l.cfg.Host)
	if err != nil {
		return Instance{}, fmt.Errorf("provision: pick a port: %w", err)
	}
	pgAddr, err := freeAddr(l.cfg.Host)
	if err != nil {
		return Instance{}, fmt.Errorf("provision: pick a port: %w", err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return Instance{}, errors.New("provision: closed")
	}
	l.seq++
	id := spec.Endpoint + "-c" + strconv.FormatUint(l.seq, 10)
	l.mu.Unlock()

	args := []string{"compute", "--node-id", id, "--http-addr", httpAddr, "--pg-addr", pgAddr,
		"--logservice", l.cfg.LogService, "--pageserver", l.cfg.PageServer, "--control-plane", l.cfg.ControlPlane,
		"--tenant", spec.Tenant, "--database", spec.Database, "--endpoint", spec.Endpoint}
	if l.cfg.NATSURL != "" {
		args = append(args, "--nats-url", l.cfg.NATSURL)
	}
	args = append(args, l.cfg.ExtraArgs...)
	logf, err := os.Create(filepath.Join(l.cfg.LogDir, id+".log"))
	if err != nil {
		return Instance{}, fmt.Errorf("provision: compute log: %w", err)
	}
	cmd := exec.Command(l.cfg.Binary, args...)
	cmd.Env = append(os.Environ(), l.cfg.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return Instance{}, fmt.Errorf("provision: start %s: %w", l.cfg.Binary, err)
	}
	p := &localProc{cmd: cmd, exited: make(chan struct{}), logf: logf,
		inst: Instance{ID: id, Endpoint: spec.Endpoint, HTTPAddr: httpAddr, PGAddr: pgAddr, State: StateStarting, StartedAt: time.Now().UTC(),
			PID: cmd.Process.Pid}}
	l.mu.Lock()
	l.procs[id] = p
	l.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		l.mu.Lock()
		delete(l.procs, id)
		l.mu.Unlock()
		close(p.exited)
		l.cfg.Logger.Info("compute exited", "compute", id, "endpoint", spec.Endpoint, "state", cmd.ProcessState.String())
		l.changed(spec.Endpoint)
	}()
	l.cfg.Logger.Info("compute starting", "compute", id, "endpoint", spec.Endpoint, "http", httpAddr, "pg", pgAddr)
	l.changed(spec.Endpoint)

	if err := l.waitReady(ctx, p); err != nil {
		l.kill(p)
		return Instance{}, fmt.Errorf("provision: compute %s: %w\n%s", id, err, tail(filepath.Join(l.cfg.LogDir, id+".log")))
	}
	l.mu.Lock()
	p.inst.State = StateReady
	p.inst.ReadyAt = time.Now().UTC()
	inst := p.inst
	l.mu.Unlock()
	l.cfg.Logger.Info("compute ready", "compute", id, "endpoint", spec.Endpoint, "after", inst.ReadyAt.Sub(inst.StartedAt))
	l.changed(spec.Endpoint)
	return inst, nil
}

func (l *Local) waitReady(ctx context.Context, p *localProc) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	url := "http://" + p.inst.HTTPAddr + "/healthz"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return errExitedEarly
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (l *Local) kill(p *localProc) {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func (l *Local) changed(endpoint string) {
	if l.cfg.OnChange != nil {
		l.cfg.OnChange(endpoint)
	}
}

// Drain marks the instance draining, waits DrainGrace, sends SIGTERM and
// waits for the exit (SIGKILL after StopTimeout or when ctx ends).
func (l *Local) Drain(ctx context.Context, id string) error {
	l.mu.Lock()
	p, ok := l.procs[id]
	if ok {
		p.inst.State = StateDraining
	}
	l.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	l.cfg.Logger.Info("compute draining", "compute", id, "endpoint", p.inst.Endpoint)
	l.changed(p.inst.Endpoint)
	select {
	case <-time.After(l.cfg.DrainGrace):
	case <-p.exited:
		return nil
	case <-ctx.Done():
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(l.cfg.StopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	l.cfg.Logger.Warn("compute did not exit after SIGTERM; killing", "compute", id)
	l.kill(p)
	return nil
}

// Kill stops instance id at once with SIGKILL and waits for its exit: the
// autoscaler's answer to a compute the membership declared dead (it missed
// its heartbeats, so it may hang rather than exit). The exit is reported
// through OnChange like any other.
func (l *Local) Kill(id string) error {
	l.mu.Lock()
	p, ok := l.procs[id]
	l.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	l.cfg.Logger.Warn("killing compute", "compute", id, "endpoint", p.inst.Endpoint)
	l.kill(p)
	return nil
}

// Instances lists the computes of endpoint ("" for all), oldest first.
func (l *Local) Instances(endpoint string) []Instance {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []Instance{}
	for _, p := range l.procs {
		if endpoint == "" || p.inst.Endpoint == endpoint {
			out = append(out, p.inst)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out
}

// LogPath is the file holding the output of compute id.
func (l *Local) LogPath(id string) string { return filepath.Join(l.cfg.LogDir, id+".log") }

// Close drains every compute concurrently.
func (l *Local) Close() error {
	l.mu.Lock()
	l.closed = true
	ids := make([]string, 0, len(l.procs))
	for id := range l.procs {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = l.Drain(context.Background(), id)
		}()
	}
	wg.Wait()
	return nil
}

// tail answers the last 2 KiB of a log file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(bytes.TrimSpace(b))
}
