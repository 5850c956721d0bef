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
	"time"
)

// LogReplicaConfig configures LocalLogReplicas.
type LogReplicaConfig struct {
	// Binary is the phantom executable. Default $PHANTOM_BIN, else the
	// running executable.
	Binary string
	// NATSURL is passed as --nats-url (heartbeats). Required.
	NATSURL string
	// DataDir holds one <node id>/ data directory and <node id>.log per
	// replica. Required.
	DataDir string
	// Host is the address replicas listen on. Default 127.0.0.1.
	Host string
	// ExtraArgs are appended to every replica's arguments.
	ExtraArgs []string
	// ReadyTimeout bounds the wait for /healthz. Default 60 s.
	ReadyTimeout time.Duration
	// Logger receives lifecycle logs. Default slog.Default().
	Logger *slog.Logger
}

// LogReplica is a started log replica's addresses.
type LogReplica struct {
	ID       string
	GRPCAddr string
	RaftAddr string
}

// LocalLogReplicas runs replacement log replicas as child processes: each
// starts with --bootstrap=false on an empty data directory and waits to be
// added to the group (LogAdmin AddVoter), then receives the log from the
// leader (a snapshot and the entries after it).
type LocalLogReplicas struct {
	cfg LogReplicaConfig

	children
}

// NewLocalLogReplicas checks cfg.
func NewLocalLogReplicas(cfg LogReplicaConfig) (*LocalLogReplicas, error) {
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
	if cfg.NATSURL == "" || cfg.DataDir == "" {
		return nil, errors.New("provision: log replicas need NATSURL and DataDir")
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
		return nil, fmt.Errorf("provision: log replica dir: %w", err)
	}
	return &LocalLogReplicas{cfg: cfg, children: newChildren()}, nil
}

// Start runs `phantom logservice --bootstrap=false` under node id and
// returns once its /healthz answers.
func (l *LocalLogReplicas) Start(ctx context.Context, id string) (LogReplica, error) {
	var addrs [3]string
	for i := range addrs {
		a, err := freeAddr(l.cfg.Host)
		if err != nil {
			return LogReplica{}, fmt.Errorf("provision: pick a port: %w", err)
		}
		addrs[i] = a
	}
	r := LogReplica{ID: id, GRPCAddr: addrs[0], RaftAddr: addrs[1]}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return LogReplica{}, errors.New("provision: closed")
	}
	l.mu.Unlock()
	args := []string{"logservice", "--node-id", id, "--data-dir", filepath.Join(l.cfg.DataDir, id),
		"--grpc-addr", r.GRPCAddr, "--raft-addr", r.RaftAddr, "--http-addr", addrs[2], "--bootstrap=false",
		"--nats-url", l.cfg.NATSURL}
	args = append(args, l.cfg.ExtraArgs...)
	logPath := filepath.Join(l.cfg.DataDir, id+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return LogReplica{}, fmt.Errorf("provision: log replica log: %w", err)
	}
	cmd := exec.Command(l.cfg.Binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return LogReplica{}, fmt.Errorf("provision: start log replica: %w", err)
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
		l.cfg.Logger.Info("log replica exited", "node", id, "state", cmd.ProcessState.String())
	}()
	l.cfg.Logger.Info("log replica starting", "node", id, "grpc", r.GRPCAddr, "raft", r.RaftAddr)
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addrs[2]+"/healthz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r, nil
			}
		}
		select {
		case <-exited:
			return LogReplica{}, fmt.Errorf("provision: log replica %s exited before it was ready\n%s", id, tail(logPath))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-exited
			return LogReplica{}, fmt.Errorf("provision: log replica %s not ready: %w", id, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop kills replica id (one that could not join) and waits for its exit.
func (l *LocalLogReplicas) Stop(id string) {
	l.mu.Lock()
	cmd, ok := l.procs[id]
	exited := l.exited[id]
	l.mu.Unlock()
	if ok {
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Close stops every replica with SIGTERM, SIGKILL after 30 s.
func (l *LocalLogReplicas) Close() error {
	l.stopAll(30 * time.Second)
	return nil
}
