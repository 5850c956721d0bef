package tpch

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"

	"github.com/phantom-db/phantom/bench/devproc"
)

// phantomSystem is `phantom dev` (every service in one process, each on its
// own loopback port and talking to the others over its network API) on a
// fresh data directory, loaded with multi-row INSERTs over the PostgreSQL
// protocol and queried over it.
type phantomSystem struct {
	cfg  *Config
	dev  *devproc.Dev
	dsn  string
	conn *pgconn.PgConn
}

func startPhantom(ctx context.Context, cfg *Config, dir string) (*phantomSystem, error) {
	dev, err := devproc.Start(ctx, devproc.Options{Bin: cfg.PhantomBin, Dir: dir})
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

// load creates the tables and inserts every file's rows as multi-row
// INSERT statements of cfg.BatchRows rows, cfg.Loaders at a time, each
// loader on its own connection: the normal write path (parse, bind,
// transaction, one commit through the log service per statement).
func (p *phantomSystem) load(ctx context.Context, ds *Dataset) error {
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
	return nil
}

func (p *phantomSystem) loadTable(ctx context.Context, conns []*pgconn.PgConn, ds *Dataset, t table) error {
	f, err := os.Open(ds.Path(t.name))
	if err != nil {
		return fmt.Errorf("phantom: %w", err)
	}
	defer f.Close()
	stmts := make(chan string, len(conns))
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range conns {
		g.Go(func() error {
			for s := range stmts {
				if err := c.Exec(gctx, s).Close(); err != nil {
					return fmt.Errorf("phantom: insert into %s: %s", t.name, describeError(err))
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(stmts)
		return insertStatements(gctx, f, t, p.cfg.BatchRows, stmts)
	})
	return g.Wait()
}

// insertStatements reads t's rows from r and sends them as INSERT
// statements of up to batch rows each.
func insertStatements(ctx context.Context, r *os.File, t table, batch int, out chan<- string) error {
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
		case out <- sb.String():
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
