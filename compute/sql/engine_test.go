package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

func newEngine(t testing.TB, cfg Config) (*Engine, *memkv.Store) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	kv, err := memkv.New(memkv.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.KV == nil {
		cfg.KV = kv
	}
	cfg.Allocator = mem
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, kv
}

func mustExec(t testing.TB, e *Engine, q string, params ...any) []*Result {
	t.Helper()
	res, err := e.Execute(context.Background(), q, params)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	t.Cleanup(func() {
		for _, r := range res {
			r.Release()
		}
	})
	return res
}

func TestConfig(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrNoKV) {
		t.Fatalf("want ErrNoKV, got %v", err)
	}
	kv, _ := memkv.New(memkv.Config{})
	if _, err := New(Config{KV: kv, MaxResultRows: -1}); err == nil {
		t.Fatal("negative MaxResultRows must be rejected")
	}
}

func TestCommandTagsColumnsAndRows(t *testing.T) {
	e, _ := newEngine(t, Config{})
	res := mustExec(t, e, `CREATE TABLE t (a INT PRIMARY KEY, b BIGINT, c DOUBLE PRECISION, d TEXT, f BOOL);
		INSERT INTO t VALUES (1, 2, 3.5, 'x', true), (2, NULL, NULL, NULL, NULL);
		SELECT * FROM t ORDER BY a;
		DROP TABLE t`)
	if len(res) != 4 {
		t.Fatalf("got %d results", len(res))
	}
	tags := []string{res[0].Command, res[1].Command, res[2].Command, res[3].Command}
	if fmt.Sprint(tags) != "[CREATE TABLE INSERT 0 2 SELECT 2 DROP TABLE]" {
		t.Fatalf("tags %v", tags)
	}
	if res[1].RowCount != 2 || res[2].RowCount != 2 || res[0].Batches != nil || res[1].Batches != nil {
		t.Fatal("row counts / batches wrong")
	}
	if got := fmt.Sprint(res[2].Columns); got != "[{a int4} {b int8} {c float8} {d text} {f bool}]" {
		t.Fatalf("columns %s", got)
	}
	rows := res[2].Rows()
	want := [][]any{{int32(1), int64(2), 3.5, "x", true}, {int32(2), nil, nil, nil, nil}}
	if fmt.Sprintf("%#v", rows) != fmt.Sprintf("%#v", want) {
		t.Fatalf("rows %#v", rows)
	}
}

func TestPartialResultsOnError(t *testing.T) {
	e, _ := newEngine(t, Config{})
	res, err := e.Execute(context.Background(), "CREATE TABLE t (a INT PRIMARY KEY); INSERT INTO t VALUES (1); SELECT nope FROM t; INSERT INTO t VALUES (2)", nil)
	defer func() {
		for _, r := range res {
			r.Release()
		}
	}()
	if sqlerr.Code(err) != "42703" || len(res) != 2 {
		t.Fatalf("got %d results, err %v", len(res), err)
	}
	se := sqlerr.As(err)
	if se.Position != strings.Index("CREATE TABLE t (a INT PRIMARY KEY); INSERT INTO t VALUES (1); SELECT nope FROM t", "nope")+1 {
		t.Fatalf("position %d", se.Position)
	}
	r := mustExec(t, e, "SELECT count(*) FROM t")
	if r[0].Rows()[0][0] != int64(1) {
		t.Fatal("the statement after the error must not run")
	}
}

func TestMaxResultRows(t *testing.T) {
	e, _ := newEngine(t, Config{MaxResultRows: 3})
	mustExec(t, e, "CREATE TABLE t (a INT PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3), (4)")
	mustExec(t, e, "SELECT * FROM t LIMIT 3")
	_, err := e.Execute(context.Background(), "SELECT * FROM t", nil)
	if sqlerr.Code(err) != "54000" {
		t.Fatalf("want 54000, got %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	e, _ := newEngine(t, Config{})
	mustExec(t, e, "CREATE TABLE t (a INT PRIMARY KEY)")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Execute(ctx, "SELECT * FROM t", nil)
	if sqlerr.Code(err) != "57014" {
		t.Fatalf("want 57014, got %v", err)
	}
}

// racingKV runs a competing statement just before the first commit it sees,
// so that commit's snapshot is stale.
type racingKV struct {
	storage.KV
	once sync.Once
	race func()
}

func (r *racingKV) Commit(ctx context.Context, snap storage.Snapshot, muts []storage.Mutation, reads []storage.KeyRange) (uint64, error) {
	r.once.Do(r.race)
	return r.KV.Commit(ctx, snap, muts, reads)
}

func TestConcurrentWritesConflict(t *testing.T) {
	for _, tc := range []struct{ name, setup, mine, theirs string }{
		{"create", "", "CREATE TABLE a (k INT PRIMARY KEY)", "CREATE TABLE b (k INT PRIMARY KEY)"},
		{"insert", "CREATE TABLE t (k INT PRIMARY KEY, v TEXT)", "INSERT INTO t VALUES (1, 'mine')", "INSERT INTO t VALUES (1, 'theirs')"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other, kv := newEngine(t, Config{})
			if tc.setup != "" {
				mustExec(t, other, tc.setup)
			}
			racing := &racingKV{KV: kv, race: func() { mustExec(t, other, tc.theirs) }}
			mine, err := New(Config{KV: racing, Allocator: memory.NewGoAllocator()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = mine.Execute(context.Background(), tc.mine, nil)
			if sqlerr.Code(err) != "40001" {
				t.Fatalf("want 40001, got %v", err)
			}
		})
	}
	// The winner of the CREATE race got id 1; a later CREATE gets a fresh id.
	e, _ := newEngine(t, Config{})
	mustExec(t, e, "CREATE TABLE x (k INT PRIMARY KEY); INSERT INTO x VALUES (1); DROP TABLE x; CREATE TABLE y (k INT PRIMARY KEY)")
	if r := mustExec(t, e, "SELECT count(*) FROM y"); r[0].Rows()[0][0] != int64(0) {
		t.Fatal("a new table must not see a dropped table's rows")
	}
}

// TestManyBatches runs a 5,000-row table (several 1024-row batches) through
// scan, filter, sort, limit and count.
func TestManyBatches(t *testing.T) {
	e, _ := newEngine(t, Config{})
	mustExec(t, e, "CREATE TABLE t (id BIGINT PRIMARY KEY, g INT, s TEXT)")
	var sb strings.Builder
	for i := range 5000 {
		if sb.Len() > 0 {
			sb.WriteString(", ")
		}
		g := "NULL"
		if i%7 != 0 {
			g = fmt.Sprint(i % 10)
		}
		fmt.Fprintf(&sb, "(%d, %s, 's%04d')", i, g, (i*7919)%5000)
	}
	mustExec(t, e, "INSERT INTO t VALUES "+sb.String())
	res := mustExec(t, e, "SELECT count(*), count(g) FROM t")
	if fmt.Sprint(res[0].Rows()) != "[[5000 4285]]" {
		t.Fatalf("counts %v", res[0].Rows())
	}
	res = mustExec(t, e, "SELECT id FROM t WHERE g = 3 AND id > 4000")
	if res[0].RowCount != 86 || len(res[0].Batches) < 1 {
		t.Fatalf("filter returned %d rows", res[0].RowCount)
	}
	res = mustExec(t, e, "SELECT id, s FROM t ORDER BY s DESC LIMIT 3")
	if fmt.Sprint(res[0].Rows()) != "[[2321 s4999] [4642 s4998] [1963 s4997]]" {
		t.Fatalf("sort: %v", res[0].Rows())
	}
	res = mustExec(t, e, "SELECT id FROM t ORDER BY g NULLS FIRST, id DESC")
	rows := res[0].Rows()
	if len(rows) != 5000 || rows[0][0] != int64(4998) || rows[714][0] != int64(0) || rows[715][0] != int64(4990) {
		t.Fatalf("sort nulls first: %v %v %v", rows[0], rows[714], rows[715])
	}
	if len(res[0].Batches) < 5 {
		t.Fatalf("expected results in batches of 1024, got %d batches", len(res[0].Batches))
	}
	// Duplicate checks over a dense range fall back to point reads.
	_, err := e.Execute(context.Background(), "INSERT INTO t VALUES (-1, 1, 'a'), (2500, 1, 'b'), (6000, 1, 'c')", nil)
	if se := sqlerr.As(err); se == nil || se.Code != "23505" || se.Detail != "Key (id)=(2500) already exists." {
		t.Fatalf("want 23505 on id 2500, got %#v", err)
	}
	mustExec(t, e, "INSERT INTO t VALUES (-5, 1, 'a'), (7000, 1, 'b')")
	res = mustExec(t, e, "SELECT id FROM t LIMIT 3 OFFSET 2501")
	if fmt.Sprint(res[0].Rows()) != "[[2500] [2501] [2502]]" {
		t.Fatalf("limit: %v", res[0].Rows())
	}
}

// FuzzExecute feeds arbitrary SQL text through parse, bind and execution:
// it must answer rows or an error, never panic.
func FuzzExecute(f *testing.F) {
	for _, s := range []string{
		"SELECT 1",
		"SELECT a, b FROM t WHERE a > 1 AND b IS NULL ORDER BY b DESC NULLS LAST LIMIT 2",
		"INSERT INTO t VALUES (1, 'x'), (2, NULL)",
		"SELECT count(*) FROM t WHERE NOT (a = 1 OR b <> 'y')",
		"SELECT '1'::int + 2 * 3 / 1.5",
		"CREATE TABLE IF NOT EXISTS u (k TEXT PRIMARY KEY); DROP TABLE u",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		kv, _ := memkv.New(memkv.Config{})
		e, err := New(Config{KV: kv})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := e.Execute(ctx, "CREATE TABLE t (a INT PRIMARY KEY, b TEXT); INSERT INTO t VALUES (1, 'y'), (3, NULL)", nil); err != nil {
			t.Fatal(err)
		}
		res, err := e.Execute(ctx, q, []any{"1"})
		for _, r := range res {
			r.Rows()
			r.Release()
		}
		if se := sqlerr.As(err); se != nil && se.Code == sqlerr.CodeInternalError {
			t.Fatalf("internal error for %q: %v", q, err)
		}
	})
}

// BenchmarkScanFilterCount measures scan + filter + count(*) over 100k rows
// in memkv.
func BenchmarkScanFilterCount(b *testing.B) {
	kv, _ := memkv.New(memkv.Config{})
	e, err := New(Config{KV: kv})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.Execute(ctx, "CREATE TABLE t (id BIGINT PRIMARY KEY, v INT, s TEXT)", nil); err != nil {
		b.Fatal(err)
	}
	for chunk := range 100 {
		var sb strings.Builder
		for i := range 1000 {
			if i > 0 {
				sb.WriteString(", ")
			}
			id := chunk*1000 + i
			fmt.Fprintf(&sb, "(%d, %d, 'row %d')", id, id%100, id)
		}
		if _, err := e.Execute(ctx, "INSERT INTO t VALUES "+sb.String(), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := e.Execute(ctx, "SELECT count(*) FROM t WHERE v < 10 AND id >= 0", nil)
		if err != nil {
			b.Fatal(err)
		}
		if got := res[0].Rows()[0][0]; got != int64(10000) {
			b.Fatalf("count %v", got)
		}
		res[0].Release()
	}
}
