package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/phantom-db/phantom/bench/coldstart"
	"github.com/phantom-db/phantom/bench/logbench"
	"github.com/phantom-db/phantom/bench/pagebench"
	"github.com/phantom-db/phantom/bench/tpch"
)

// benchCommand is `phantom bench <benchmark>`: benchmarks that start real
// processes and print results next to a peer system measured in the same run.
func benchCommand() *ffcli.Command {
	return &ffcli.Command{
		Name:        "bench",
		ShortUsage:  "phantom bench <benchmark> [flags]",
		ShortHelp:   "run a benchmark (logservice, pageserver, tpch, coldstart, pgbench)",
		Subcommands: []*ffcli.Command{benchLogserviceCommand(), benchPageserverCommand(), benchTPCHCommand(), benchColdstartCommand(), benchPgbenchCommand()},
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}
}

func benchLogserviceCommand() *ffcli.Command {
	fs := flag.NewFlagSet("phantom bench logservice", flag.ContinueOnError)
	var (
		duration = fs.Duration("duration", 10*time.Second, "how long each concurrency level runs, per system")
		clients  = fs.String("clients", "1,16,64", "comma-separated concurrency levels (concurrent closed-loop clients)")
		payload  = fs.Int("payload", 256, "value size of each write, in bytes")
		kills    = fs.Int("kills", 10, "leader SIGKILLs to measure failover, per system (0: none)")
		skipEtcd = fs.Bool("skip-etcd", false, "measure phantom only")
		etcdBin  = fs.String("etcd-bin", logbench.DefaultEtcdBin, "etcd server binary")
		workDir  = fs.String("work-dir", "", "parent of the temp dir for data and process logs (default: the system temp dir)")
		keepData = fs.Bool("keep-data", false, "keep the temp dir (data and process logs) after the run")
		logs     logFlags
	)
	logs.register(fs)
	return &ffcli.Command{
		Name:       "logservice",
		ShortUsage: "phantom bench logservice [flags]",
		ShortHelp:  "commits/s, p50/p99 commit latency and failover of a 3-replica log group, next to etcd",
		LongHelp: "Starts 3 `phantom logservice` replicas (this binary) and then 3 etcd members\n" +
			"(Debian's etcd-server: `make bench-deps`) on loopback, runs the same closed-loop\n" +
			"write workload through each, and prints a table with phantom/etcd ratios.",
		FlagSet: fs,
		Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			log, err := newLogger(logs.level, logs.format)
			if err != nil {
				return err
			}
			levels, err := parseClientLevels(*clients)
			if err != nil {
				return err
			}
			self, err := ownBinary()
			if err != nil {
				return err
			}
			res, err := logbench.Run(ctx, logbench.Config{
				PhantomBin: self,
				EtcdBin:    *etcdBin,
				SkipEtcd:   *skipEtcd,
				Duration:   *duration,
				Clients:    levels,
				Payload:    *payload,
				Kills:      *kills,
				NoFailover: *kills == 0,
				WorkDir:    *workDir,
				KeepData:   *keepData,
				Progress:   os.Stderr,
				Logger:     log,
			})
			if err != nil {
				return err
			}
			fmt.Printf("command: %s\n\n", strings.Join(append([]string{"phantom"}, os.Args[1:]...), " "))
			return res.WriteTable(os.Stdout)
		},
	}
}

func benchTPCHCommand() *ffcli.Command {
	fs := flag.NewFlagSet("phantom bench tpch", flag.ContinueOnError)
	var (
		sf           = fs.Float64("sf", 1, "TPC-H scale factor (1: 6M lineitem rows; below 1 in steps of 0.001)")
		queries      = fs.String("queries", "", "queries to run, e.g. 1,3,5-7 (default: all 22)")
		runs         = fs.Int("runs", 1, "runs of each query per system; the best time is reported")
		timeout      = fs.Duration("query-timeout", 10*time.Minute, "bound on one run of one query")
		loaders      = fs.Int("loaders", 4, "concurrent connections loading phantom")
		batchRows    = fs.Int("batch-rows", 1000, "rows per COPY (or INSERT) statement loading phantom")
		inserts      = fs.Bool("load-inserts", false, "load phantom with multi-row INSERTs instead of COPY FROM STDIN")
		phantomData  = fs.String("phantom-data", "", "phantom dev's data dir, kept after the run; a complete load of the same --sf in it is reused (default: in the temp dir)")
		phantomBin   = fs.String("phantom-bin", "", "the phantom binary to run `phantom dev` from (default: this one)")
		pprofAddr    = fs.String("phantom-pprof", "", "address phantom dev serves /debug/pprof/ on (default: off)")
		skipPhantom  = fs.Bool("skip-phantom", false, "measure DuckDB and PostgreSQL only")
		skipPostgres = fs.Bool("skip-postgres", false, "leave PostgreSQL out")
		workDir      = fs.String("work-dir", "", "parent of the temp dir for data files, phantom's data and logs (default: the system temp dir)")
		keepData     = fs.Bool("keep-data", false, "keep the temp dir after the run")
		logs         logFlags
	)
	logs.register(fs)
	return &ffcli.Command{
		Name:       "tpch",
		ShortUsage: "phantom bench tpch [flags]",
		ShortHelp:  "the 22 TPC-H queries on phantom, DuckDB and PostgreSQL 15, answers checked against DuckDB",
		LongHelp: "Generates TPC-H data (dbgen), loads it into `phantom dev` (this binary, COPY FROM\n" +
			"STDIN over the PostgreSQL protocol, then ANALYZE), into DuckDB in this process and into a\n" +
			"throwaway PostgreSQL 15 (COPY), runs the 22 queries on each, checks every answer\n" +
			"against DuckDB's and prints per-query times with the ratios and geometric means.",
		FlagSet: fs,
		Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			log, err := newLogger(logs.level, logs.format)
			if err != nil {
				return err
			}
			nums, err := tpch.ParseQueryList(*queries)
			if err != nil {
				return err
			}
			self, err := ownBinary()
			if err != nil {
				return err
			}
			if *phantomBin != "" {
				self = *phantomBin
			}
			rep, err := tpch.Run(ctx, tpch.Config{
				SF:             *sf,
				Queries:        nums,
				Runs:           *runs,
				QueryTimeout:   *timeout,
				PhantomBin:     self,
				SkipPhantom:    *skipPhantom,
				SkipPostgres:   *skipPostgres,
				Loaders:        *loaders,
				BatchRows:      *batchRows,
				LoadInserts:    *inserts,
				PhantomDataDir: *phantomData,
				PhantomPprof:   *pprofAddr,
				WorkDir:        *workDir,
				KeepData:       *keepData,
				Progress:       os.Stderr,
				Logger:         log,
			})
			if err != nil {
				return err
			}
			fmt.Printf("command: %s\n\n", strings.Join(append([]string{"phantom"}, os.Args[1:]...), " "))
			return rep.WriteTable(os.Stdout)
		},
	}
}

// parseClientLevels parses "1,16,64".
func parseClientLevels(s string) ([]int, error) {
	var levels []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad --clients entry %q: want a positive integer", f)
		}
		levels = append(levels, n)
	}
	if len(levels) == 0 {
		return nil, fmt.Errorf("--clients %q names no level", s)
	}
	return levels, nil
}

func benchPageserverCommand() *ffcli.Command {
	fs := flag.NewFlagSet("phantom bench pageserver", flag.ContinueOnError)
	var (
		rows         = fs.Int("rows", pagebench.DefaultRows, "rows in the table")
		valueSize    = fs.Int("value-size", pagebench.DefaultValueSize, "value size of every row, in bytes")
		commitRows   = fs.Int("commit-rows", pagebench.DefaultCommitRows, "rows per commit while loading")
		loaders      = fs.Int("loaders", pagebench.DefaultLoaders, "concurrent committers while loading")
		duration     = fs.Duration("duration", pagebench.DefaultReadDuration, "how long each point-read concurrency level runs, per system")
		clients      = fs.String("clients", "1,16", "comma-separated point-read concurrency levels")
		procs        = fs.Int("pageserver-procs", 0, "GOMAXPROCS of the page server (0: every CPU)")
		pgBin        = fs.String("postgres-bin", "", "directory of PostgreSQL's initdb and postgres (default: PHANTOM_PG_BIN, pg_config --bindir, the newest /usr/lib/postgresql/*/bin)")
		pgRows       = fs.Int("postgres-rows", 0, "rows in PostgreSQL's table (0: --rows)")
		skipPostgres = fs.Bool("skip-postgres", false, "measure phantom only")
		workDir      = fs.String("work-dir", "", "parent of the temp dir for data and process logs (default: the system temp dir)")
		keepData     = fs.Bool("keep-data", false, "keep the temp dir (data and process logs) after the run")
		logs         logFlags
	)
	logs.register(fs)
	return &ffcli.Command{
		Name:       "pageserver",
		ShortUsage: "phantom bench pageserver [flags]",
		ShortHelp:  "point-read p50/p99, scan rows/s and MB/s per core, cold start (eager and lazy restore), next to PostgreSQL",
		LongHelp: "Starts a `phantom logservice` and a `phantom pageserver` (this binary) on loopback,\n" +
			"loads --rows rows through the log service, measures point reads, a full scan and\n" +
			"the cold start of the page server on an empty disk from the object store, then\n" +
			"measures primary-key SELECTs on PostgreSQL 15 and prints phantom/postgres ratios.",
		FlagSet: fs,
		Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			log, err := newLogger(logs.level, logs.format)
			if err != nil {
				return err
			}
			levels, err := parseClientLevels(*clients)
			if err != nil {
				return err
			}
			bin, err := benchBinary()
			if err != nil {
				return err
			}
			res, err := pagebench.Run(ctx, pagebench.Config{
				PhantomBin:      bin,
				Rows:            *rows,
				ValueSize:       *valueSize,
				CommitRows:      *commitRows,
				Loaders:         *loaders,
				ReadDuration:    *duration,
				Concurrency:     levels,
				PageServerProcs: *procs,
				PostgresBin:     *pgBin,
				PostgresRows:    *pgRows,
				SkipPostgres:    *skipPostgres,
				WorkDir:         *workDir,
				KeepData:        *keepData,
				Progress:        os.Stderr,
				Logger:          log,
			})
			if err != nil {
				return err
			}
			fmt.Printf("command: %s\n\n", strings.Join(append([]string{"phantom"}, os.Args[1:]...), " "))
			return res.WriteTable(os.Stdout)
		},
	}
}

func benchColdstartCommand() *ffcli.Command {
	fs := flag.NewFlagSet("phantom bench coldstart", flag.ContinueOnError)
	var (
		runs     = fs.Int("runs", 20, "cold starts per protocol")
		rows     = fs.Int("rows", 1000, "rows in the table the first query scans")
		workDir  = fs.String("work-dir", "", "parent of the temp dir for data and process logs (default: the system temp dir)")
		keepData = fs.Bool("keep-data", false, "keep the temp dir (data and process logs) after the run")
		logs     logFlags
	)
	logs.register(fs)
	return &ffcli.Command{
		Name:       "coldstart",
		ShortUsage: "phantom bench coldstart [flags]",
		ShortHelp:  "time from a connection to a scaled-to-zero endpoint to the first result (HTTP and PostgreSQL), with a breakdown",
		LongHelp: "Starts a log service, page server, control plane (local provisioner) and proxy\n" +
			"(this binary) on loopback, creates endpoint main with min 0 and a 300 ms idle\n" +
			"timeout, and measures --runs cold starts per protocol through the proxy. The peer\n" +
			"is the same query repeated on the same warm compute.",
		FlagSet: fs,
		Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			log, err := newLogger(logs.level, logs.format)
			if err != nil {
				return err
			}
			self, err := ownBinary()
			if err != nil {
				return err
			}
			res, err := coldstart.Run(ctx, coldstart.Config{PhantomBin: self, Runs: *runs, Rows: *rows, WorkDir: *workDir,
				KeepData: *keepData, Progress: os.Stderr, Logger: log})
			if err != nil {
				return err
			}
			fmt.Printf("command: %s\n\n", strings.Join(append([]string{"phantom"}, os.Args[1:]...), " "))
			return res.WriteTable(os.Stdout)
		},
	}
}

// ownBinary is the path of the running phantom binary, which benches start
// as their servers.
func ownBinary() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("bench: find own binary: %w", err)
	}
	return self, nil
}

// benchBinary is $PHANTOM_BIN when set (tests point it at bin/phantom),
// else the running binary.
func benchBinary() (string, error) {
	if bin := os.Getenv("PHANTOM_BIN"); bin != "" {
		return bin, nil
	}
	return ownBinary()
}
