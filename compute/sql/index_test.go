package sql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
)

// textLines returns the first column of a result as strings.
func textLines(r *Result) []string {
	var out []string
	for _, b := range r.Batches {
		c := b.Column(0).(*array.String)
		for i := range c.Len() {
			out = append(out, c.Value(i))
		}
	}
	return out
}

func TestExplainShowsIndexScan(t *testing.T) {
	e, _ := newEngine(t, Config{})
	s := e.NewSession()
	run(t, s, "CREATE TABLE ex (id INT PRIMARY KEY, k INT, v TEXT)")
	run(t, s, "INSERT INTO ex SELECT 1, 1, 'a'")
	for i := 2; i <= 50; i++ {
		run(t, s, fmt.Sprintf("INSERT INTO ex VALUES (%d, %d, 'x')", i, i%10))
	}
	plan := strings.Join(textLines(run(t, s, "EXPLAIN SELECT v FROM ex WHERE k = 3")[0]), "\n")
	if strings.Contains(plan, "Index Scan") {
		t.Fatalf("no index yet, got:\n%s", plan)
	}
	run(t, s, "CREATE INDEX ex_k ON ex (k)")
	plan = strings.Join(textLines(run(t, s, "EXPLAIN SELECT v FROM ex WHERE k = 3")[0]), "\n")
	if !strings.Contains(plan, "Index Scan using ex_k on ex (k = 3::int4)") {
		t.Fatalf("want an index scan on ex_k, got:\n%s", plan)
	}
	an := textLines(run(t, s, "EXPLAIN ANALYZE SELECT v FROM ex WHERE k = 3")[0])
	if len(an) != 3 || !strings.Contains(an[2], "Index Scan") || !strings.Contains(an[2], "actual rows=5 ") || !strings.Contains(an[0], "actual rows=5 ") {
		t.Fatalf("EXPLAIN ANALYZE:\n%s", strings.Join(an, "\n"))
	}
	// With statistics, an index matching most rows loses to the full scan.
	run(t, s, "CREATE INDEX ex_v ON ex (v)")
	run(t, s, "ANALYZE ex")
	plan = strings.Join(textLines(run(t, s, "EXPLAIN SELECT id FROM ex WHERE v = 'x'")[0]), "\n")
	if strings.Contains(plan, "ex_v") {
		t.Fatalf("49 of 50 rows match: want a full scan, got:\n%s", plan)
	}
	plan = strings.Join(textLines(run(t, s, "EXPLAIN SELECT id FROM ex WHERE k = 3")[0]), "\n")
	if !strings.Contains(plan, "ex_k") {
		t.Fatalf("5 of 50 rows match: want ex_k, got:\n%s", plan)
	}
	// EXPLAIN ANALYZE of a write runs it.
	an = textLines(run(t, s, "EXPLAIN ANALYZE DELETE FROM ex WHERE k = 3")[0])
	if !strings.HasPrefix(an[0], "Delete on ex (actual rows=5)") {
		t.Fatalf("EXPLAIN ANALYZE DELETE:\n%s", strings.Join(an, "\n"))
	}
	if got := textLines(run(t, s, "SELECT count(*)::text FROM ex")[0]); got[0] != "45" {
		t.Fatalf("count after EXPLAIN ANALYZE DELETE: %v", got)
	}
}

// indexConsistent checks that index ix of table tbl holds exactly one
// entry per row, pointing at the row, with the row's value of column col.
func indexConsistent(t *testing.T, e *Engine, kv storage.KV, tbl string, col int) {
	t.Helper()
	ctx := context.Background()
	s := e.NewSession()
	res := run(t, s, fmt.Sprintf("SELECT id, k FROM %s", tbl))[0]
	rows := map[int64]any{}
	for _, b := range res.Batches {
		ids, ks := b.Column(0).(*array.Int32), b.Column(1).(*array.Int32)
		for i := range ids.Len() {
			var k any
			if ks.IsValid(i) {
				k = int64(ks.Value(i))
			}
			rows[int64(ids.Value(i))] = k
		}
	}
	snap, err := kv.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	desc := run(t, s, fmt.Sprintf("SELECT count(*) FROM %s", tbl))
	_ = desc
	// Table id 1 (the first table of the database), index id 1.
	prefix := keys.IndexPrefix(0, 1, 1)
	entries := 0
	err = kv.Scan(ctx, snap, prefix, keys.PrefixEnd(prefix), 0, func(b arrow.RecordBatch) error {
		kc := b.Column(0).(*array.Binary)
		for i := range kc.Len() {
			vals, err := keys.DecodeTuple(kc.Value(i)[len(prefix):])
			if err != nil {
				return err
			}
			id := vals[1].(int64)
			want, ok := rows[id]
			if !ok {
				return fmt.Errorf("index entry %v for missing row %d", vals, id)
			}
			if want != vals[0] {
				return fmt.Errorf("index entry %v, row %d has k=%v", vals, id, want)
			}
			entries++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if entries != len(rows) {
		t.Fatalf("%d index entries for %d rows", entries, len(rows))
	}
}

// TestIndexUnderConcurrentWrites: sessions update, insert and delete rows
// concurrently; conflicts abort with 40001, and afterwards the index holds
// exactly the table's rows.
func TestIndexUnderConcurrentWrites(t *testing.T) {
	e, kv := newEngine(t, Config{})
	s := e.NewSession()
	run(t, s, "CREATE TABLE cw (id INT PRIMARY KEY, k INT)")
	run(t, s, "CREATE INDEX cw_k ON cw (k)")
	for i := range 20 {
		run(t, s, fmt.Sprintf("INSERT INTO cw VALUES (%d, %d)", i, i))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed, conflicts := 0, 0
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			ss := e.NewSession()
			defer ss.Close()
			for range 60 {
				id := r.IntN(25)
				var q string
				switch r.IntN(4) {
				case 0:
					q = fmt.Sprintf("INSERT INTO cw VALUES (%d, %d) ON CONFLICT (id) DO UPDATE SET k = excluded.k", id, r.IntN(5))
				case 1:
					q = fmt.Sprintf("DELETE FROM cw WHERE id = %d", id)
				case 2:
					q = fmt.Sprintf("BEGIN; UPDATE cw SET k = k + 1 WHERE id = %d; UPDATE cw SET k = NULL WHERE k = %d; COMMIT", id, r.IntN(5))
				default:
					q = fmt.Sprintf("UPDATE cw SET k = %d WHERE k = %d", r.IntN(5), r.IntN(5))
				}
				res, err := ss.Execute(context.Background(), q, nil)
				for _, x := range res {
					x.Release()
				}
				mu.Lock()
				switch {
				case err == nil:
					committed++
				case sqlerr.Code(err) == sqlerr.CodeSerializationFailure:
					conflicts++
				default:
					mu.Unlock()
					t.Errorf("%s: %v", q, err)
					return
				}
				mu.Unlock()
				if ss.TxStatus() != TxIdle {
					ss.Close()
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d committed, %d conflicts (40001)", committed, conflicts)
	if committed == 0 {
		t.Fatal("nothing committed")
	}
	indexConsistent(t, e, kv, "cw", 1)
}

// TestCreateIndexRacesInsert: a CREATE INDEX and an INSERT that overlap
// cannot both commit unless the index covers the row.
func TestCreateIndexRacesInsert(t *testing.T) {
	e, kv := newEngine(t, Config{})
	s := e.NewSession()
	run(t, s, "CREATE TABLE cw (id INT PRIMARY KEY, k INT)")
	run(t, s, "INSERT INTO cw VALUES (1, 1)")
	a, b := e.NewSession(), e.NewSession()
	run(t, a, "BEGIN; INSERT INTO cw VALUES (2, 2)")
	run(t, b, "BEGIN; CREATE INDEX cw_k ON cw (k)")
	run(t, b, "COMMIT")
	_, err := a.Execute(context.Background(), "COMMIT", nil)
	if sqlerr.Code(err) != sqlerr.CodeSerializationFailure {
		t.Fatalf("insert committed across a concurrent CREATE INDEX: %v", err)
	}
	indexConsistent(t, e, kv, "cw", 1)
	// The other order: the insert commits first, the backfill aborts.
	run(t, s, "DROP INDEX cw_k")
	run(t, b, "BEGIN; CREATE INDEX cw_k2 ON cw (k)")
	run(t, a, "INSERT INTO cw VALUES (3, 3)")
	if _, err := b.Execute(context.Background(), "COMMIT", nil); sqlerr.Code(err) != sqlerr.CodeSerializationFailure {
		t.Fatalf("CREATE INDEX committed over a concurrent insert: %v", err)
	}
}

// TestSequenceUniqueAcrossEngines: two engines over one store hand out
// distinct nextval values under concurrency.
func TestSequenceUniqueAcrossEngines(t *testing.T) {
	e1, kv := newEngine(t, Config{})
	e2, err := New(Config{KV: kv, Allocator: e1.cfg.Allocator})
	if err != nil {
		t.Fatal(err)
	}
	run(t, e1.NewSession(), "CREATE SEQUENCE sq")
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int64]bool{}
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := e1
			if w%2 == 1 {
				e = e2
			}
			s := e.NewSession()
			for range 100 {
				res, err := s.Execute(context.Background(), "SELECT nextval('sq')", nil)
				if err != nil {
					t.Error(err)
					return
				}
				v := res[0].Batches[0].Column(0).(*array.Int64).Value(0)
				res[0].Release()
				mu.Lock()
				if seen[v] {
					t.Errorf("value %d handed out twice", v)
				}
				seen[v] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 600 {
		t.Fatalf("%d distinct values, want 600", len(seen))
	}
}

// TestUniqueAndForeignKeyRaces: constraints hold between concurrent
// transactions — the second committer gets 40001.
func TestUniqueAndForeignKeyRaces(t *testing.T) {
	e, _ := newEngine(t, Config{})
	s := e.NewSession()
	run(t, s, "CREATE TABLE u (id INT PRIMARY KEY, code TEXT UNIQUE)")
	run(t, s, "CREATE TABLE ch (id INT PRIMARY KEY, uid INT REFERENCES u (id))")
	run(t, s, "INSERT INTO u VALUES (1, 'one')")
	a, b := e.NewSession(), e.NewSession()
	commitCode := func(s *Session) string {
		_, err := s.Execute(context.Background(), "COMMIT", nil)
		return sqlerr.Code(err)
	}
	// Same unique value, different primary keys.
	run(t, a, "BEGIN; INSERT INTO u VALUES (2, 'dup')")
	run(t, b, "BEGIN; INSERT INTO u VALUES (3, 'dup')")
	if c := commitCode(a); c != "" && c != sqlerr.CodeSuccessfulCompletion {
		t.Fatalf("first commit: %s", c)
	}
	if c := commitCode(b); c != sqlerr.CodeSerializationFailure {
		t.Fatalf("second insert of a unique value: got %q, want 40001", c)
	}
	// Child insert vs parent delete, both orders.
	run(t, a, "BEGIN; INSERT INTO ch VALUES (1, 1)")
	run(t, b, "BEGIN; DELETE FROM u WHERE id = 1")
	run(t, b, "COMMIT")
	if c := commitCode(a); c != sqlerr.CodeSerializationFailure {
		t.Fatalf("child insert after its parent's delete committed: %q", c)
	}
	run(t, s, "INSERT INTO u VALUES (1, 'one')")
	run(t, a, "BEGIN; INSERT INTO ch VALUES (1, 1)")
	run(t, b, "BEGIN; DELETE FROM u WHERE id = 1")
	run(t, a, "COMMIT")
	if c := commitCode(b); c != sqlerr.CodeSerializationFailure {
		t.Fatalf("parent delete after a child insert committed: %q", c)
	}
	// The child row survived with its parent.
	if n := run(t, s, "SELECT count(*) FROM u WHERE id = 1")[0].Batches[0].Column(0).(*array.Int64).Value(0); n != 1 {
		t.Fatalf("parent rows: %d", n)
	}
}

// TestDescribeSerialInsertAndExplain: statements whose defaults call
// nextval, and EXPLAIN, describe without running (PostgreSQL protocol
// Describe).
func TestDescribeSerialInsertAndExplain(t *testing.T) {
	e, _ := newEngine(t, Config{})
	run(t, e.NewSession(), "CREATE TABLE sr (id SERIAL PRIMARY KEY, v TEXT)")
	d, err := e.Describe(context.Background(), "INSERT INTO sr (v) VALUES ($1) RETURNING id", nil)
	if err != nil || len(d.Columns) != 1 || d.Columns[0].Type != "int4" {
		t.Fatalf("describe serial insert: %+v, %v", d, err)
	}
	d, err = e.Describe(context.Background(), "EXPLAIN SELECT * FROM sr WHERE id = 1", nil)
	if err != nil || len(d.Columns) != 1 || d.Columns[0].Name != "QUERY PLAN" {
		t.Fatalf("describe explain: %+v, %v", d, err)
	}
	// Describe consumed no sequence value.
	res := run(t, e.NewSession(), "INSERT INTO sr (v) VALUES ('a') RETURNING id")
	if v := res[0].Batches[0].Column(0).(*array.Int32).Value(0); v != 1 {
		t.Fatalf("first id %d", v)
	}
}
