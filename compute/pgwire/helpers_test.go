package pgwire

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

// newEngine returns a memkv-backed engine whose Arrow memory is checked
// for leaks when the test ends (after the server closed).
func newEngine(t testing.TB) *sql.Engine {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	kv, err := memkv.New(memkv.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	e, err := sql.New(sql.Config{KV: kv, DatabaseID: 1, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// startServer serves cfg (an engine session by default) on 127.0.0.1:0
// and returns the server and its address.
func startServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.NewSession == nil {
		cfg.NewSession = EngineSessions(newEngine(t))
	}
	if cfg.SCRAM == nil {
		cfg.Trust = true
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	})
	return s, ln.Addr().String()
}

// connect opens a pgx connection to addr with the given exec mode.
func connect(t testing.TB, addr string, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig("postgres://tester@" + addr + "/phantom?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
