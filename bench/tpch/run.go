// Package tpch is the TPC-H benchmark of Phantom-DB (`phantom bench
// tpch`): it generates the data with dbgen (a Go port of the official
// generator), loads it into Phantom-DB through the normal write path, into
// DuckDB (in this process) and into a throwaway PostgreSQL 15, runs the 22
// queries on each, checks every answer against DuckDB's and reports the
// times with their ratios.
//
// DuckDB is the reference for answers; PostgreSQL's answers are checked
// against it too, which validates the checker itself.
package tpch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Config configures a run.
type Config struct {
	// SF is the TPC-H scale factor (1: about 1 GB, 6M lineitem rows);
	// below 1 in steps of 0.001. Default 1.
	SF float64
	// Queries are the query numbers to run; empty: all 22.
	Queries []int
	// Runs is how many times each query runs per system; the best time is
	// reported and the first answer checked. Default 1.
	Runs int
	// QueryTimeout bounds one run of one query on one system. Default 10m.
	QueryTimeout time.Duration
	// PhantomBin is the phantom binary `phantom dev` runs from; required
	// unless SkipPhantom.
	PhantomBin string
	// SkipPhantom measures DuckDB and PostgreSQL only.
	SkipPhantom bool
	// SkipPostgres leaves PostgreSQL out.
	SkipPostgres bool
	// Loaders is how many connections insert into Phantom-DB at once.
	// Default 4.
	Loaders int
	// BatchRows is the rows per COPY (or INSERT) statement into
	// Phantom-DB. Default 1000.
	BatchRows int
	// LoadInserts loads Phantom-DB with multi-row INSERT statements
	// instead of COPY FROM STDIN.
	LoadInserts bool
	// PhantomDataDir is phantom dev's data directory; empty: one in the
	// run's temp dir. It is kept after the run, and when it already holds
	// a complete load of the same scale factor the load is skipped (to
	// iterate on queries without reloading).
	PhantomDataDir string
	// PhantomPprof, when set, is the address phantom dev serves Go's
	// runtime profiles on (its --pprof flag).
	PhantomPprof string
	// WorkDir is the parent of the run's temp dir (data files, Phantom-DB's
	// data and logs); empty: the system temp dir.
	WorkDir string
	// KeepData keeps the temp dir after the run.
	KeepData bool
	// Progress receives a line per step; nil: none.
	Progress io.Writer
	// Logger logs; nil: slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.SF == 0 {
		c.SF = 1
	}
	if c.Runs == 0 {
		c.Runs = 1
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = 10 * time.Minute
	}
	if c.Loaders == 0 {
		c.Loaders = 4
	}
	if c.BatchRows == 0 {
		c.BatchRows = 1000
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
	switch {
	case !(c.SF > 0):
		return fmt.Errorf("tpch: scale factor %v: want a positive number", c.SF)
	case c.Runs < 1:
		return fmt.Errorf("tpch: runs %d: want at least 1", c.Runs)
	case c.Loaders < 1 || c.BatchRows < 1:
		return errors.New("tpch: loaders and batch rows must be positive")
	case !c.SkipPhantom && c.PhantomBin == "":
		return errors.New("tpch: no phantom binary (PhantomBin)")
	}
	_, err := Queries(c.Queries)
	return err
}

// Systems, as the report names them.
const (
	Phantom  = "phantom"
	DuckDB   = "duckdb"
	Postgres = "postgres"
)

// system is one database under test.
type system interface {
	name() string
	// load creates the tables and loads the dataset into them.
	load(ctx context.Context, ds *Dataset) error
	// run runs a query and answers its rows.
	run(ctx context.Context, q Query) (*resultSet, error)
	close()
}

// Load is how a system's load went.
type Load struct {
	Rows     int64
	Duration time.Duration
	// Err is why the system could not start or load; its queries did not
	// run then.
	Err error
	// Reused is set when the system kept an earlier load (Phantom-DB's
	// --phantom-data) instead of loading.
	Reused bool
}

// RowsPerSec is the load rate.
func (l Load) RowsPerSec() float64 {
	if l.Duration <= 0 {
		return 0
	}
	return float64(l.Rows) / l.Duration.Seconds()
}

// Measure is one query on one system.
type Measure struct {
	// Ran is false when the system was not part of the run or did not
	// load.
	Ran bool
	// Best is the fastest of the runs (valid when Err is nil).
	Best time.Duration
	// First is the time of the first run: with --runs above 1 it is the
	// cold one next to Best's warm (caches filled by the earlier runs).
	First time.Duration
	// Err is the query's failure, spelled for the report (SQLSTATE and
	// message for a server error).
	Err string
	// Diff is "" when the answer equals DuckDB's, else its first
	// difference (DuckDB's own is always "").
	Diff string

	answer *resultSet
	// later holds the answers of the runs after the first: every run's
	// answer is checked (a cache must not change one).
	later []*resultSet
}

// OK reports whether the system answered, and correctly.
func (m Measure) OK() bool { return m.Ran && m.Err == "" && m.Diff == "" }

// Status is "yes", or why not.
func (m Measure) Status() string {
	switch {
	case !m.Ran:
		return "-"
	case m.Err != "":
		return "no: " + m.Err
	case m.Diff != "":
		return "no: wrong answer: " + m.Diff
	default:
		return "yes"
	}
}

// QueryResult is one query on every system.
type QueryResult struct {
	Query   int
	Systems map[string]*Measure
}

// Report is the outcome of a run.
type Report struct {
	SF        float64
	Rows      map[string]int64
	TotalRows int64
	GenTime   time.Duration
	Runs      int
	// Loads by system name.
	Loads   map[string]*Load
	Queries []QueryResult
	// Systems in the run, in report order.
	Systems []string
}

// Run generates the data, loads it into every system, runs the queries and
// checks the answers. It answers an error only when the run as a whole
// could not happen (data generation, DuckDB, PostgreSQL); Phantom-DB's
// start, load and query failures are in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	queries, _ := Queries(cfg.Queries)
	dir, err := os.MkdirTemp(cfg.WorkDir, "phantom-tpch-")
	if err != nil {
		return nil, fmt.Errorf("tpch: %w", err)
	}
	if cfg.KeepData {
		fmt.Fprintf(cfg.Progress, "data and logs in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	start := time.Now()
	fmt.Fprintf(cfg.Progress, "generating TPC-H SF %g...\n", cfg.SF)
	ds, err := Generate(filepath.Join(dir, "data"), cfg.SF)
	if err != nil {
		return nil, err
	}
	rep := &Report{SF: cfg.SF, Rows: ds.Rows, TotalRows: ds.TotalRows(), GenTime: time.Since(start),
		Runs: cfg.Runs, Loads: map[string]*Load{}}
	fmt.Fprintf(cfg.Progress, "generated %d rows in %s\n", rep.TotalRows, rep.GenTime.Round(time.Millisecond))

	var systems []system
	defer func() {
		for _, s := range systems {
			s.close()
		}
	}()
	duck, err := openDuckDB()
	if err != nil {
		return nil, err
	}
	systems = append(systems, duck)
	rep.Systems = append(rep.Systems, DuckDB)
	if !cfg.SkipPostgres {
		logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
		if err != nil {
			return nil, fmt.Errorf("tpch: %w", err)
		}
		defer logFile.Close()
		fmt.Fprintln(cfg.Progress, "starting postgres...")
		pg, err := startPostgres(ctx, logFile)
		if err != nil {
			return nil, fmt.Errorf("tpch: postgres: %w", err)
		}
		systems = append(systems, pg)
		rep.Systems = append(rep.Systems, Postgres)
	}
	if !cfg.SkipPhantom {
		rep.Systems = append([]string{Phantom}, rep.Systems...)
		fmt.Fprintln(cfg.Progress, "starting phantom dev...")
		ph, err := startPhantom(ctx, &cfg, dir)
		if err != nil {
			rep.Loads[Phantom] = &Load{Err: err}
			fmt.Fprintf(cfg.Progress, "phantom: %v\n", err)
		} else {
			systems = append(systems, ph)
		}
	}

	loaded := map[string]system{}
	for _, s := range systems {
		fmt.Fprintf(cfg.Progress, "loading %s...\n", s.name())
		t0 := time.Now()
		err := s.load(ctx, ds)
		l := &Load{Rows: ds.TotalRows(), Duration: time.Since(t0), Err: err}
		if r, ok := s.(interface{ wasReused() bool }); ok && err == nil {
			l.Reused = r.wasReused()
		}
		rep.Loads[s.name()] = l
		if err != nil {
			if s.name() != Phantom {
				return nil, err
			}
			fmt.Fprintf(cfg.Progress, "%s: load failed: %v\n", s.name(), err)
			continue
		}
		loaded[s.name()] = s
		if l.Reused {
			continue
		}
		fmt.Fprintf(cfg.Progress, "loaded %s: %d rows in %s (%.0f rows/s)\n", s.name(), l.Rows,
			l.Duration.Round(time.Millisecond), l.RowsPerSec())
	}

	for _, q := range queries {
		qr := QueryResult{Query: q.Num, Systems: map[string]*Measure{}}
		for _, name := range rep.Systems {
			m := &Measure{}
			qr.Systems[name] = m
			s, ok := loaded[name]
			if !ok {
				if l := rep.Loads[name]; l != nil && l.Err != nil {
					m.Ran, m.Err = true, "not loaded (see its load line)"
				}
				continue
			}
			m.Ran = true
			for range cfg.Runs {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				qctx, cancel := context.WithTimeout(ctx, cfg.QueryTimeout)
				t0 := time.Now()
				res, err := s.run(qctx, q)
				d := time.Since(t0)
				cancel()
				if err != nil {
					m.Err = describeError(err)
					break
				}
				if m.answer == nil {
					m.answer, m.First = res, d
				} else {
					m.later = append(m.later, res)
				}
				if m.Best == 0 || d < m.Best {
					m.Best = d
				}
			}
		}
		ref := qr.Systems[DuckDB]
		for _, name := range rep.Systems {
			m := qr.Systems[name]
			if name == DuckDB || !m.Ran || m.Err != "" {
				continue
			}
			if ref.Err != "" {
				m.Diff = "no DuckDB answer to check against"
				continue
			}
			m.Diff = diff(m.answer, ref.answer, q.Ordered)
			for i, later := range m.later {
				if m.Diff != "" {
					break
				}
				if d := diff(later, ref.answer, q.Ordered); d != "" {
					m.Diff = fmt.Sprintf("run %d: %s", i+2, d)
				}
			}
		}
		if ctx.Err() == nil {
			line := q.Name() + ":"
			for _, name := range rep.Systems {
				if m := qr.Systems[name]; m.Ran {
					t := fmtMS(m)
					if t != "-" {
						t += " ms"
					}
					line += fmt.Sprintf(" %s %s %s;", name, t, short(m.Status(), 60))
				}
			}
			fmt.Fprintln(cfg.Progress, line)
		}
		for _, m := range qr.Systems {
			m.answer = nil
		}
		rep.Queries = append(rep.Queries, qr)
	}
	return rep, nil
}
