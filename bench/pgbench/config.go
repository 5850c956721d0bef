// Package pgbench runs PostgreSQL's own benchmark tool, pgbench (its
// built-in TPC-B-like script), against `phantom dev` and against a
// throwaway PostgreSQL 15 on the same machine in the same run, and reports
// throughput, latency, failures and retries side by side with their ratio
// (`phantom bench pgbench`).
//
// Each system is initialised with `pgbench -i -s <scale>` (pgbench's
// default steps: drop, create, client-side COPY, vacuum, primary keys) and
// then driven by `pgbench -c <clients> -j <threads> -T <duration>
// --max-tries <n>`, so serialization failures (SQLSTATE 40001, which
// Phantom-DB's optimistic transactions answer on a write-write conflict)
// are retried by pgbench. After the run every system must hold pgbench's
// row counts and the TPC-B invariant: the balances of accounts, tellers
// and branches each sum to the sum of history's deltas — no acknowledged
// transaction lost, none applied twice.
package pgbench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"time"
)

// Config configures a run.
type Config struct {
	// PhantomBin is the phantom binary started as `phantom dev` (required).
	PhantomBin string
	// PgbenchBin is the pgbench binary (default: "pgbench" on PATH).
	PgbenchBin string
	// Scale is pgbench's scale factor: 100,000 accounts, 10 tellers and 1
	// branch per unit (default 10).
	Scale int
	// Clients is the number of concurrent clients, pgbench -c (default 8).
	Clients int
	// Threads is pgbench's worker threads, -j (default 2).
	Threads int
	// Duration is how long each system is driven, -T (default 30 s; whole
	// seconds).
	Duration time.Duration
	// MaxTries is pgbench --max-tries: tries of a transaction that fails
	// with a serialization failure or deadlock (default 10).
	MaxTries int
	// SkipPostgres measures Phantom-DB only.
	SkipPostgres bool
	// WorkDir is the parent of the run's temp dir (data, logs); default the
	// system temp dir.
	WorkDir string
	// KeepData keeps the temp dir after the run.
	KeepData bool
	// Progress, when set, receives progress lines.
	Progress io.Writer
	// Logger receives diagnostics (default: discard).
	Logger *slog.Logger
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.PgbenchBin == "" {
		c.PgbenchBin = "pgbench"
	}
	if c.Scale == 0 {
		c.Scale = 10
	}
	if c.Clients == 0 {
		c.Clients = 8
	}
	if c.Threads == 0 {
		c.Threads = 2
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.MaxTries == 0 {
		c.MaxTries = 10
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Validate reports configuration errors; call it after EnsureDefaults.
func (c *Config) Validate() error {
	var errs []error
	if c.PhantomBin == "" {
		errs = append(errs, errors.New("pgbench: PhantomBin is required"))
	}
	if _, err := exec.LookPath(c.PgbenchBin); err != nil {
		errs = append(errs, fmt.Errorf("pgbench: the pgbench binary %q was not found (Debian: apt-get install postgresql-client-15): %w", c.PgbenchBin, err))
	}
	if c.Scale < 1 {
		errs = append(errs, fmt.Errorf("pgbench: scale %d must be at least 1", c.Scale))
	}
	if c.Clients < 1 || c.Threads < 1 || c.Threads > c.Clients {
		errs = append(errs, fmt.Errorf("pgbench: need 1 <= threads (%d) <= clients (%d)", c.Threads, c.Clients))
	}
	if c.Duration < time.Second {
		errs = append(errs, fmt.Errorf("pgbench: duration %s must be at least 1s", c.Duration))
	}
	if c.MaxTries < 1 {
		errs = append(errs, fmt.Errorf("pgbench: max tries %d must be at least 1", c.MaxTries))
	}
	return errors.Join(errs...)
}
