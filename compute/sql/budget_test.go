package sql

import (
	"context"
	"testing"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// TestQueryMemoryLimit runs queries whose Arrow buffers outgrow a small
// per-statement budget: each fails with 53200, leaks nothing (the checked
// allocator of newEngine asserts that), and the engine answers the next
// query normally. The scan cache is off: arrays served from it belong to
// the cache (bounded by its own byte limit), not to the statement's budget.
func TestQueryMemoryLimit(t *testing.T) {
	// The budget leaves room for a streaming aggregate's batches in flight
	// (the scan's read-ahead and one batch per parallel worker); the
	// statements that materialize the table's 4 MB do not fit.
	e, _ := newEngine(t, Config{MaxQueryMemory: 2 << 20, ScanCacheBytes: -1})
	mustExec(t, e, "CREATE TABLE big (id INT PRIMARY KEY, pad TEXT)")
	for i := 0; i < 20000; i += 2000 {
		mustExec(t, e, "INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series($1::int, $1::int + 1999) g", i+1)
	}
	for _, q := range []string{
		"SELECT id, pad FROM big ORDER BY pad DESC, id",                      // sort materializes ~4 MB
		"SELECT a.id FROM big a JOIN big b ON a.pad || a.id = b.pad || b.id", // join build side
		"SELECT pad FROM big", // the result itself
	} {
		res, err := e.Execute(context.Background(), q, nil)
		for _, r := range res {
			r.Release()
		}
		if sqlerr.Code(err) != "53200" {
			t.Fatalf("%s: got %v, want SQLSTATE 53200", q, err)
		}
	}
	res := mustExec(t, e, "SELECT count(*)::text || ' ' || max(length(pad))::text FROM big")
	if got := textLines(res[0]); len(got) != 1 || got[0] != "20000 200" {
		t.Fatalf("count after the failures: %q", got)
	}
}
