package tpch

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phantom-db/phantom/test/pgserver"
)

// pgSystem is a throwaway PostgreSQL server (the machine's PostgreSQL 15
// binaries, fsync on), loaded with COPY and analyzed.
type pgSystem struct {
	srv  *pgserver.Server
	conn *pgconn.PgConn
}

// pgSettings give PostgreSQL memory for a benchmark instead of its
// defaults for small machines.
var pgSettings = []string{"shared_buffers=1GB", "work_mem=64MB", "effective_cache_size=4GB"}

func startPostgres(ctx context.Context, logFile *os.File) (*pgSystem, error) {
	srv, err := pgserver.Start(ctx, pgserver.Options{Fsync: true, Settings: pgSettings, Log: logFile})
	if err != nil {
		return nil, err
	}
	conn, err := pgConnect(ctx, srv.DSN("postgres"), 30*time.Second)
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &pgSystem{srv: srv, conn: conn}, nil
}

func (p *pgSystem) name() string { return "postgres" }

func (p *pgSystem) load(ctx context.Context, ds *Dataset) error {
	for _, t := range tables {
		if err := p.conn.Exec(ctx, t.ddl()).Close(); err != nil {
			return fmt.Errorf("postgres: create %s: %w", t.name, err)
		}
		f, err := os.Open(ds.Path(t.name))
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		_, err = p.conn.CopyFrom(ctx, f, fmt.Sprintf("COPY %s FROM STDIN WITH (DELIMITER '|')", t.name))
		f.Close()
		if err != nil {
			return fmt.Errorf("postgres: copy %s: %w", t.name, err)
		}
	}
	if err := p.conn.Exec(ctx, "VACUUM ANALYZE").Close(); err != nil {
		return fmt.Errorf("postgres: analyze: %w", err)
	}
	return nil
}

func (p *pgSystem) run(ctx context.Context, q Query) (*resultSet, error) {
	if p.conn.IsClosed() { // a cancelled query may leave the connection closed
		c, err := pgconn.Connect(ctx, p.srv.DSN("postgres"))
		if err != nil {
			return nil, fmt.Errorf("postgres: reconnect: %w", err)
		}
		p.conn = c
	}
	return pgRun(ctx, p.conn, q)
}

func (p *pgSystem) close() {
	p.conn.Close(context.Background())
	p.srv.Stop()
}
