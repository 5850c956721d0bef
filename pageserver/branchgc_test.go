package pageserver

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// rawVersions counts the Pebble versions stored under timeline id's keys.
func rawVersions(t *testing.T, s *Server, id uint64) int {
	t.Helper()
	prefix := keys.DatabasePrefix(id)
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: appendUserKeyPrefix(nil, prefix),
		UpperBound: appendUserKeyPrefix(nil, keys.PrefixEnd(prefix))})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		n++
	}
	return n
}

// TestDeletedBranchRowsCollected: a deleted branch's own rows stay while
// its deletion is above the GC horizon (time travel may still read them),
// and are dropped once it is below; its parent, a sibling branch and the
// parent's rows the branch read are untouched; a restart does not bring
// them back.
func TestDeletedBranchRowsCollected(t *testing.T) {
	const baseMS = 1_700_000_000_000
	tsOf := func(i int) uint64 { return uint64(baseMS+int64(i)*1000) << physicalShift }
	entries := []*wirepb.LogEntry{
		entry(1, tsOf(1), put(dbKey(1, "a"), "a1"), put(dbKey(1, "b"), "b1")),
		entry(2, tsOf(2), fork(2, 1, tsOf(1)), fork(3, 1, tsOf(1))),
		entry(3, tsOf(3), put(dbKey(2, "a"), "a on 2"), put(dbKey(2, "c"), "c on 2"), del(dbKey(2, "b")),
			put(dbKey(3, "d"), "d on 3")),
		entry(4, tsOf(4), put(dbKey(2, "c"), "c2 on 2")),
		// Branch 2 deleted at entry 10.
		entry(10, tsOf(10), &wirepb.Mutation{Key: keys.TimelineKey(2), Delete: true}),
	}
	var now atomic.Int64
	now.Store(baseMS + 20_000)
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	cfg := testConfig(dir, newFakeLog(entries...), newMemStore())
	cfg.Retention = time.Second
	cfg.GCGrace = time.Second
	cfg.Registerer = reg
	cfg.NodeID = "page-1"
	cfg.Now = func() time.Time { return time.UnixMilli(now.Load()) }
	s := openServer(t, cfg)
	waitApplied(t, s, 10)
	if n := rawVersions(t, s, 2); n != 4 {
		t.Fatalf("branch 2 holds %d versions before GC, want 4", n)
	}

	// Deletion (entry 10) above the GC horizon (entry 8): only ordinary
	// version GC (c's older version) happens.
	now.Store(baseMS + 10_000)
	if _, err := s.CollectVersions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := rawVersions(t, s, 2); n != 3 {
		t.Fatalf("branch 2 holds %d versions while its deletion is above the horizon, want 3", n)
	}

	// Deletion below the horizon: dropped; everything else stays.
	now.Store(baseMS + 20_000)
	if _, err := s.CollectVersions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := rawVersions(t, s, 2); n != 0 {
		t.Fatalf("branch 2 still holds %d versions after GC", n)
	}
	if got := gathered(t, reg, cfg.NodeID)["phantom_pageserver_gc_deleted_branch_versions_total"]; got != 3 {
		t.Fatalf("gc_deleted_branch_versions_total = %v, want 3", got)
	}
	readTS := tsOf(19)
	if got := scanAll(t, s, dbKey(1, ""), dbEnd(1), readTS, 0); !slices.Equal(stripped(got), []kv{{"a", "a1"}, {"b", "b1"}}) {
		t.Fatalf("parent after the purge: %q", got)
	}
	if got := stripped(scanAll(t, s, dbKey(3, ""), dbEnd(3), readTS, 0)); !slices.Equal(got, []kv{{"a", "a1"}, {"b", "b1"}, {"d", "d on 3"}}) {
		t.Fatalf("sibling branch after the purge: %q", got)
	}
	// Nothing to drop on the next run.
	if _, err := s.CollectVersions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := gathered(t, reg, cfg.NodeID)["phantom_pageserver_gc_deleted_branch_versions_total"]; got != 3 {
		t.Fatalf("second run counted more: %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openServer(t, cfg)
	waitApplied(t, s, 10)
	if n := rawVersions(t, s, 2); n != 0 {
		t.Fatalf("branch 2 holds %d versions after a restart", n)
	}
}
