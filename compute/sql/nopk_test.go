package sql

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/storage"
)

// sizeKV records the mutations of each commit.
type sizeKV struct {
	storage.KV
	mu   sync.Mutex
	muts []int // mutations per commit, in order
}

func (c *sizeKV) Commit(ctx context.Context, snap storage.Snapshot, muts []storage.Mutation, reads []storage.KeyRange) (uint64, error) {
	c.mu.Lock()
	c.muts = append(c.muts, len(muts))
	c.mu.Unlock()
	return c.KV.Commit(ctx, snap, muts, reads)
}

func (c *sizeKV) reset() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.muts
	c.muts = nil
	return out
}

// spillEngine returns two sessions of an engine that spills commits above
// 16 KiB, and the KV that counts their commits.
func spillEngine(t *testing.T) (*Session, *Session, *sizeKV) {
	t.Helper()
	_, kv := newEngine(t, Config{})
	skv := &sizeKV{KV: kv}
	e, err := New(Config{KV: skv, Allocator: memory.NewGoAllocator(), SpillBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	a, b := e.NewSession(), e.NewSession()
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	return a, b, skv
}

// insertRows returns an INSERT of rows n0..n1-1 into pgbench_accounts-like t.
func insertRows(table string, n0, n1 int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "INSERT INTO %s (aid, bid, abalance, filler) VALUES ", table)
	for i := n0; i < n1; i++ {
		if i > n0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "(%d, 1, 0, 'row %d')", i, i)
	}
	return sb.String()
}

// TestNoPrimaryKeyRowIDs: rows of a table without a primary key are kept
// apart by their hidden row ids (duplicates allowed), which SQL never sees.
func TestNoPrimaryKeyRowIDs(t *testing.T) {
	a, b := twoSessions(t, "CREATE TABLE h (tid int, delta int)")
	run(t, a, "INSERT INTO h VALUES (1, 5), (1, 5)")
	run(t, b, "INSERT INTO h VALUES (1, 5)")
	run(t, a, "BEGIN ISOLATION LEVEL REPEATABLE READ; INSERT INTO h VALUES (1, 5); INSERT INTO h SELECT * FROM h; COMMIT")
	if n := one(t, a, "SELECT count(*) FROM h"); n != int64(8) {
		t.Fatalf("count %v, want 8", n)
	}
	res := run(t, a, "SELECT * FROM h LIMIT 1")
	if cols := res[0].Columns; len(cols) != 2 || cols[0].Name != "tid" || cols[1].Name != "delta" {
		t.Fatalf("SELECT * columns %v, want tid, delta", cols)
	}
	if c := code(t, a, "SELECT phantom_rowid FROM h"); c != "42703" {
		t.Fatalf("row id reachable by name: %q", c)
	}
	if c := code(t, a, "INSERT INTO h (phantom_rowid) VALUES ('\\x00')"); c != "42703" {
		t.Fatalf("row id settable: %q", c)
	}
	run(t, a, "UPDATE h SET delta = delta + 1 WHERE tid = 1")
	if s := one(t, a, "SELECT sum(delta) FROM h"); s != int64(48) {
		t.Fatalf("sum %v after UPDATE, want 48", s)
	}
}

// TestAddPrimaryKeyPointLookup: after ADD PRIMARY KEY the table is keyed by
// it — an UPDATE by key is a point lookup on the primary key, duplicate
// keys answer 23505 — and the checks refuse duplicates and NULLs.
func TestAddPrimaryKeyPointLookup(t *testing.T) {
	a, _ := twoSessions(t, "CREATE TABLE acc (aid int, bid int, abalance int, filler char(84)) WITH (fillfactor=100)")
	run(t, a, insertRows("acc", 1, 50))
	run(t, a, "INSERT INTO acc (aid, bid, abalance) VALUES (7, 1, 0), (NULL, 1, 0)")
	if c := code(t, a, "ALTER TABLE acc ADD PRIMARY KEY (aid)"); c != "23502" && c != "23505" {
		t.Fatalf("ADD PRIMARY KEY over a NULL and a duplicate: %q", c)
	}
	run(t, a, "DELETE FROM acc WHERE aid IS NULL")
	if c := code(t, a, "ALTER TABLE acc ADD PRIMARY KEY (aid)"); c != "23505" {
		t.Fatalf("ADD PRIMARY KEY over a duplicate: %q", c)
	}
	run(t, a, "DELETE FROM acc WHERE aid = 7 AND filler IS NULL")
	run(t, a, "ALTER TABLE acc ADD PRIMARY KEY (aid)")
	plan := ""
	for _, r := range run(t, a, "EXPLAIN UPDATE acc SET abalance = abalance + 1 WHERE aid = $1", int64(7)) {
		for _, row := range r.Rows() {
			plan += fmt.Sprint(row[0]) + "\n"
		}
	}
	if !strings.Contains(plan, "Index Scan using acc_pkey") || strings.Contains(plan, "Seq Scan") {
		t.Fatalf("UPDATE by key is not a point lookup:\n%s", plan)
	}
	run(t, a, "UPDATE acc SET abalance = abalance + 3 WHERE aid = 7")
	if v := one(t, a, "SELECT abalance FROM acc WHERE aid = 7"); v != int32(3) {
		t.Fatalf("abalance %v, want 3", v)
	}
	if c := code(t, a, "INSERT INTO acc (aid) VALUES (7)"); c != "23505" {
		t.Fatalf("duplicate key: %q", c)
	}
	if c := code(t, a, "ALTER TABLE acc ADD PRIMARY KEY (bid)"); c != "42P16" {
		t.Fatalf("second primary key: %q", c)
	}
	if n := one(t, a, "SELECT count(*) FROM acc"); n != int64(49) {
		t.Fatalf("count %v, want 49", n)
	}
}

// TestSpillLargeCommit: a transaction that truncates a table and loads it
// past the spill size commits the rows in several commits ahead of its
// own, and the result is the same as one commit.
func TestSpillLargeCommit(t *testing.T) {
	a, _, kv := spillEngine(t)
	run(t, a, "CREATE TABLE acc (aid int, bid int, abalance int, filler text)")
	run(t, a, insertRows("acc", 0, 10))
	kv.reset()
	run(t, a, "BEGIN; TRUNCATE acc")
	for i := 0; i < 2000; i += 200 {
		run(t, a, insertRows("acc", i, i+200))
	}
	if n := one(t, a, "SELECT count(*) FROM acc"); n != int64(2000) {
		t.Fatalf("count %v inside the block, want 2000", n)
	}
	run(t, a, "COMMIT")
	commits := kv.reset()
	if len(commits) < 4 {
		t.Fatalf("commits %v: the load was not spilled", commits)
	}
	if last := commits[len(commits)-1]; last > 10 {
		t.Fatalf("the transaction's own commit held %d mutations, want only the catalog", last)
	}
	if n := one(t, a, "SELECT count(*) FROM acc"); n != int64(2000) {
		t.Fatalf("count %v after COMMIT, want 2000", n)
	}
	// ADD PRIMARY KEY rewrites under a fresh id: spilled too.
	run(t, a, "ALTER TABLE acc ADD PRIMARY KEY (aid)")
	if commits := kv.reset(); len(commits) < 3 {
		t.Fatalf("ADD PRIMARY KEY: commits %v, want spilled", commits)
	}
	if v := one(t, a, "SELECT filler FROM acc WHERE aid = 1234"); v != "row 1234" {
		t.Fatalf("aid 1234: %v", v)
	}
}

// TestSpillThenConflict: when the transaction's own commit fails after its
// rows were spilled, nothing of it is visible — the old rows stay, and a
// table created later never sees the spilled rows (their ids are
// reserved, never handed out again).
func TestSpillThenConflict(t *testing.T) {
	a, b, _ := spillEngine(t)
	run(t, a, "CREATE TABLE acc (aid int, bid int, abalance int, filler text); CREATE TABLE kv (k int PRIMARY KEY, v int); INSERT INTO kv VALUES (1, 0)")
	run(t, a, insertRows("acc", 0, 10))
	run(t, a, "BEGIN ISOLATION LEVEL REPEATABLE READ; UPDATE kv SET v = 1 WHERE k = 1; TRUNCATE acc")
	for i := 0; i < 2000; i += 200 {
		run(t, a, insertRows("acc", i, i+200))
	}
	run(t, b, "UPDATE kv SET v = 2 WHERE k = 1")
	if c := code(t, a, "COMMIT"); c != "40001" {
		t.Fatalf("COMMIT after a concurrent update: %q, want 40001", c)
	}
	if n := one(t, b, "SELECT count(*) FROM acc"); n != int64(10) {
		t.Fatalf("count %v after the failed load, want the old 10 rows", n)
	}
	for i := range 5 {
		name := fmt.Sprintf("later%d", i)
		run(t, b, "CREATE TABLE "+name+" (aid int, bid int, abalance int, filler text)")
		if n := one(t, b, "SELECT count(*) FROM "+name); n != int64(0) {
			t.Fatalf("new table %s sees %v rows of the failed load", name, n)
		}
	}
	// A concurrent allocation of table ids makes the spilling commit fail
	// before it writes anything.
	run(t, a, "BEGIN; TRUNCATE acc")
	for i := 0; i < 2000; i += 200 {
		run(t, a, insertRows("acc", i, i+200))
	}
	run(t, b, "CREATE TABLE other (k int PRIMARY KEY)")
	if c := code(t, a, "COMMIT"); c != "40001" {
		t.Fatalf("COMMIT after a concurrent CREATE TABLE: %q, want 40001", c)
	}
	if n := one(t, b, "SELECT count(*) FROM acc"); n != int64(10) {
		t.Fatalf("count %v, want 10", n)
	}
}
