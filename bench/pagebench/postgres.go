package pagebench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phantom-db/phantom/test/pgserver"
)

// PostgresResult is the peer's side of the point reads.
type PostgresResult struct {
	Version string
	Rows    int
	Load    time.Duration // COPY + primary key + ANALYZE
	Point   []Latency
}

// postgresBin is dir when it holds the postgres server, or, for an empty
// dir, the one test/pgserver finds.
func postgresBin(dir string) (string, error) {
	if dir == "" {
		return pgserver.FindBinDir()
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres")); err != nil {
		return "", fmt.Errorf("not found in %s (apt-get install postgresql-15)", dir)
	}
	return dir, nil
}

// runPostgres starts a throwaway PostgreSQL (test/pgserver: a temp dir, a
// loopback port, the postgres user when run as root, fsync off: none of
// its settings affects a read of a cached row), loads PostgresRows rows
// with COPY (the same values as phantom's rows), and measures primary-key
// SELECT latency at every concurrency level.
func runPostgres(ctx context.Context, cfg *Config, dir string, value func(int64) []byte) (_ *PostgresResult, err error) {
	progress := func(format string, args ...any) {
		fmt.Fprintf(cfg.Progress, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	progress("postgres: initdb")
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, fmt.Errorf("pagebench: %w", err)
	}
	defer logf.Close()
	srv, err := pgserver.Start(ctx, pgserver.Options{BinDir: cfg.PostgresBin, Log: logf})
	if err != nil {
		return nil, fmt.Errorf("pagebench: %w", err)
	}
	defer srv.Stop()

	url := srv.DSN("postgres")
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var conn *pgx.Conn
	if err := retry(wctx, 50*time.Millisecond, func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, url)
		if err == nil {
			conn = c
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("pagebench: postgres not ready (log %s): %w", logf.Name(), err)
	}
	defer conn.Close(context.Background())
	// One connection per client, handed out like a pool.
	maxc := 1
	for _, c := range cfg.Concurrency {
		maxc = max(maxc, c)
	}
	conns := make(chan *pgx.Conn, maxc)
	for range maxc {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("pagebench: postgres connect: %w", err)
		}
		defer c.Close(context.Background())
		conns <- c
	}
	r := &PostgresResult{Rows: cfg.PostgresRows}
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&r.Version); err != nil {
		return nil, fmt.Errorf("pagebench: postgres version: %w", err)
	}

	progress("postgres %s: loading %d rows (COPY, then the primary key)", r.Version, r.Rows)
	start := time.Now()
	// COPY ... FREEZE into a table created in the same transaction writes
	// the rows frozen with their hint bits set, so the measured reads do
	// not pay for the first-touch hint-bit writes a plain bulk load leaves
	// behind (what VACUUM would do, without its time).
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("pagebench: postgres: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "CREATE TABLE bench (id bigint NOT NULL, v text NOT NULL)"); err != nil {
		return nil, fmt.Errorf("pagebench: postgres: %w", err)
	}
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		var line []byte
		for id := int64(0); id < int64(r.Rows); id++ {
			line = strconv.AppendInt(line[:0], id, 10)
			line = append(line, '\t')
			line = append(line, value(id)...) // lowercase letters: nothing to escape
			line = append(line, '\n')
			if _, err := bw.Write(line); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(bw.Flush())
	}()
	if _, err := conn.PgConn().CopyFrom(ctx, pr, "COPY bench (id, v) FROM STDIN WITH (FREEZE)"); err != nil {
		pr.CloseWithError(err)
		return nil, fmt.Errorf("pagebench: postgres copy: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("pagebench: postgres copy commit: %w", err)
	}
	for _, q := range []string{"ALTER TABLE bench ADD PRIMARY KEY (id)", "ANALYZE bench"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("pagebench: postgres %s: %w", q, err)
		}
	}
	r.Load = time.Since(start)
	progress("postgres loaded in %s", r.Load.Round(time.Millisecond))

	read := func(ctx context.Context, id int64) error {
		c := <-conns
		defer func() { conns <- c }()
		var v string
		if err := c.QueryRow(ctx, "SELECT v FROM bench WHERE id = $1", id).Scan(&v); err != nil {
			return err
		}
		if v != string(value(id)) {
			return fmt.Errorf("pagebench: postgres row %d: wrong value", id)
		}
		return nil
	}
	for _, c := range cfg.Concurrency {
		progress("postgres point reads, %d clients, %s", c, cfg.ReadDuration)
		l, err := pointReads(ctx, c, cfg.ReadDuration, r.Rows, read)
		if err != nil {
			return nil, err
		}
		r.Point = append(r.Point, l)
	}
	return r, nil
}
