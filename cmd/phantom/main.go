// Command phantom is Phantom-DB's single binary. Each service is a
// subcommand (phantom dev | compute | logservice | pageserver | control-plane | proxy),
// next to the tools (phantom sql | bench | logservice admin | version); every
// flag can also be set by an environment variable named
// PHANTOM_<FLAG> with dashes turned into underscores (--data-dir is
// PHANTOM_DATA_DIR).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/phantom-db/phantom/internal/buildinfo"
)

func main() {
	tuneGC()
	root := &ffcli.Command{
		ShortUsage: "phantom <subcommand> [flags]",
		LongHelp: "Phantom-DB: a serverless distributed SQL database.\n\n" +
			"Every flag may also be set through the environment as PHANTOM_<FLAG>\n" +
			"(dashes become underscores), e.g. PHANTOM_DATA_DIR=./data.",
		Subcommands: []*ffcli.Command{
			devCommand(),
			computeCommand(),
			logserviceCommand(),
			pageserverCommand(),
			controlPlaneCommand(),
			proxyCommand(),
			statusCommand(os.Stdout),
			benchCommand(),
			sqlCommand(),
			versionCommand(),
		},
		Exec: func(context.Context, []string) error { return flag.ErrHelp },
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ParseAndRun(ctx, os.Args[1:])
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "phantom:", err)
		os.Exit(1)
	}
}

// envOptions makes every flag settable as PHANTOM_<FLAG>.
func envOptions() []ff.Option {
	return []ff.Option{ff.WithEnvVarPrefix("PHANTOM")}
}

// newLogger builds the process logger from --log-level and --log-format.
func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("bad --log-format %q: want text or json", format)
	}
}

// logFlags registers the logging flags every subcommand shares.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", "text", "log format: text or json")
}

// serviceCommand builds the subcommand of a long-running service: it parses
// flags (and PHANTOM_* variables), starts the service, runs until SIGINT or
// SIGTERM, then closes it cleanly.
func serviceCommand(name, help string, register func(*flag.FlagSet), logs *logFlags,
	start func(context.Context, *slog.Logger) (io.Closer, error)) *ffcli.Command {
	fs := flag.NewFlagSet("phantom "+name, flag.ContinueOnError)
	register(fs)
	logs.register(fs)
	return &ffcli.Command{
		Name:       name,
		ShortUsage: "phantom " + name + " [flags]",
		ShortHelp:  help,
		FlagSet:    fs,
		Options:    envOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			log, err := newLogger(logs.level, logs.format)
			if err != nil {
				return err
			}
			n, err := start(ctx, log)
			if err != nil {
				return err
			}
			<-ctx.Done()
			return n.Close()
		},
	}
}

func versionCommand() *ffcli.Command {
	return &ffcli.Command{
		Name:       "version",
		ShortUsage: "phantom version",
		ShortHelp:  "print the version",
		Exec: func(context.Context, []string) error {
			fmt.Println("phantom", buildinfo.Version)
			return nil
		},
	}
}
