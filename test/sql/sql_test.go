// Package sqlsuite runs the PostgreSQL-recorded sqllogictest files of
// test/sql against Phantom-DB: each file in a fresh in-memory database,
// over one PostgreSQL protocol connection to a real pgwire server on
// loopback, so results are compared as the text a client reads.
package sqlsuite

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phantom-db/phantom/compute/pgwire"
	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/sql/logictest"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

func TestSQL(t *testing.T) {
	logictest.RunGlobOptions(t, "*.test", logictest.Options{Engine: "phantom"}, func(t *testing.T) logictest.ExecFunc {
		return logictest.PGExec(connect(t))
	})
}

// connect starts an engine and a pgwire server for one file and returns a
// connection to it.
func connect(t *testing.T) *pgconn.PgConn {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	kv, err := memkv.New(memkv.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	e, err := sql.New(sql.Config{KV: kv, DatabaseID: 1, Allocator: mem, BatchRows: 64})
	if err != nil {
		t.Fatal(err)
	}
	// Sessions as cmd/phantom compute builds them.
	srv, err := pgwire.New(pgwire.Config{Trust: true, NewSession: pgwire.DescribedBy(func() pgwire.Session { return e.NewSession() }, e)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, "postgres://phantom@"+ln.Addr().String()+"/phantom?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close(ctx)
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
		if err := <-done; !errors.Is(err, pgwire.ErrClosed) {
			t.Errorf("Serve returned %v", err)
		}
		mem.AssertSize(t, 0)
	})
	return conn
}
