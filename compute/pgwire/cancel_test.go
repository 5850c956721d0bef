package pgwire

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/phantom-db/phantom/compute/sql"
)

// slowSession runs the engine, except that a query containing "slow()"
// blocks until its context is cancelled, after signalling started.
type slowSession struct {
	engineSession
	started chan struct{}
}

func (s *slowSession) Execute(ctx context.Context, query string, params []any) ([]*sql.Result, error) {
	if !strings.Contains(query, "slow()") {
		return s.engineSession.Execute(ctx, query, params)
	}
	s.started <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *slowSession) Describe(ctx context.Context, query string, known []string) (*sql.Description, error) {
	if !strings.Contains(query, "slow()") {
		return s.engineSession.Describe(ctx, query, known)
	}
	return &sql.Description{Params: []string{"int8"}, Columns: []sql.Column{{Name: "slow", Type: "int8"}}}, nil
}

func startSlowServer(t *testing.T, cfg Config) (string, chan struct{}) {
	started := make(chan struct{}, 1)
	eng := newEngine(t)
	cfg.NewSession = func() Session { return &slowSession{engineSession{eng}, started} }
	_, addr := startServer(t, cfg)
	return addr, started
}

func wantCode(t *testing.T, err error, code, msg string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != code || !strings.Contains(pe.Message, msg) {
		t.Fatalf("want SQLSTATE %s %q, got %v", code, msg, err)
	}
}

func TestCancelRequestCancelsRunningQuery(t *testing.T) {
	addr, started := startSlowServer(t, Config{})
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := testCtx(t)
			c := connect(t, addr, mode)
			errc := make(chan error, 1)
			go func() {
				var n int64
				errc <- c.QueryRow(ctx, "SELECT slow() WHERE 1 = $1", int64(1)).Scan(&n)
			}()
			<-started
			if err := c.PgConn().CancelRequest(ctx); err != nil {
				t.Fatal(err)
			}
			wantCode(t, <-errc, "57014", "canceling statement due to user request")
			var one int32
			if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("after cancel: %d %v", one, err)
			}
		})
	}
}

func TestContextCancelSendsCancelRequest(t *testing.T) {
	addr, started := startSlowServer(t, Config{})
	cfg, err := pgx.ParseConfig("postgres://tester@" + addr + "/phantom?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	// pgx's default reacts to a cancelled context by breaking the
	// connection; this handler sends a CancelRequest instead, as libpq does.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 10 * time.Second}
	}
	c, err := pgx.ConnectConfig(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	qctx, cancel := context.WithCancel(testCtx(t))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Exec(qctx, "SELECT slow()")
		errc <- err
	}()
	<-started
	cancel()
	wantCode(t, <-errc, "57014", "canceling statement due to user request")
	var one int32
	if err := c.QueryRow(testCtx(t), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after cancel: %d %v", one, err)
	}
}

func TestStatementTimeout(t *testing.T) {
	addr, started := startSlowServer(t, Config{StatementTimeout: 50 * time.Millisecond})
	c := connect(t, addr, pgx.QueryExecModeSimpleProtocol)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Exec(testCtx(t), "SELECT slow()")
		errc <- err
	}()
	<-started
	wantCode(t, <-errc, "57014", "statement timeout")
}

// plainSession is a Session that cannot describe statements.
type plainSession struct{ s engineSession }

func (p plainSession) Execute(ctx context.Context, query string, params []any) ([]*sql.Result, error) {
	return p.s.Execute(ctx, query, params)
}
func (p plainSession) TxStatus() byte { return p.s.TxStatus() }
func (p plainSession) Close()         {}

func TestDescribedBy(t *testing.T) {
	eng := newEngine(t)
	_, addr := startServer(t, Config{NewSession: DescribedBy(func() Session { return plainSession{engineSession{eng}} }, eng)})
	ctx := testCtx(t)
	c := connect(t, addr, pgx.QueryExecModeCacheStatement)
	var n int64
	if err := c.QueryRow(ctx, "SELECT $1 + 1", int64(41)).Scan(&n); err != nil || n != 42 {
		t.Fatalf("got %d %v", n, err)
	}
}
