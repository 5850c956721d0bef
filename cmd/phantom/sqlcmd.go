package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/phantom-db/phantom/cmd/phantom/internal/sqlshell"
)

// sqlInput is one -c or -f argument, kept in command-line order.
type sqlInput struct {
	file bool
	text string // the SQL of -c, the path of -f
}

// sqlInputs is a repeatable flag appending to a shared, ordered list.
type sqlInputs struct {
	list *[]sqlInput
	file bool
}

func (s sqlInputs) String() string { return "" }

func (s sqlInputs) Set(v string) error {
	*s.list = append(*s.list, sqlInput{file: s.file, text: v})
	return nil
}

// sqlCommand is `phantom sql`: a SQL shell over the HTTP SQL API.
func sqlCommand() *ffcli.Command {
	fs := flag.NewFlagSet("phantom sql", flag.ContinueOnError)
	var (
		url      = fs.String("url", "http://127.0.0.1:8432", "compute node HTTP SQL API")
		database = fs.String("database", "", "database name (default: the one the compute node serves)")
		apiKey   = fs.String("api-key", "", "API key (phantom dev prints one; PHANTOM_API_KEY)")
		format   = fs.String("format", "table", "output format: table, csv or json")
		timing   = fs.Bool("timing", false, "print each statement's round-trip time")
		history  = fs.String("history", "~/.phantom_history", "interactive history file (empty: none)")
		inputs   []sqlInput
	)
	fs.Var(sqlInputs{list: &inputs}, "c", "run these statements (or a backslash command) and exit; repeatable")
	fs.Var(sqlInputs{list: &inputs, file: true}, "f", "run the statements of this file ('-': stdin) and exit; repeatable")
	return &ffcli.Command{
		Name:       "sql",
		ShortUsage: "phantom sql [--url URL] [-c SQL]... [-f FILE]... [--format table|csv|json]",
		ShortHelp:  "SQL shell over the HTTP SQL API",
		LongHelp: "Runs SQL against a compute node's HTTP API in one server session, so\n" +
			"BEGIN ... COMMIT spans statements. With -c or -f, or when stdin is not a\n" +
			"terminal, runs the statements and exits; it stops at the first error and\n" +
			"exits 1 (like psql -v ON_ERROR_STOP=1). On a terminal it is interactive\n" +
			"(line editing, history in ~/.phantom_history; \\? lists the commands).",
		FlagSet: fs,
		Options: envOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("sql: unexpected arguments %q", args)
			}
			f, err := sqlshell.ParseFormat(*format)
			if err != nil {
				return err
			}
			client, err := sqlshell.NewClient(sqlshell.ClientConfig{URL: *url, Database: *database, APIKey: *apiKey})
			if err != nil {
				return err
			}
			if err := client.OpenSession(ctx); err != nil {
				var apiErr *sqlshell.Error
				if !errors.As(err, &apiErr) || apiErr.HTTPStatus == http.StatusUnauthorized || apiErr.HTTPStatus == http.StatusForbidden {
					return fmt.Errorf("sql: %w", err)
				}
				fmt.Fprintf(os.Stderr, "WARNING:  %v; each statement runs in its own transaction\n", err)
			}
			err = runSQL(ctx, client, sqlRun{inputs: inputs, format: f, timing: *timing, history: *history,
				stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr})
			if cerr := client.CloseWithTimeout(); cerr != nil && err == nil {
				fmt.Fprintf(os.Stderr, "WARNING:  %v\n", cerr)
			}
			if errors.Is(err, sqlshell.ErrStatementFailed) {
				os.Exit(1) // the error is printed; psql exits 1 without more
			}
			return err
		},
	}
}

// sqlRun is what runSQL runs and where it reads and writes.
type sqlRun struct {
	inputs  []sqlInput
	format  sqlshell.Format
	timing  bool
	history string // interactive history file, "~/" expanded
	stdin   *os.File
	stdout  io.Writer
	stderr  io.Writer
}

// runSQL runs the -c/-f inputs in order, else stdin: interactively on a
// terminal, as a script otherwise.
func runSQL(ctx context.Context, client *sqlshell.Client, run sqlRun) error {
	inputs, history := run.inputs, run.history
	interactive := len(inputs) == 0 && sqlshell.IsTerminal(run.stdin.Fd())
	sh, err := sqlshell.New(sqlshell.Config{Client: client, Format: run.format, Timing: run.timing,
		StopOnError: !interactive, Out: run.stdout, Err: run.stderr})
	if err != nil {
		return err
	}
	if interactive {
		r, err := sqlshell.NewTerminalReader(expandHome(history))
		if err != nil {
			return err
		}
		defer r.Close()
		fmt.Fprintf(run.stdout, "phantom sql (%s). Type \\? for help, \\q to quit.\n", client.URL())
		ictx, stop := interactiveSignals(ctx, sh, client, r)
		defer stop()
		return sh.Run(ictx, r)
	}
	if len(inputs) == 0 {
		return sh.Run(ctx, sqlshell.NewPlainReader(run.stdin))
	}
	for _, in := range inputs {
		if !in.file {
			err = sh.Exec(ctx, in.text)
		} else {
			err = runFile(ctx, sh, in.text, run.stdin)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// interactiveSignals makes Ctrl-C (SIGINT) cancel only the statement in
// flight (at the prompt the terminal reader sees Ctrl-C itself) instead of
// ending the shell, as in psql. SIGTERM ends the shell: the terminal leaves
// raw mode, the session is closed (rolling back an open transaction) and
// the process exits 143. main's handler cancels ctx on either signal, so
// the returned context does not inherit that cancellation.
func interactiveSignals(ctx context.Context, sh *sqlshell.Shell, client *sqlshell.Client, r *sqlshell.TerminalReader) (context.Context, func()) {
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				if sig == os.Interrupt {
					sh.Interrupt()
					continue
				}
				cancel()
				_ = r.Restore()
				if err := client.CloseWithTimeout(); err != nil {
					fmt.Fprintf(os.Stderr, "WARNING:  %v\n", err)
				}
				os.Exit(143) // a ReadLine blocked on the terminal cannot be woken
			case <-done:
				return
			}
		}
	}()
	return ictx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

func runFile(ctx context.Context, sh *sqlshell.Shell, path string, stdin io.Reader) error {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("sql: %w", err)
		}
		defer f.Close()
		r = f
	}
	return sh.Run(ctx, sqlshell.NewPlainReader(r))
}

// expandHome turns a leading ~/ into the user's home directory.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
		return ""
	}
	return p
}
