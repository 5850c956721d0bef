package exec_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/sql/exec"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/compute/storage/memkv"
	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/timeline"
)

// The scan cache through the SQL engine on memkv (which answers
// TableVersion exactly): every test checks the rows a query returns as
// well as whether the cache served it.

const testDB = 1

// cacheFixture is an engine with a scan cache of maxBytes over memkv.
type cacheFixture struct {
	t  testing.TB
	e  *sql.Engine
	kv *memkv.Store
}

func newCacheFixture(t testing.TB, maxBytes int64) *cacheFixture {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	kv, err := memkv.New(memkv.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	e, err := sql.New(sql.Config{KV: kv, DatabaseID: testDB, Allocator: mem, BatchRows: 8, ScanCacheBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	return &cacheFixture{t: t, e: e, kv: kv}
}

// session opens a session closed at the end of the test.
func (f *cacheFixture) session() *sql.Session {
	s := f.e.NewSession()
	f.t.Cleanup(s.Close)
	return s
}

// rows runs q on s and renders the rows of its last result as "a|b" lines.
func (f *cacheFixture) rows(s *sql.Session, q string) string {
	f.t.Helper()
	out, err := queryRows(s, q)
	if err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return out
}

func queryRows(s *sql.Session, q string) (string, error) {
	res, err := s.Execute(context.Background(), q, nil)
	defer func() {
		for _, r := range res {
			r.Release()
		}
	}()
	if err != nil {
		return "", err
	}
	var lines []string
	if len(res) == 0 {
		return "", nil
	}
	for _, b := range res[len(res)-1].Batches {
		for r := range int(b.NumRows()) {
			cells := make([]string, b.NumCols())
			for c := range cells {
				cells[c] = b.Column(c).ValueStr(r)
			}
			lines = append(lines, strings.Join(cells, "|"))
		}
	}
	return strings.Join(lines, " "), nil
}

// expect runs q and checks its rows and whether the cache served it.
func (f *cacheFixture) expect(s *sql.Session, q, want string, hit bool) {
	f.t.Helper()
	before := f.e.ScanCache().Stats()
	if got := f.rows(s, q); got != want {
		f.t.Fatalf("%s:\n got %s\nwant %s", q, got, want)
	}
	after := f.e.ScanCache().Stats()
	if gotHit := after.Hits > before.Hits; gotHit != hit || after.Hits+after.Misses == before.Hits+before.Misses {
		f.t.Fatalf("%s: hits %d -> %d, misses %d -> %d; want hit=%v", q, before.Hits, after.Hits, before.Misses, after.Misses, hit)
	}
}

// setup creates table t with rows (1, a) .. (n, ...) and returns a session.
func (f *cacheFixture) setup(n int) *sql.Session {
	s := f.session()
	f.rows(s, "CREATE TABLE t (k INT PRIMARY KEY, v TEXT)")
	f.rows(s, fmt.Sprintf("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, %d) g", n))
	return s
}

func TestScanCacheHitAndWriteInvalidation(t *testing.T) {
	f := newCacheFixture(t, 1<<20)
	s := f.setup(3)
	const q = "SELECT k, v FROM t ORDER BY k"
	f.expect(s, q, "1|v1 2|v2 3|v3", false)
	f.expect(s, q, "1|v1 2|v2 3|v3", true)
	f.expect(s, "SELECT count(*) FROM t", "3", true)

	f.rows(s, "INSERT INTO t VALUES (4, 'v4')")
	f.expect(s, q, "1|v1 2|v2 3|v3 4|v4", false)
	f.expect(s, q, "1|v1 2|v2 3|v3 4|v4", true)
	f.rows(s, "UPDATE t SET v = 'new' WHERE k = 2")
	f.expect(s, q, "1|v1 2|new 3|v3 4|v4", false)
	f.rows(s, "DELETE FROM t WHERE k = 1")
	f.expect(s, q, "2|new 3|v3 4|v4", false)
	f.expect(s, q, "2|new 3|v3 4|v4", true)

	// A write to another table leaves the entry valid.
	f.rows(s, "CREATE TABLE u (k INT PRIMARY KEY); INSERT INTO u VALUES (1)")
	f.expect(s, q, "2|new 3|v3 4|v4", true)
	// A primary-key range scan reads the KV (only whole scans are cached).
	before := f.e.ScanCache().Stats()
	if got := f.rows(s, "SELECT v FROM t WHERE k = 3"); got != "v3" {
		t.Fatalf("point read: %s", got)
	}
	if after := f.e.ScanCache().Stats(); after.Hits != before.Hits || after.Misses != before.Misses {
		t.Fatalf("a point read asked the cache: %+v -> %+v", before, after)
	}
}

func TestScanCacheAddsMissingColumns(t *testing.T) {
	f := newCacheFixture(t, 1<<20)
	s := f.setup(20)
	// Projection pushdown decodes only k: the entry holds k alone.
	f.expect(s, "SELECT sum(k) FROM t", "210", false)
	f.expect(s, "SELECT sum(k) FROM t", "210", true)
	// v is missing: read again, and added to the entry.
	f.expect(s, "SELECT max(v) FROM t", "v9", false)
	f.expect(s, "SELECT max(v), sum(k) FROM t", "v9|210", true)
	f.expect(s, "SELECT k, v FROM t WHERE k % 7 = 0 ORDER BY k", "7|v7 14|v14", true)
}

func TestScanCacheAlterTable(t *testing.T) {
	f := newCacheFixture(t, 1<<20)
	s := f.setup(2)
	const q = "SELECT * FROM t ORDER BY k"
	f.expect(s, q, "1|v1 2|v2", false)
	f.expect(s, q, "1|v1 2|v2", true)
	f.rows(s, "ALTER TABLE t ADD COLUMN w INT DEFAULT 7")
	f.expect(s, q, "1|v1|7 2|v2|7", false)
	f.expect(s, q, "1|v1|7 2|v2|7", true)
	f.rows(s, "ALTER TABLE t DROP COLUMN v")
	f.expect(s, q, "1|7 2|7", false)
}

func TestScanCacheTransactionSeesItsOwnWrites(t *testing.T) {
	f := newCacheFixture(t, 1<<20)
	s := f.setup(2)
	const q = "SELECT k, v FROM t ORDER BY k"
	f.expect(s, q, "1|v1 2|v2", false)

	f.rows(s, "BEGIN")
	f.expect(s, q, "1|v1 2|v2", true) // nothing pending yet
	f.rows(s, "INSERT INTO t VALUES (3, 'mine')")
	f.expect(s, q, "1|v1 2|v2 3|mine", false)
	f.expect(s, q, "1|v1 2|v2 3|mine", false) // never cached with pending writes
	f.rows(s, "ROLLBACK")
	f.expect(s, q, "1|v1 2|v2", true)

	// A REPEATABLE READ transaction keeps its snapshot while another
	// session writes and refills the cache at a newer one.
	other := f.session()
	f.rows(s, "BEGIN ISOLATION LEVEL REPEATABLE READ")
	f.expect(s, q, "1|v1 2|v2", true)
	f.rows(other, "INSERT INTO t VALUES (3, 'other')")
	f.expect(other, q, "1|v1 2|v2 3|other", false)
	f.expect(s, q, "1|v1 2|v2", false) // the entry is newer than the snapshot
	f.rows(s, "COMMIT")
	f.expect(s, q, "1|v1 2|v2 3|other", true)

	// SERIALIZABLE reads record exact ranges: never cached.
	f.rows(s, "BEGIN ISOLATION LEVEL SERIALIZABLE")
	if got := f.rows(s, q); got != "1|v1 2|v2 3|other" {
		t.Fatalf("serializable read: %s", got)
	}
	f.rows(s, "COMMIT")
}

func TestScanCacheBranch(t *testing.T) {
	f := newCacheFixture(t, 1<<20)
	s := f.setup(2)
	const q = "SELECT k, v FROM t ORDER BY k"
	f.expect(s, q, "1|v1 2|v2", false)

	// memkv does not resolve branches through their parents: fork by
	// copying the database's keys under the branch's timeline, which is
	// what a read of the branch sees.
	const branchID = 77
	ctx := context.Background()
	snap, err := f.kv.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	muts := []storage.Mutation{{
		Key:   keys.BranchKey(testDB, "dev"),
		Value: timeline.Branch{Name: "dev", Database: testDB, ID: branchID, Parent: "main", ParentID: testDB, ForkTS: snap.TS}.Encode(),
	}}
	src, dst := keys.DatabasePrefix(testDB), keys.DatabasePrefix(branchID)
	err = f.kv.Scan(ctx, snap, src, keys.PrefixEnd(src), 0, func(b arrow.RecordBatch) error {
		ks, vs := b.Column(0).(*array.Binary), b.Column(1).(*array.Binary)
		for i := range ks.Len() {
			k := append(append([]byte(nil), dst...), ks.Value(i)[len(src):]...)
			muts = append(muts, storage.Mutation{Key: k, Value: append([]byte(nil), vs.Value(i)...)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.kv.Commit(ctx, snap, muts, nil); err != nil {
		t.Fatal(err)
	}

	dev := f.session()
	f.rows(dev, "SET phantom.branch = 'dev'")
	f.expect(dev, q, "1|v1 2|v2", false) // another timeline: another entry
	f.expect(dev, q, "1|v1 2|v2", true)
	f.rows(s, "INSERT INTO t VALUES (3, 'main')")
	f.expect(dev, q, "1|v1 2|v2", true) // the parent's write after the fork is not the branch's
	f.expect(s, q, "1|v1 2|v2 3|main", false)
	f.rows(dev, "INSERT INTO t VALUES (3, 'dev')")
	f.expect(dev, q, "1|v1 2|v2 3|dev", false)
	f.expect(s, q, "1|v1 2|v2 3|main", true)
}

func TestScanCacheEvictsLeastRecentlyUsed(t *testing.T) {
	// Measure one table's entry with a large cache.
	probe := newCacheFixture(t, 1<<30)
	ps := probe.setup(100)
	probe.rows(ps, "SELECT k, v FROM t")
	one := probe.e.ScanCache().Stats().Bytes
	if one <= 0 {
		t.Fatalf("entry of 100 rows holds %d bytes", one)
	}

	f := newCacheFixture(t, one*5/2) // room for two tables
	s := f.session()
	for _, name := range []string{"a", "b", "c"} {
		f.rows(s, "CREATE TABLE "+name+" (k INT PRIMARY KEY, v TEXT)")
		f.rows(s, "INSERT INTO "+name+" SELECT g, 'v' || g FROM generate_series(1, 100) g")
	}
	const sum = "5050|v99"
	f.expect(s, "SELECT sum(k), max(v) FROM a", sum, false)
	f.expect(s, "SELECT sum(k), max(v) FROM b", sum, false)
	f.expect(s, "SELECT sum(k), max(v) FROM a", sum, true) // a is now the most recent
	f.expect(s, "SELECT sum(k), max(v) FROM c", sum, false)
	st := f.e.ScanCache().Stats()
	if st.Evictions != 1 || st.Entries != 2 || st.Bytes > one*5/2 {
		t.Fatalf("after filling a third table: %+v, want 1 eviction, 2 entries, <= %d bytes", st, one*5/2)
	}
	f.expect(s, "SELECT sum(k), max(v) FROM a", sum, true)
	f.expect(s, "SELECT sum(k), max(v) FROM c", sum, true)
	f.expect(s, "SELECT sum(k), max(v) FROM b", sum, false) // b was evicted

	// A table larger than the whole cache is not kept.
	f.rows(s, "CREATE TABLE big (k INT PRIMARY KEY, v TEXT)")
	f.rows(s, "INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 1000) g")
	f.expect(s, "SELECT count(v) FROM big", "1000", false)
	f.expect(s, "SELECT count(v) FROM big", "1000", false)
	if st := f.e.ScanCache().Stats(); st.Bytes > one*5/2 {
		t.Fatalf("cache holds %d bytes, bound %d", st.Bytes, one*5/2)
	}
}

func TestScanCacheDisabled(t *testing.T) {
	f := newCacheFixture(t, -1)
	s := f.setup(2)
	if f.e.ScanCache() != nil {
		t.Fatal("ScanCacheBytes -1 made a cache")
	}
	if got := f.rows(s, "SELECT k FROM t ORDER BY k"); got != "1 2" {
		t.Fatalf("got %s", got)
	}
	if (exec.ScanCacheStats{}) != f.e.ScanCache().Stats() {
		t.Fatal("a nil cache has stats")
	}
}

// TestScanCacheConcurrentReaders runs readers of two tables against a
// cache with room for one (entries are evicted while scans hold their
// arrays) while a writer appends rows: every read must see a consistent
// prefix 1..n of the rows.
func TestScanCacheConcurrentReaders(t *testing.T) {
	probe := newCacheFixture(t, 1<<30)
	ps := probe.setup(200)
	probe.rows(ps, "SELECT k, v FROM t")
	one := probe.e.ScanCache().Stats().Bytes

	f := newCacheFixture(t, one*3/2)
	s := f.session()
	for _, name := range []string{"a", "b"} {
		f.rows(s, "CREATE TABLE "+name+" (k INT PRIMARY KEY, v TEXT)")
		f.rows(s, "INSERT INTO "+name+" SELECT g, 'v' || g FROM generate_series(1, 200) g")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	const readers, reads = 4, 25
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs := f.e.NewSession()
			defer rs.Close()
			for i := range reads {
				table := []string{"a", "b"}[(r+i)%2]
				got, err := queryRows(rs, "SELECT count(*), sum(k), count(v), min(v) FROM "+table)
				if err != nil {
					errs <- err
					return
				}
				var n, sum, nv int64
				var minV string
				if _, err := fmt.Sscanf(strings.ReplaceAll(got, "|", " "), "%d %d %d %s", &n, &sum, &nv, &minV); err != nil {
					errs <- fmt.Errorf("parse %q: %w", got, err)
					return
				}
				if n < 200 || sum != n*(n+1)/2 || nv != n || minV != "v1" {
					errs <- fmt.Errorf("%s: inconsistent read %q", table, got)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		ws := f.e.NewSession()
		defer ws.Close()
		for k := 201; k <= 220; k++ {
			if _, err := queryRows(ws, fmt.Sprintf("INSERT INTO a VALUES (%d, 'v%d')", k, k)); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := f.rows(s, "SELECT count(*), sum(k) FROM a"); got != "220|24310" {
		t.Fatalf("final read: %s", got)
	}
	if st := f.e.ScanCache().Stats(); st.Hits == 0 || st.Evictions == 0 {
		t.Fatalf("the readers never hit or never evicted: %+v", st)
	}
}
