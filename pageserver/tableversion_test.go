package pageserver

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// rowKey is a row key of table id table of database (or timeline) db.
func rowKey(db, table uint64, pk string) string {
	return string(keys.AppendString(keys.TablePrefix(db, table), pk))
}

// tableVersion asks c for the table version of table of db at readTS.
func tableVersion(t *testing.T, c wirepb.PageServerClient, db, table, readTS, minIndex uint64) uint64 {
	t.Helper()
	p := keys.TablePrefix(db, table)
	resp, err := c.TableVersion(context.Background(), &wirepb.TableVersionRequest{
		Start: p, End: keys.PrefixEnd(p), ReadTs: readTS, MinIndex: minIndex,
	})
	if err != nil {
		t.Fatalf("TableVersion(db %d, table %d, ts %d): %v", db, table, readTS, err)
	}
	return resp.GetLastWriteTs()
}

func TestTableVersion(t *testing.T) {
	entries := []*wirepb.LogEntry{
		entry(1, 10, put(rowKey(1, 5, "a"), "a@10"), put(rowKey(1, 6, "x"), "x@10")),
		entry(2, 20, put(rowKey(1, 5, "b"), "b@20"), put(string(keys.TableDescriptorKey(1, "t7")), "desc")),
		// Branch 2 of database 1 at ts 25, created at 30.
		entry(3, 30, fork(2, 1, 25)),
		// The parent's write after the fork is invisible to the branch.
		entry(4, 40, del(rowKey(1, 5, "a"))),
		entry(5, 50, put(rowKey(2, 6, "y"), "y@50 on 2")),
		// Branch 3 of branch 2 at 45, created at 55.
		entry(6, 55, fork(3, 2, 45)),
	}
	log := newFakeLog(entries...)
	dir := t.TempDir()
	s := openServer(t, testConfig(dir, log, newMemStore()))
	c := serveGRPC(t, s)
	waitApplied(t, s, 6)

	for _, tc := range []struct {
		name              string
		db, table, readTS uint64
		want              uint64
	}{
		{"parent table, newest write is a delete", 1, 5, 100, 40},
		{"a write after read_ts makes the answer exceed it", 1, 5, 35, 40},
		{"another table of the same database", 1, 6, 100, 10},
		{"a table never written answers the floor (0: nothing before open)", 1, 7, 100, 0},
		// max(own record at 30, min(parent 40, fork 25)).
		{"branch: its record, parent bounded at the fork", 2, 5, 100, 30},
		{"branch: its own write", 2, 6, 100, 50},
		// max(record 55, min(max(record 30, min(40, 25)), 45)) = 55.
		{"branch of a branch", 3, 5, 100, 55},
	} {
		if got := tableVersion(t, c, tc.db, tc.table, tc.readTS, 6); got != tc.want {
			t.Errorf("%s: TableVersion(db %d, table %d, ts %d) = %d, want %d", tc.name, tc.db, tc.table, tc.readTS, got, tc.want)
		}
	}

	// A range that is not one table's rows: "do not trust".
	resp, err := c.TableVersion(context.Background(), &wirepb.TableVersionRequest{
		Start: keys.DatabasePrefix(1), End: keys.PrefixEnd(keys.DatabasePrefix(1)), ReadTs: 100,
	})
	if err != nil || resp.GetLastWriteTs() != math.MaxUint64 {
		t.Fatalf("TableVersion of a whole database = %v, %v; want MaxUint64", resp.GetLastWriteTs(), err)
	}

	// It waits for min_index: the answer includes the write of entry 7.
	done := make(chan uint64, 1)
	go func() { done <- tableVersion(t, c, 1, 6, 100, 7) }()
	time.Sleep(50 * time.Millisecond)
	log.append(entry(7, 60, put(rowKey(1, 6, "z"), "z@60")))
	select {
	case got := <-done:
		if got != 60 {
			t.Fatalf("TableVersion after waiting for index 7 = %d, want 60", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("TableVersion did not answer after index 7 was applied")
	}

	// After a restart the history before open is unknown: every table
	// counts as written at the applied ts of the open (60).
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openServer(t, testConfig(dir, log, newMemStore()))
	c2 := serveGRPC(t, s2)
	waitApplied(t, s2, 7)
	if got := tableVersion(t, c2, 1, 5, 100, 7); got != 60 {
		t.Fatalf("after restart: table written at 40 answers %d, want the floor 60", got)
	}
	if got := tableVersion(t, c2, 2, 6, 100, 7); got != 60 {
		t.Fatalf("after restart: branch table answers %d, want the floor 60", got)
	}
	log.append(entry(8, 70, put(rowKey(1, 5, "c"), "c@70")))
	if got := tableVersion(t, c2, 1, 5, 100, 8); got != 70 {
		t.Fatalf("after restart and a write at 70: %d, want 70", got)
	}
	// The branch sees its parent only up to the fork (25): still the floor.
	if got := tableVersion(t, c2, 2, 5, 100, 8); got != 60 {
		t.Fatalf("after restart: branch answers %d after a parent write past its fork, want 60", got)
	}
}
