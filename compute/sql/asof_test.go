package sql

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/logservice"
)

// lastCommit returns SHOW phantom.last_commit_ts as a number.
func lastCommit(t *testing.T, s *Session) uint64 {
	t.Helper()
	v := fmt.Sprint(one(t, s, "SHOW phantom.last_commit_ts"))
	ts, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("last_commit_ts %q: %v", v, err)
	}
	return ts
}

// tableAt returns "id=v,..." of SELECT * FROM t ORDER BY id in s.
func tableAt(t *testing.T, s *Session) string {
	t.Helper()
	res := run(t, s, "SELECT id, v FROM t ORDER BY id")
	var parts []string
	for _, r := range res[len(res)-1].Rows() {
		parts = append(parts, fmt.Sprintf("%v=%v", r[0], r[1]))
	}
	return strings.Join(parts, ",")
}

func TestTimeTravelReadsPastCommits(t *testing.T) {
	e, _ := newEngine(t, Config{BatchRows: 2})
	w := e.NewSession()
	defer w.Close()
	if got := fmt.Sprint(one(t, w, "SHOW phantom.last_commit_ts")); got != "" {
		t.Fatalf("last_commit_ts before any commit = %q, want empty", got)
	}
	run(t, w, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
	created := lastCommit(t, w)

	// History: each step's committed state and its commit timestamp.
	steps := []string{
		"INSERT INTO t VALUES (1, 'a'), (2, 'b')",
		"UPDATE t SET v = 'b2' WHERE id = 2",
		"BEGIN; INSERT INTO t VALUES (3, 'c'); DELETE FROM t WHERE id = 1; COMMIT",
		"UPDATE t SET v = 'z'",
	}
	want := []string{"1=a,2=b", "1=a,2=b2", "2=b2,3=c", "2=z,3=z"}
	var at []uint64
	for _, q := range steps {
		run(t, w, q)
		at = append(at, lastCommit(t, w))
		run(t, w, "SELECT 1") // a read-only statement does not move last_commit_ts
		if got := lastCommit(t, w); got != at[len(at)-1] {
			t.Fatalf("read moved last_commit_ts to %d", got)
		}
	}

	r := e.NewSession()
	defer r.Close()
	for i := len(at) - 1; i >= 0; i-- { // newest first: reads go back, not forward
		run(t, r, fmt.Sprintf("SET phantom.as_of = '%d'", at[i]))
		if got := fmt.Sprint(one(t, r, "SHOW phantom.as_of")); got != strconv.FormatUint(at[i], 10) {
			t.Fatalf("SHOW phantom.as_of = %q", got)
		}
		if got := tableAt(t, r); got != want[i] {
			t.Fatalf("as of step %d (ts %d): %s, want %s", i, at[i], got, want[i])
		}
		// Under REPEATABLE READ too: the block's one snapshot is as_of.
		run(t, r, "BEGIN ISOLATION LEVEL REPEATABLE READ")
		if got := tableAt(t, r); got != want[i] {
			t.Fatalf("RR as of step %d: %s, want %s", i, got, want[i])
		}
		run(t, r, "COMMIT")
	}
	// Integer constant form; before the first insert the table is empty.
	run(t, r, fmt.Sprintf("SET phantom.as_of = %d", created))
	if got := tableAt(t, r); got != "" {
		t.Fatalf("as of CREATE: %q, want empty", got)
	}
	// Before the CREATE the table does not exist.
	run(t, r, fmt.Sprintf("SET phantom.as_of TO '%d'", created-1))
	if c := code(t, r, "SELECT * FROM t"); c != sqlerr.CodeUndefinedTable {
		t.Fatalf("as of before CREATE: code %q, want 42P01", c)
	}
	// RESET reads the present again, and so does RESET ALL.
	run(t, r, "RESET phantom.as_of")
	if got := tableAt(t, r); got != want[len(want)-1] {
		t.Fatalf("after RESET: %s", got)
	}
	run(t, r, fmt.Sprintf("SET phantom.as_of = '%d'", at[0]))
	run(t, r, "RESET ALL")
	if got := fmt.Sprint(one(t, r, "SHOW phantom.as_of")); got != "" {
		t.Fatalf("after RESET ALL: as_of %q", got)
	}
	if got := tableAt(t, r); got != want[len(want)-1] {
		t.Fatalf("after RESET ALL: %s", got)
	}
}

func TestTimeTravelRejectsWritesAndFuture(t *testing.T) {
	e, kv := newEngine(t, Config{})
	s := e.NewSession()
	defer s.Close()
	run(t, s, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')")
	ts := lastCommit(t, s)
	run(t, s, fmt.Sprintf("SET phantom.as_of = '%d'", ts))
	for _, q := range []string{
		"INSERT INTO t VALUES (2, 'b')", "UPDATE t SET v = 'x'", "DELETE FROM t",
		"CREATE TABLE u (id INT PRIMARY KEY)", "DROP TABLE t",
	} {
		if c := code(t, s, q); c != sqlerr.CodeReadOnlyTransaction {
			t.Fatalf("%s as of %d: code %q, want 25006", q, ts, c)
		}
	}
	// Inside a block the write fails the block.
	run(t, s, "BEGIN")
	if c := code(t, s, "INSERT INTO t VALUES (2, 'b')"); c != sqlerr.CodeReadOnlyTransaction {
		t.Fatalf("write in block: %q", c)
	}
	run(t, s, "ROLLBACK")
	// Once a block has read, as_of cannot change under it.
	run(t, s, "BEGIN")
	run(t, s, "SELECT * FROM t")
	if c := code(t, s, "RESET phantom.as_of"); c != sqlerr.CodeActiveSQLTransaction {
		t.Fatalf("RESET in started block: %q, want 25001", c)
	}
	run(t, s, "ROLLBACK")

	// The future: one past the newest timestamp, and an RFC 3339 time an
	// hour from now (memkv's timestamps are a small counter).
	begin, err := kv.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{strconv.FormatUint(begin.TS+1, 10), time.Now().Add(time.Hour).UTC().Format(time.RFC3339)} {
		run(t, s, "SET phantom.as_of = '"+v+"'")
		res, err := s.Execute(context.Background(), "SELECT * FROM t", nil)
		for _, r := range res {
			r.Release()
		}
		if sqlerr.Code(err) != sqlerr.CodeInvalidParameterValue || !strings.Contains(err.Error(), "future") {
			t.Fatalf("as of %s: %v, want 22023 in the future", v, err)
		}
	}
	// Nothing was written by any of the rejected statements.
	run(t, s, "RESET phantom.as_of")
	if got := tableAt(t, s); got != "1=a" {
		t.Fatalf("table after rejected writes: %s", got)
	}
	if got := lastCommit(t, s); got != ts {
		t.Fatalf("last_commit_ts moved to %d", got)
	}
}

func TestTimeTravelSettingValues(t *testing.T) {
	e, _ := newEngine(t, Config{})
	s := e.NewSession()
	defer s.Close()
	for _, v := range []string{"'yesterday'", "'-5'", "'1.5'", "'2026-13-01T00:00:00Z'", "'1969-01-01T00:00:00Z'"} {
		if c := code(t, s, "SET phantom.as_of = "+v); c != sqlerr.CodeInvalidParameterValue {
			t.Fatalf("SET phantom.as_of = %s: code %q, want 22023", v, c)
		}
	}
	if c := code(t, s, "SET phantom.last_commit_ts = '5'"); c != sqlerr.CodeCantChangeRuntimeParam {
		t.Fatalf("SET last_commit_ts: %q, want 55P02", c)
	}
	// An RFC 3339 time covers every commit of its millisecond.
	when := time.Date(2026, 12, 2, 0, 30, 0, 0, time.UTC)
	for _, v := range []string{"2026-12-02T00:30:00Z", "2026-12-02T01:30:00.000+01:00", "2026-12-02T00:30:00.0009Z"} {
		got, err := ParseAsOf(v)
		if err != nil {
			t.Fatal(err)
		}
		if lo := logservice.TimestampAt(when); got != lo|(1<<logservice.LogicalBits-1) {
			t.Fatalf("ParseAsOf(%s) = %d, want the last ts of ms %d", v, got, lo)
		}
		if !logservice.PhysicalTime(got).Equal(when) {
			t.Fatalf("ParseAsOf(%s) physical %s", v, logservice.PhysicalTime(got))
		}
	}
	if got, err := ParseAsOf(" 123456789 "); err != nil || got != 123456789 {
		t.Fatalf("ParseAsOf(number) = %d, %v", got, err)
	}
	if got := FormatHybridTS(logservice.TimestampAt(when) + 7); got != "2026-12-02T00:30:00.000Z" {
		t.Fatalf("FormatHybridTS = %s", got)
	}
}

// tooOldKV answers scans below horizon with storage.ErrSnapshotTooOld, as
// Remote does for a page server's FailedPrecondition.
type tooOldKV struct {
	storage.KV
	horizon uint64
}

func (k tooOldKV) Scan(ctx context.Context, snap storage.Snapshot, start, end []byte, limit int, fn func(arrow.RecordBatch) error) error {
	if snap.TS < k.horizon {
		return fmt.Errorf("storage: scan: %w: pageserver: read timestamp is older than the retention window: timestamp %d is older than the retention window 1h", storage.ErrSnapshotTooOld, snap.TS)
	}
	return k.KV.Scan(ctx, snap, start, end, limit, fn)
}

func TestTimeTravelSnapshotTooOld(t *testing.T) {
	e0, kv := newEngine(t, Config{})
	e, err := New(Config{KV: tooOldKV{KV: kv, horizon: 3}, Allocator: e0.cfg.Allocator})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, e0, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b')")
	s := e.NewSession()
	defer s.Close()
	run(t, s, "SET phantom.as_of = '2'")
	_, err = s.Execute(context.Background(), "SELECT * FROM t", nil)
	se := sqlerr.As(err)
	if se == nil || se.Code != sqlerr.CodeSnapshotTooOld || !strings.HasPrefix(se.Message, "snapshot too old: ") ||
		!strings.Contains(se.Message, "retention window") {
		t.Fatalf("read below retention: %#v", err)
	}
	run(t, s, "SET phantom.as_of = '3'")
	if got := tableAt(t, s); got != "1=a,2=b" {
		t.Fatalf("as of 3: %s", got)
	}
}
