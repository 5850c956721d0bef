// Package logbench is the commit-path benchmark of the log service, measured
// against etcd in the same run: it starts a 3-replica phantom log service
// group and a 3-member etcd cluster as real OS processes on loopback (data in
// a temp dir, fsync on in both), drives the same closed-loop workload through
// each (N concurrent clients, one key written per operation, the same payload
// size), and reports commits/s, p50/p99 commit latency and the failover time
// (leader SIGKILL -> first acknowledged commit).
//
// It is a benchmark, not a test: nothing here asserts a speed. Phantom
// operations are logclient GetTimestamp + Commit of one key; etcd operations
// are one clientv3 Put. Each system is measured alone (never both at once),
// so they do not compete for the machine.
package logbench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// DefaultEtcdBin is where Debian's etcd-server package installs etcd.
const DefaultEtcdBin = "/usr/bin/etcd"

// ErrNoPhantomBin is returned by Validate when Config.PhantomBin is empty.
var ErrNoPhantomBin = errors.New("logbench: no phantom binary")

// Config configures one benchmark run.
type Config struct {
	// PhantomBin is the phantom binary whose `logservice` subcommand runs the
	// replicas. Required (the CLI passes os.Executable()).
	PhantomBin string
	// EtcdBin is the etcd server binary. Default DefaultEtcdBin. When it does
	// not exist, etcd is skipped and Result.EtcdSkipped says why.
	EtcdBin string
	// SkipEtcd measures phantom only. Default false.
	SkipEtcd bool
	// Duration is how long each concurrency level runs, per system.
	// Default 10s.
	Duration time.Duration
	// Clients are the concurrency levels (closed-loop clients, each with one
	// operation in flight). Default 1, 16, 64.
	Clients []int
	// Payload is the value size of each write, in bytes. Default 256.
	Payload int
	// Kills is how many times the leader is SIGKILLed (and restarted) to
	// measure failover, per system; 0 skips failover. Default 10 (set
	// NoFailover to measure none).
	Kills int
	// NoFailover skips the failover measurement. Default false.
	NoFailover bool
	// OpTimeout bounds one write of the workload or of a health check.
	// Default 2s.
	OpTimeout time.Duration
	// FailoverTimeout bounds one failover sample: from the kill until a
	// write is acknowledged (probe writes are started every 20ms and each
	// may wait this long). Default 60s.
	FailoverTimeout time.Duration
	// StartTimeout bounds starting a group and waiting for it to commit.
	// Default 60s.
	StartTimeout time.Duration
	// WorkDir is where the temp dir of data and process logs is made.
	// Default os.TempDir(). The temp dir is removed at the end of a run
	// unless KeepData is set.
	WorkDir string
	// KeepData keeps the temp dir (data dirs and process logs). Default false.
	KeepData bool
	// Progress receives one line per step as the run goes (may be nil).
	Progress io.Writer
	// Logger logs process starts and failures. Default slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills the zero fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.EtcdBin == "" {
		c.EtcdBin = DefaultEtcdBin
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if len(c.Clients) == 0 {
		c.Clients = []int{1, 16, 64}
	}
	if c.Payload == 0 {
		c.Payload = 256
	}
	if c.Kills == 0 && !c.NoFailover {
		c.Kills = 10
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 2 * time.Second
	}
	if c.FailoverTimeout == 0 {
		c.FailoverTimeout = 60 * time.Second
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 60 * time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a configuration that cannot run.
func (c *Config) Validate() error {
	var errs []error
	if c.PhantomBin == "" {
		errs = append(errs, ErrNoPhantomBin)
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("logbench: Duration %s must be positive", c.Duration))
	}
	for _, n := range c.Clients {
		if n < 1 {
			errs = append(errs, fmt.Errorf("logbench: client count %d must be at least 1", n))
		}
	}
	if c.Payload < 0 {
		errs = append(errs, fmt.Errorf("logbench: Payload %d must not be negative", c.Payload))
	}
	if c.Kills < 0 {
		errs = append(errs, fmt.Errorf("logbench: Kills %d must not be negative", c.Kills))
	}
	return errors.Join(errs...)
}
