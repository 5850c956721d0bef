package tpch

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"

	"github.com/phantom-db/phantom/bench/devproc"
)

// phantomSystem is `phantom dev` (every service in one process, each on its
// own loopback port and talking to the others over its network API) on a
// fresh data directory (or a kept one, Config.PhantomDataDir), loaded with
// COPY FROM STDIN (or multi-row INSERTs) over the PostgreSQL protocol and
// queried over it.
type phantomSystem struct {
	cfg  *Config
	dev  *devproc.Dev
	dsn  string
	conn *pgconn.PgConn
	// keptLoad is set when load found a complete earlier load.
	keptLoad bool
}

// wasReused reports whether load kept an earlier load.
func (p *phantomSystem) wasReused() bool { return p.keptLoad }

func startPhantom(ctx context.Context, cfg *Config, dir string) (*phantomSystem, error) {
	var args []string
	if cfg.PhantomPprof != "" {
		args = append(args, "--pprof", cfg.PhantomPprof)
	}
	dev, err := devproc.Start(ctx, devproc.Options{Bin: cfg.PhantomBin, Dir: dir, DataDir: cfg.PhantomDataDir,
		// The harness bounds each query itself (QueryTimeout).
		StatementTimeout: cfg.QueryTimeout + time.Minute,
		Args:             args})
	if err != nil {
		return nil, fmt.Errorf("phantom: %w", err)
	}
	p := &phantomSystem{cfg: cfg, dev: dev, dsn: dev.DSN("tpch")}
	if p.conn, err = pgconn.Connect(ctx, p.dsn); err != nil {
		dev.Stop()
		return nil, fmt.Errorf("phantom: connect: %w", err)
	}
	return p, nil
}

func (p *phantomSystem) name() string { return "phantom" }

// loadedMarker is the file in phantom's data directory that records the
// scale factor a completed load was of, so a later run with the same
// --phantom-data directory reuses the data instead of loading it again.
const loadedMarker = "tpch-loaded-sf"

// reused reports whether the data directory already holds a complete load
// of this scale factor.
func (p *phantomSystem) reused() bool {
	if p.cfg.PhantomDataDir == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(p.cfg.PhantomDataDir, loadedMarker))
	return err == nil && strings.TrimSpace(string(b)) == strconv.FormatFloat(p.cfg.SF, 'g', -1, 64)
}

// load creates the tables and loads every file's rows in statements of
// cfg.BatchRows rows, cfg.Loaders at a time, each loader on its own
// connection: COPY FROM STDIN (the default) or multi-row INSERTs
// (cfg.LoadInserts). Either is the normal write path: parse, bind,
// transaction, one commit through the log service per statement. ANALYZE
// then gathers the statistics the planner uses. With cfg.PhantomDataDir
// holding a complete load of the same scale factor, nothing is loaded.
func (p *phantomSystem) load(ctx context.Context, ds *Dataset) error {
	if p.reused() {
		p.keptLoad = true
		fmt.Fprintf(p.cfg.Progress, "phantom: reusing the SF %g load in %s\n", p.cfg.SF, p.cfg.PhantomDataDir)
		return nil
	}
	for _, t := range tables {
		if err := p.conn.Exec(ctx, t.ddl()).Close(); err != nil {
			return fmt.Errorf("phantom: create %s: %s", t.name, describeError(err))
		}
	}
	conns := make([]*pgconn.PgConn, p.cfg.Loaders)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close(context.Background())
			}
		}
	}()
	for i := range conns {
		c, err := pgconn.Connect(ctx, p.dsn)
		if err != nil {
			return fmt.Errorf("phantom: loader connect: %w", err)
		}
		conns[i] = c
	}
	for _, t := range tables {
		if err := p.loadTable(ctx, conns, ds, t); err != nil {
			return err
		}
	}
	for _, t := range tables {
		if err := p.conn.Exec(ctx, "ANALYZE "+t.name).Close(); err != nil {
			return fmt.Errorf("phantom: analyze %s: %s", t.name, describeError(err))
		}
	}
	if p.cfg.PhantomDataDir != "" {
		sf := strconv.FormatFloat(p.cfg.SF, 'g', -1, 64)
		if err := os.WriteFile(filepath.Join(p.cfg.PhantomDataDir, loadedMarker), []byte(sf+"\n"), 0o644); err != nil {
			return fmt.Errorf("phantom: %w", err)
		}
	}
	return nil
}

// chunk is one load statement: SQL text, and for COPY the rows it reads.
type chunk struct {
	sql  string
	rows []byte
}

func (p *phantomSystem) loadTable(ctx context.Context, conns []*pgconn.PgConn, ds *Dataset, t table) error {
	f, err := os.Open(ds.Path(t.name))
	if err != nil {
		return fmt.Errorf("phantom: %w", err)
	}
	defer f.Close()
	chunks := make(chan chunk, len(conns))
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range conns {
		g.Go(func() error {
			for ch := range chunks {
				var err error
				if ch.rows != nil {
					_, err = c.CopyFrom(gctx, bytes.NewReader(ch.rows), ch.sql)
				} else {
					err = c.Exec(gctx, ch.sql).Close()
				}
				if err != nil {
					return fmt.Errorf("phantom: load %s: %s", t.name, describeError(err))
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(chunks)
		if p.cfg.LoadInserts {
			return insertStatements(gctx, f, t, p.cfg.BatchRows, chunks)
		}
		return copyChunks(gctx, f, t, p.cfg.BatchRows, chunks)
	})
	return g.Wait()
}

// copyChunks reads t's rows from r (dbgen's '|'-separated lines) and sends
// them as COPY FROM STDIN statements of up to batch rows each.
func copyChunks(ctx context.Context, r io.Reader, t table, batch int, out chan<- chunk) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (DELIMITER '|')", t.name, t.columnNames())
	var buf []byte
	n := 0
	send := func() error {
		if n == 0 {
			return nil
		}
		select {
		case out <- chunk{sql: sql, rows: buf}:
		case <-ctx.Done():
			return ctx.Err()
		}
		buf, n = nil, 0
		return nil
	}
	for sc.Scan() {
		line := sc.Bytes()
		if got := bytes.Count(line, []byte{'|'}) + 1; got != len(t.cols) {
			return fmt.Errorf("phantom: %s row has %d fields, want %d", t.name, got, len(t.cols))
		}
		if bytes.IndexByte(line, '\\') >= 0 {
			return fmt.Errorf("phantom: %s row holds a backslash, which COPY's text format would read as an escape", t.name)
		}
		buf = append(append(buf, line...), '\n')
		if n++; n == batch {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("phantom: read %s: %w", t.name, err)
	}
	return send()
}

// insertStatements reads t's rows from r and sends them as INSERT
// statements of up to batch rows each.
func insertStatements(ctx context.Context, r io.Reader, t table, batch int, out chan<- chunk) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	head := fmt.Sprintf("INSERT INTO %s (%s) VALUES ", t.name, t.columnNames())
	var sb strings.Builder
	n := 0
	send := func() error {
		if n == 0 {
			return nil
		}
		select {
		case out <- chunk{sql: sb.String()}:
		case <-ctx.Done():
			return ctx.Err()
		}
		sb.Reset()
		n = 0
		return nil
	}
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "|")
		if len(fields) != len(t.cols) {
			return fmt.Errorf("phantom: %s row has %d fields, want %d", t.name, len(fields), len(t.cols))
		}
		if n == 0 {
			sb.WriteString(head)
		} else {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for i, v := range fields {
			if i > 0 {
				sb.WriteString(", ")
			}
			if t.cols[i].quoted() {
				sb.WriteByte('\'')
				sb.WriteString(strings.ReplaceAll(v, "'", "''"))
				sb.WriteByte('\'')
			} else {
				sb.WriteString(v)
			}
		}
		sb.WriteByte(')')
		if n++; n == batch {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("phantom: read %s: %w", t.name, err)
	}
	return send()
}

func (p *phantomSystem) run(ctx context.Context, q Query) (*resultSet, error) {
	if p.conn == nil || p.conn.IsClosed() { // a cancelled query may leave it closed
		c, err := pgconn.Connect(ctx, p.dsn)
		if err != nil {
			return nil, fmt.Errorf("phantom: reconnect: %w", err)
		}
		p.conn = c
	}
	return pgRun(ctx, p.conn, q)
}

// close stops the process (SIGTERM, then SIGKILL of its group after 10 s).
func (p *phantomSystem) close() {
	if p.conn != nil {
		p.conn.Close(context.Background())
	}
	p.dev.Stop()
}
