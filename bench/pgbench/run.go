package pgbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phantom-db/phantom/bench/devproc"
	"github.com/phantom-db/phantom/test/pgserver"
)

// target is one system pgbench connects to.
type target struct {
	name     string
	port     int
	user, db string
}

func (t target) dsn() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", t.user, t.port, t.db)
}

// Counts are the table sizes and balance sums after a run.
type Counts struct {
	Accounts, Tellers, Branches, History                  int64
	SumAccounts, SumTellers, SumBranches, SumHistoryDelta int64
}

// Check reports how c breaks pgbench's row counts for scale or the TPC-B
// invariant (every balance total equals the sum of history's deltas).
func (c Counts) Check(scale int) error {
	var errs []error
	want := func(name string, got, want int64) {
		if got != want {
			errs = append(errs, fmt.Errorf("%s: %d rows, want %d", name, got, want))
		}
	}
	want("pgbench_accounts", c.Accounts, 100000*int64(scale))
	want("pgbench_tellers", c.Tellers, 10*int64(scale))
	want("pgbench_branches", c.Branches, int64(scale))
	if c.SumAccounts != c.SumHistoryDelta || c.SumTellers != c.SumHistoryDelta || c.SumBranches != c.SumHistoryDelta {
		errs = append(errs, fmt.Errorf("TPC-B invariant broken: sum(abalance)=%d sum(tbalance)=%d sum(bbalance)=%d sum(delta)=%d",
			c.SumAccounts, c.SumTellers, c.SumBranches, c.SumHistoryDelta))
	}
	return errors.Join(errs...)
}

// SystemResult is one system's measurements.
type SystemResult struct {
	Name string
	// Init is the wall time of pgbench -i.
	Init time.Duration
	// Stats are the run's numbers.
	Stats Stats
	// After are the counts read after the run.
	After Counts
	// Err is the first failure ("" when the system ran and checked out).
	Err string
}

// Report is a whole run.
type Report struct {
	Config  Config
	Machine string
	Systems []SystemResult
}

// Run initialises and drives every system in turn, Phantom-DB first. A
// system that fails is reported with its error; Run's error is for the
// run as a whole (configuration, temp dir).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(cfg.WorkDir, "pgbench-")
	if err != nil {
		return nil, fmt.Errorf("pgbench: temp dir: %w", err)
	}
	if cfg.KeepData {
		fmt.Fprintf(cfg.Progress, "data and logs in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	rep := &Report{Config: cfg, Machine: machine()}
	rep.Systems = append(rep.Systems, runPhantom(ctx, &cfg, filepath.Join(dir, "phantom")))
	if !cfg.SkipPostgres {
		rep.Systems = append(rep.Systems, runPostgres(ctx, &cfg, filepath.Join(dir, "postgres")))
	}
	return rep, nil
}

func runPhantom(ctx context.Context, cfg *Config, dir string) SystemResult {
	res := SystemResult{Name: "phantom"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.Err = err.Error()
		return res
	}
	fmt.Fprintln(cfg.Progress, "phantom: starting phantom dev")
	// pgbench -i loads every table in one transaction; at scale 10 its
	// COMMIT (spilling ~90 MB of rows) outlasts dev's default 30 s
	// statement timeout on a busy machine.
	dev, err := devproc.Start(ctx, devproc.Options{Bin: cfg.PhantomBin, Dir: dir, StatementTimeout: 30 * time.Minute})
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer dev.Stop()
	measure(ctx, cfg, target{name: "phantom", port: dev.PGPort, user: "pgbench", db: "phantom"}, dir, &res)
	if res.Err != "" {
		res.Err += " (server log: " + dev.LogPath + ")"
	}
	return res
}

func runPostgres(ctx context.Context, cfg *Config, dir string) SystemResult {
	res := SystemResult{Name: "postgres"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.Err = err.Error()
		return res
	}
	log, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer log.Close()
	fmt.Fprintln(cfg.Progress, "postgres: starting PostgreSQL")
	// Durable commits (fsync on), as Phantom-DB acknowledges a commit only
	// once its log entry is fsynced.
	srv, err := pgserver.Start(ctx, pgserver.Options{Fsync: true, Log: log,
		Settings: []string{"shared_buffers=1GB", "max_connections=200"}})
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer srv.Stop()
	measure(ctx, cfg, target{name: "postgres", port: srv.Port, user: "postgres", db: "postgres"}, dir, &res)
	return res
}

// measure runs pgbench -i, then the timed run, then reads the counts.
func measure(ctx context.Context, cfg *Config, t target, dir string, res *SystemResult) {
	fmt.Fprintf(cfg.Progress, "%s: pgbench -i -s %d\n", t.name, cfg.Scale)
	start := time.Now()
	if _, err := pgbench(ctx, cfg, t, "-i", "-s", strconv.Itoa(cfg.Scale)); err != nil {
		res.Err = "init: " + err.Error()
		return
	}
	res.Init = time.Since(start)
	fmt.Fprintf(cfg.Progress, "%s: initialised in %s; pgbench -c %d -j %d -T %d --max-tries %d\n",
		t.name, res.Init.Round(time.Millisecond), cfg.Clients, cfg.Threads, int(cfg.Duration.Seconds()), cfg.MaxTries)
	prefix := filepath.Join(dir, "txlog")
	out, runErr := pgbench(ctx, cfg, t, "-c", strconv.Itoa(cfg.Clients), "-j", strconv.Itoa(cfg.Threads),
		"-T", strconv.Itoa(int(cfg.Duration.Seconds())), "--max-tries", strconv.Itoa(cfg.MaxTries),
		"-l", "--log-prefix", prefix)
	st, err := parseOutput(out)
	if err != nil {
		res.Err = "run: " + errors.Join(runErr, err).Error()
		return
	}
	lat, err := readLatencies(prefix)
	if err != nil {
		res.Err = err.Error()
		return
	}
	st.P50Ms, st.P99Ms = percentile(lat, 50), percentile(lat, 99)
	res.Stats = st
	if runErr != nil {
		res.Err = "run: " + runErr.Error()
		return
	}
	if res.After, err = ReadCounts(ctx, t.dsn()); err != nil {
		res.Err = err.Error()
		return
	}
	if err := res.After.Check(cfg.Scale); err != nil {
		res.Err = err.Error()
	}
}

// pgbench runs the pgbench binary against t and returns its output
// (stdout, then stderr).
func pgbench(ctx context.Context, cfg *Config, t target, args ...string) (string, error) {
	all := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(t.port), "-U", t.user}, args...)
	all = append(all, t.db)
	cmd := exec.CommandContext(ctx, cfg.PgbenchBin, all...)
	cmd.Env = append(os.Environ(), "PGSSLMODE=disable")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	cfg.Logger.Debug("pgbench", "system", t.name, "args", all, "stdout", stdout.String(), "stderr", stderr.String())
	out := stdout.String() + stderr.String()
	if err != nil {
		return out, fmt.Errorf("pgbench %s: %w: %s", strings.Join(args, " "), err, lastLines(stderr.String(), 5))
	}
	return out, nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// ReadCounts reads pgbench's table sizes and balance sums over dsn.
func ReadCounts(ctx context.Context, dsn string) (Counts, error) {
	conn, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		return Counts{}, fmt.Errorf("pgbench: connect: %w", err)
	}
	defer conn.Close(ctx)
	var c Counts
	queries := []struct {
		sql string
		dst *int64
	}{
		{"SELECT count(*) FROM pgbench_accounts", &c.Accounts},
		{"SELECT count(*) FROM pgbench_tellers", &c.Tellers},
		{"SELECT count(*) FROM pgbench_branches", &c.Branches},
		{"SELECT count(*) FROM pgbench_history", &c.History},
		{"SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts", &c.SumAccounts},
		{"SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers", &c.SumTellers},
		{"SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches", &c.SumBranches},
		{"SELECT coalesce(sum(delta), 0) FROM pgbench_history", &c.SumHistoryDelta},
	}
	for _, q := range queries {
		rs, err := conn.Exec(ctx, q.sql).ReadAll()
		if err != nil {
			return c, fmt.Errorf("pgbench: %s: %w", q.sql, err)
		}
		if len(rs) != 1 || len(rs[0].Rows) != 1 || len(rs[0].Rows[0]) != 1 {
			return c, fmt.Errorf("pgbench: %s: not one value", q.sql)
		}
		if *q.dst, err = strconv.ParseInt(string(rs[0].Rows[0][0]), 10, 64); err != nil {
			return c, fmt.Errorf("pgbench: %s: %w", q.sql, err)
		}
	}
	return c, nil
}

// machine describes the CPU the run measured on.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	s := fmt.Sprintf("%d CPUs, %s/%s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	if model != "" {
		s = model + ", " + s
	}
	return s
}
