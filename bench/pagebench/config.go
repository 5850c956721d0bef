// Package pagebench is `phantom bench pageserver`: it starts a real log
// service and page server (this binary's subcommands) on loopback, loads a
// table of N rows through the log service, and measures point-read latency
// (a Scan of one key at a timestamp over gRPC), full-scan throughput per
// core, and the cold start of a page server on an empty disk from the object
// store in both restore modes (eager and lazy). Point reads are compared with
// PostgreSQL 15 (primary-key SELECT through pgx) measured in the same run;
// Neon's published GetPage@LSN latency is printed as a reference line.
package pagebench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Defaults applied by Config.EnsureDefaults.
const (
	DefaultRows         = 10_000_000
	DefaultValueSize    = 100
	DefaultCommitRows   = 5000
	DefaultLoaders      = 4
	DefaultReadDuration = 5 * time.Second
)

// DefaultConcurrency is the point-read concurrency levels.
var DefaultConcurrency = []int{1, 16}

// Config configures one run.
type Config struct {
	// PhantomBin is the phantom binary to start. Required.
	PhantomBin string
	// Rows is the table size. Default 10M.
	Rows int
	// ValueSize is the value size of every row in bytes. Default 100.
	ValueSize int
	// CommitRows is the rows per commit while loading. Default 5000.
	CommitRows int
	// Loaders is the number of concurrent committers. Default 4.
	Loaders int
	// ReadDuration is how long each point-read concurrency level runs, per
	// system. Default 5s.
	ReadDuration time.Duration
	// Concurrency is the point-read concurrency levels. Default 1, 16.
	Concurrency []int
	// PageServerProcs is the page server's GOMAXPROCS; 0 leaves Go's
	// default (every CPU).
	PageServerProcs int
	// PostgresBin is the directory of initdb and postgres. Default: the
	// one test/pgserver finds (PHANTOM_PG_BIN, pg_config --bindir, the
	// newest /usr/lib/postgresql/*/bin).
	PostgresBin string
	// PostgresRows is the PostgreSQL table size. Default Rows.
	PostgresRows int
	// SkipPostgres measures phantom only.
	SkipPostgres bool
	// WorkDir is the parent of the run's temp dir. Default the system temp
	// dir.
	WorkDir string
	// KeepData keeps the temp dir (data and process logs).
	KeepData bool
	// Progress receives one line per phase. Default io.Discard.
	Progress io.Writer
	// Logger receives the benchmark's own logs. Default slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills unset fields.
func (c *Config) EnsureDefaults() {
	if c.Rows == 0 {
		c.Rows = DefaultRows
	}
	if c.ValueSize == 0 {
		c.ValueSize = DefaultValueSize
	}
	if c.CommitRows == 0 {
		c.CommitRows = DefaultCommitRows
	}
	if c.Loaders == 0 {
		c.Loaders = DefaultLoaders
	}
	if c.ReadDuration == 0 {
		c.ReadDuration = DefaultReadDuration
	}
	if len(c.Concurrency) == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.PostgresRows == 0 {
		c.PostgresRows = c.Rows
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a configuration the benchmark cannot run.
func (c *Config) Validate() error {
	var errs []error
	if c.PhantomBin == "" {
		errs = append(errs, errors.New("PhantomBin is required"))
	}
	if c.Rows < 1 || c.ValueSize < 1 || c.CommitRows < 1 || c.Loaders < 1 || c.PostgresRows < 1 {
		errs = append(errs, errors.New("rows, value size, commit rows, loaders and postgres rows must be positive"))
	}
	if c.ReadDuration <= 0 {
		errs = append(errs, errors.New("read duration must be positive"))
	}
	for _, n := range c.Concurrency {
		if n < 1 {
			errs = append(errs, fmt.Errorf("concurrency %d: must be positive", n))
		}
	}
	if c.PageServerProcs < 0 {
		errs = append(errs, errors.New("page server procs must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pagebench: invalid config: %w", err)
	}
	return nil
}
