// Command record rewrites the sqllogictest files of test/sql with the
// answers of a real PostgreSQL: it starts a throwaway server from the
// PostgreSQL binaries on the machine (see test/pgserver), runs every file in
// a fresh database over one connection, and writes the query results and
// error codes into the file. `make slt-record` runs it on every file; give
// file names to record only those.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phantom-db/phantom/compute/sql/logictest"
	"github.com/phantom-db/phantom/test/pgserver"
)

func main() {
	glob := flag.String("glob", "test/sql/*.test", "files to record when none are named")
	flag.Parse()
	files := flag.Args()
	if len(files) == 0 {
		var err error
		if files, err = filepath.Glob(*glob); err != nil || len(files) == 0 {
			fmt.Fprintf(os.Stderr, "record: no files match %s\n", *glob)
			os.Exit(2)
		}
	}
	if err := run(files); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(files []string) error {
	ctx := context.Background()
	srv, err := pgserver.Start(ctx, pgserver.Options{})
	if err != nil {
		return err
	}
	defer srv.Stop()
	admin, err := connect(ctx, srv.DSN("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	failed := 0
	for i, f := range files {
		db := fmt.Sprintf("slt_%d", i)
		if err := admin.Exec(ctx, "CREATE DATABASE "+db).Close(); err != nil {
			return fmt.Errorf("record: create database: %w", err)
		}
		err := recordFile(ctx, srv.DSN(db), f)
		if err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "%v\n\n", err)
		} else {
			slog.Info("recorded", "file", f)
		}
		if err := admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)").Close(); err != nil {
			return fmt.Errorf("record: drop database: %w", err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("record: %d of %d files failed (left unchanged)", failed, len(files))
	}
	return nil
}

func recordFile(ctx context.Context, dsn, path string) error {
	conn, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return logictest.RecordFile(ctx, path, "postgresql", logictest.PGExec(conn))
}

// connect retries while the server finishes starting.
func connect(ctx context.Context, dsn string) (*pgconn.PgConn, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := pgconn.Connect(ctx, dsn)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("record: connect: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
