package sql

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/timeline"
)

// The in-memory KV does not resolve a branch in its parent (the page
// server does, see pageserver's branch tests and test/e2e); this checks the
// session's side: phantom.branch picks the timeline id every statement
// reads and writes under, resolved from the branch record at the snapshot.
func TestSessionBranchSelectsTimeline(t *testing.T) {
	e, kv := newEngine(t, Config{DatabaseID: 1})
	ctx := context.Background()
	s := e.NewSession()
	defer s.Close()

	run(t, s, "SET phantom.branch = 'dev'")
	if _, err := s.Execute(ctx, "SELECT 1", nil); sqlerr.Code(err) != codeInvalidCatalogName {
		t.Fatalf("unknown branch: err %v (%s), want 3D000", err, sqlerr.Code(err))
	}
	// What the control plane commits when it creates branch dev (id 7).
	snap, err := kv.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := timeline.Branch{Name: "dev", Database: 1, ID: 7, Parent: "main", ParentID: 1, ForkTS: snap.TS}
	if _, err := kv.Commit(ctx, snap, []storage.Mutation{{Key: keys.BranchKey(1, "dev"), Value: rec.Encode()}}, nil); err != nil {
		t.Fatal(err)
	}
	run(t, s, "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
	run(t, s, "INSERT INTO t VALUES (1, 'on dev')")
	if got := fmt.Sprint(one(t, s, "SHOW phantom.branch")); got != "dev" {
		t.Fatalf("SHOW phantom.branch = %q", got)
	}
	// Every key went under /db/7/.
	n := 0
	if err := kv.Scan(ctx, storage.Snapshot{TS: ^uint64(0)}, keys.DatabasePrefix(7), keys.PrefixEnd(keys.DatabasePrefix(7)), 0,
		func(b arrow.RecordBatch) error { n += int(b.NumRows()); return nil }); err != nil {
		t.Fatal(err)
	}
	if n < 2 { // the table descriptor, the id counter and the row
		t.Fatalf("branch dev holds %d keys under /db/7/, want its table and row", n)
	}
	// The database itself has no table t.
	run(t, s, "RESET phantom.branch")
	if _, err := s.Execute(ctx, "SELECT * FROM t", nil); sqlerr.Code(err) != sqlerr.CodeUndefinedTable {
		t.Fatalf("main sees dev's table: err %v", err)
	}
	run(t, s, "SET phantom.branch = 'main'")
	if _, err := s.Execute(ctx, "SELECT * FROM t", nil); sqlerr.Code(err) != sqlerr.CodeUndefinedTable {
		t.Fatalf("'main' sees dev's table: err %v", err)
	}
	// Describe follows the session's branch.
	run(t, s, "SET phantom.branch = 'dev'")
	d, err := s.Describe(ctx, "SELECT v FROM t", nil)
	if err != nil || len(d.Columns) != 1 {
		t.Fatalf("Describe on dev: %+v, %v", d, err)
	}
	// The branch cannot change under a transaction that read.
	run(t, s, "BEGIN")
	run(t, s, "SELECT * FROM t")
	if _, err := s.Execute(ctx, "SET phantom.branch = 'main'", nil); sqlerr.Code(err) != sqlerr.CodeActiveSQLTransaction {
		t.Fatalf("SET phantom.branch inside a transaction: %v", err)
	}
	run(t, s, "ROLLBACK")
	run(t, s, "BEGIN")
	run(t, s, "SELECT * FROM t")
	if _, err := s.Execute(ctx, "RESET phantom.branch", nil); sqlerr.Code(err) != sqlerr.CodeActiveSQLTransaction || !strings.Contains(err.Error(), settingBranch) {
		t.Fatalf("RESET phantom.branch inside a transaction: %v", err)
	}
	run(t, s, "ROLLBACK")
}
