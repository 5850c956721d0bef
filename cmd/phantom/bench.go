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
)

// benchCommand is `phantom bench <benchmark>`: benchmarks that start real
// processes and print results next to a peer system measured in the same run.
func benchCommand() *ffcli.Command {
	return &ffcli.Command{
		Name:        "bench",
		ShortUsage:  "phantom bench <benchmark> [flags]",
		ShortHelp:   "run a benchmark (logservice, coldstart)",
		Subcommands: []*ffcli.Command{benchLogserviceCommand(), benchColdstartCommand()},
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
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: find own binary: %w", err)
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
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: find own binary: %w", err)
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
