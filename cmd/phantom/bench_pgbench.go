package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/phantom-db/phantom/bench/pgbench"
)

func benchPgbenchCommand() *ffcli.Command {
	fs := flag.NewFlagSet("phantom bench pgbench", flag.ContinueOnError)
	var (
		scale        = fs.Int("s", 10, "pgbench scale factor (100,000 accounts per unit)")
		clients      = fs.Int("c", 8, "concurrent clients (pgbench -c)")
		threads      = fs.Int("j", 2, "pgbench worker threads (pgbench -j)")
		seconds      = fs.Int("T", 30, "seconds each system is driven (pgbench -T)")
		maxTries     = fs.Int("max-tries", 10, "tries per transaction on serialization failures (pgbench --max-tries)")
		pgbenchBin   = fs.String("pgbench-bin", "pgbench", "the pgbench binary (PostgreSQL 15's client tools)")
		skipPostgres = fs.Bool("skip-postgres", false, "measure phantom only")
		workDir      = fs.String("work-dir", "", "parent of the temp dir for data and process logs (default: the system temp dir)")
		keepData     = fs.Bool("keep-data", false, "keep the temp dir (data and process logs) after the run")
		logs         logFlags
	)
	logs.register(fs)
	return &ffcli.Command{
		Name:       "pgbench",
		ShortUsage: "phantom bench pgbench [-s 10] [-c 8] [-j 2] [-T 30] [flags]",
		ShortHelp:  "pgbench's TPC-B-like script: TPS, latency, failures and retries, next to PostgreSQL 15",
		LongHelp: "Starts `phantom dev` (this binary, --auth none) and then a throwaway PostgreSQL 15\n" +
			"on loopback, runs `pgbench -i -s S` and `pgbench -c C -j J -T T --max-tries N` against\n" +
			"each, checks pgbench's row counts and the TPC-B balance invariant afterwards, and\n" +
			"prints TPS, latency (average, p50, p99), failures and retries with phantom/postgres ratios.",
		FlagSet: fs,
		Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			log, err := newLogger(logs.level, logs.format)
			if err != nil {
				return err
			}
			bin, err := benchBinary()
			if err != nil {
				return err
			}
			rep, err := pgbench.Run(ctx, pgbench.Config{
				PhantomBin:   bin,
				PgbenchBin:   *pgbenchBin,
				Scale:        *scale,
				Clients:      *clients,
				Threads:      *threads,
				Duration:     time.Duration(*seconds) * time.Second,
				MaxTries:     *maxTries,
				SkipPostgres: *skipPostgres,
				WorkDir:      *workDir,
				KeepData:     *keepData,
				Progress:     os.Stderr,
				Logger:       log,
			})
			if err != nil {
				return err
			}
			fmt.Printf("command: %s\n\n", strings.Join(append([]string{"phantom"}, os.Args[1:]...), " "))
			rep.Print(os.Stdout)
			if !rep.OK() {
				return errors.New("bench: a system failed (see above)")
			}
			return nil
		},
	}
}
