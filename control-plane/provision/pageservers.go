package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// PageServerConfig configures LocalPageServers.
type PageServerConfig struct {
	// Binary is the phantom executable. Default $PHANTOM_BIN, else the
	// running executable.
	Binary string
	// LogService and ObjectStore are passed as --logservice and
	// --object-store. Required.
	LogService  string
	ObjectStore string
	// NATSURL is passed as --nats-url: the page server's heartbeats are how
	// computes find it. Required.
	NATSURL string
	// DataDir holds one <node id>/ data directory and <node id>.log per
	// page server. Required.
	DataDir string
	// Host is the address page servers listen on. Default 127.0.0.1.
	Host string
	// ExtraArgs are appended to every page server's arguments.
	ExtraArgs []string
	// ReadyTimeout bounds the wait for /healthz. Default 60 s.
	ReadyTimeout time.Duration
	// Logger receives lifecycle logs. Default slog.Default().
	Logger *slog.Logger
}

// LocalPageServers runs replacement page servers as child processes: each
// starts on an empty data directory and restores its shard from the object
// store (`--restore=lazy`: it serves at once and fetches files on first
// use), then follows the log.
type LocalPageServers struct {
	cfg PageServerConfig

	children
}

// NewLocalPageServers checks cfg.
func NewLocalPageServers(cfg PageServerConfig) (*LocalPageServers, error) {
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
	if cfg.LogService == "" || cfg.ObjectStore == "" || cfg.NATSURL == "" || cfg.DataDir == "" {
		return nil, errors.New("provision: page servers need LogService, ObjectStore, NATSURL and DataDir")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("provision: page server dir: %w", err)
	}
	return &LocalPageServers{cfg: cfg, children: newChildren()}, nil
}

// Start runs `phantom pageserver` for shard under node id and returns once
// its /healthz answers; it answers the gRPC address.
func (l *LocalPageServers) Start(ctx context.Context, id string, shard int) (string, error) {
	grpcAddr, err := freeAddr(l.cfg.Host)
	if err != nil {
		return "", fmt.Errorf("provision: pick a port: %w", err)
	}
	httpAddr, err := freeAddr(l.cfg.Host)
	if err != nil {
		return "", fmt.Errorf("provision: pick a port: %w", err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return "", errors.New("provision: closed")
	}
	l.mu.Unlock()
	args := []string{"pageserver", "--node-id", id, "--data-dir", filepath.Join(l.cfg.DataDir, id),
		"--grpc-addr", grpcAddr, "--http-addr", httpAddr, "--logservice", l.cfg.LogService,
		"--object-store", l.cfg.ObjectStore, "--object-prefix", "shards/" + strconv.Itoa(shard) + "/",
		"--nats-url", l.cfg.NATSURL, "--restore", "lazy"}
	args = append(args, l.cfg.ExtraArgs...)
	logPath := filepath.Join(l.cfg.DataDir, id+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return "", fmt.Errorf("provision: page server log: %w", err)
	}
	cmd := exec.Command(l.cfg.Binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", fmt.Errorf("provision: start page server: %w", err)
	}
	exited := make(chan struct{})
	l.mu.Lock()
	l.procs[id], l.exited[id] = cmd, exited
	l.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		l.mu.Lock()
		delete(l.procs, id)
		delete(l.exited, id)
		l.mu.Unlock()
		close(exited)
		l.cfg.Logger.Info("page server exited", "node", id, "state", cmd.ProcessState.String())
	}()
	l.cfg.Logger.Info("page server starting", "node", id, "shard", shard, "grpc", grpcAddr, "http", httpAddr)
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/healthz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				l.cfg.Logger.Info("page server ready", "node", id, "grpc", grpcAddr)
				return grpcAddr, nil
			}
		}
		select {
		case <-exited:
			return "", fmt.Errorf("provision: page server %s exited before it was ready\n%s", id, tail(logPath))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-exited
			return "", fmt.Errorf("provision: page server %s not ready: %w", id, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops every page server with SIGTERM (each takes a final
// checkpoint), SIGKILL after 60 s.
func (l *LocalPageServers) Close() error {
	l.stopAll(60 * time.Second)
	return nil
}
