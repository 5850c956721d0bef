package pageserver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// assertEveryObjectNamed checks that every object under sst/ and
// checkpoints/ is named by some manifest in store, and that every manifest
// names only present objects.
func assertEveryObjectNamed(t *testing.T, store *memStore) {
	t.Helper()
	checkStoreManifests(t, store)
	named := map[string]bool{}
	for _, k := range manifests(t, store) {
		for _, f := range readManifest(t, store, k).Files {
			named[f.Key] = true
		}
	}
	for _, dir := range []string{sstDir, checkpointDir} {
		keys, err := store.List(context.Background(), testPrefix+dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if !named[k] {
				t.Fatalf("after GC the store holds %s, which no manifest names", k)
			}
		}
	}
}

func TestCollectObjects(t *testing.T) {
	store := newMemStore()
	all := history(1, 90)
	log := newFakeLog()
	cfg := testConfig(t.TempDir(), log, store)
	cfg.GCMaxDeletes = 3
	s := openServer(t, cfg)
	ctx := context.Background()
	for i := 0; i < 6; i++ {
		log.append(all[i*10 : (i+1)*10]...)
		waitApplied(t, s, uint64((i+1)*10))
		if err := s.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// An interrupted checkpoint (its manifest never written) and debris of
	// a crashed process.
	log.append(all[60:70]...)
	waitApplied(t, s, 70)
	store.setFailPut(func(key string) error {
		if strings.Contains(key, manifestDir) {
			return errors.New("injected manifest failure")
		}
		return nil
	})
	if err := s.Checkpoint(ctx); err == nil {
		t.Fatal("checkpoint with a failing manifest put succeeded")
	}
	store.setFailPut(nil)
	for _, k := range []string{sstDir + "999999.sst", checkpointDir + "00000000000000000001/dead/MANIFEST-000001"} {
		if err := store.Put(ctx, testPrefix+k, strings.NewReader("junk"), 4); err != nil {
			t.Fatal(err)
		}
	}
	// Not ours: left alone.
	if err := store.Put(ctx, testPrefix+"other/x", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if n := len(manifests(t, store)); n != 6 {
		t.Fatalf("%d manifests before GC, want 6", n)
	}

	// Bounded: 3 deletes per call until nothing is left to delete.
	total := 0
	for calls := 0; ; calls++ {
		n, err := s.CollectObjects(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n > cfg.GCMaxDeletes {
			t.Fatalf("one call deleted %d objects, bound %d", n, cfg.GCMaxDeletes)
		}
		total += n
		if n == 0 {
			break
		}
		if calls > 100 {
			t.Fatal("GC never finished")
		}
	}
	if n := len(manifests(t, store)); n != DefaultKeepCheckpoints {
		t.Fatalf("%d manifests after GC, want %d", n, DefaultKeepCheckpoints)
	}
	assertEveryObjectNamed(t, store)
	if _, err := store.Get(ctx, testPrefix+"other/x"); err != nil {
		t.Fatalf("GC deleted an object outside its directories: %v", err)
	}
	t.Logf("GC deleted %d objects", total)

	// Checkpoints after GC re-upload whatever GC removed, and a restore
	// from them answers like the model.
	log.append(all[70:]...)
	waitApplied(t, s, 90)
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for calls := 0; calls < 100; calls++ {
		n, err := s.CollectObjects(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	assertEveryObjectNamed(t, store)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openServer(t, testConfig(t.TempDir(), newFakeLog(all...), store))
	if s2.ckptIndex.Load() != 90 {
		t.Fatalf("restored checkpoint at index %d, want 90", s2.ckptIndex.Load())
	}
	waitApplied(t, s2, 90)
	checkScans(t, s2, all)
}

// TestCollectObjectsWaitsForCheckpoint runs object GC while a checkpoint is
// uploading (the test hook stretches the upload): GC must not delete any of
// its files.
func TestCollectObjectsWaitsForCheckpoint(t *testing.T) {
	store := newMemStore()
	all := history(1, 40)
	cfg := testConfig(t.TempDir(), newFakeLog(all...), store)
	cfg.TestCheckpointPause = 20 * time.Millisecond
	cfg.KeepCheckpoints = 1
	s := openServer(t, cfg)
	waitApplied(t, s, 40)
	started := make(chan struct{})
	var once sync.Once
	store.setFailPut(func(string) error { once.Do(func() { close(started) }); return nil })
	var wg sync.WaitGroup
	var ckErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		ckErr = s.Checkpoint(context.Background())
	}()
	<-started
	if _, err := s.CollectObjects(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if ckErr != nil {
		t.Fatal(ckErr)
	}
	assertEveryObjectNamed(t, store)
	if len(manifests(t, store)) != 1 {
		t.Fatal("want one manifest")
	}
}

// fakeClock is an injectable clock.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time         { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) set(t time.Time)        { c.ns.Store(t.UnixNano()) }
func minuteTS(base time.Time, m int) uint64 { return tsAt(base.Add(time.Duration(m) * time.Minute)) }

// timedHistory is n entries one minute apart from base, over a few keys,
// with deletes.
func timedHistory(base time.Time, n int, seed uint64) []*wirepb.LogEntry {
	rng := rand.New(rand.NewPCG(seed, 3))
	var entries []*wirepb.LogEntry
	for i := 1; i <= n; i++ {
		var muts []*wirepb.Mutation
		used := map[int]bool{}
		for j := 0; j < 1+rng.IntN(3); j++ {
			k := rng.IntN(8)
			if used[k] {
				continue
			}
			used[k] = true
			if rng.IntN(4) == 0 {
				muts = append(muts, del(fmt.Sprintf("k%d", k)))
			} else {
				muts = append(muts, put(fmt.Sprintf("k%d", k), fmt.Sprintf("v%d", i)))
			}
		}
		entries = append(entries, entry(uint64(i), minuteTS(base, i)+uint64(rng.IntN(100)), muts...))
	}
	return entries
}

// versions lists every (prefix, ts, kind) version in s's Pebble database.
func versions(t *testing.T, s *Server) (out []struct {
	prefix string
	ts     uint64
	kind   byte
}) {
	t.Helper()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: userKeysStart})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		p, ts, err := splitVersionedKey(it.Key())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, struct {
			prefix string
			ts     uint64
			kind   byte
		}{string(p), ts, it.Value()[0]})
	}
	return out
}

func TestCollectVersions(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	all := timedHistory(base, 120, 1)
	clock := &fakeClock{}
	clock.set(base.Add(130 * time.Minute))
	cfg := testConfig(t.TempDir(), newFakeLog(all...), newMemStore())
	cfg.Retention = 60 * time.Minute // reads from minute 70 on
	cfg.Now = clock.now
	cfg.GCMaxVersions = 7
	s := openServer(t, cfg)
	waitApplied(t, s, 120)
	before := len(versions(t, s))
	total := 0
	for range 100 { // bounded runs of 7 versions each cover every key
		n, err := s.CollectVersions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	after := versions(t, s)
	if total == 0 || len(after) != before-total {
		t.Fatalf("deleted %d of %d versions, %d left", total, before, len(after))
	}
	// Per key: nothing below the newest version at or under the GC
	// horizon, and that one is not a tombstone.
	gcHorizon := tsAt(clock.now().Add(-cfg.Retention - gcGrace))
	for i, v := range after {
		if v.ts > gcHorizon {
			continue
		}
		if v.kind == kindTombstone {
			t.Fatalf("tombstone at ts %d below the horizon survived GC", v.ts)
		}
		if i > 0 && after[i-1].prefix == v.prefix && after[i-1].ts <= gcHorizon {
			t.Fatalf("key %q keeps two versions below the horizon (%d, %d)", v.prefix, after[i-1].ts, v.ts)
		}
	}
	// Every admissible read still answers like the model.
	for _, e := range all {
		if ts := e.GetCommitTs(); ts >= s.readHorizon() {
			if got, want := scanAll(t, s, "", "", ts, 0), model(all, "", "", ts, 0); !slices.Equal(got, want) {
				t.Fatalf("scan at %d after GC: got %v, want %v", ts, got, want)
			}
		}
	}
	t.Logf("version GC deleted %d of %d versions", total, before)
}

// TestTimeTravelRetention reads over gRPC below and within the retention
// window with an injected clock.
func TestTimeTravelRetention(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	all := timedHistory(base, 60, 2)
	clock := &fakeClock{}
	clock.set(base.Add(70 * time.Minute))
	cfg := testConfig(t.TempDir(), newFakeLog(all...), newMemStore())
	cfg.Retention = 30 * time.Minute // oldest readable: minute 40
	cfg.Now = clock.now
	s := openServer(t, cfg)
	c := serveGRPC(t, s)
	ctx := context.Background()
	for _, e := range all {
		ts := e.GetCommitTs()
		rows, _, err := grpcScan(ctx, t, c, &wirepb.ScanRequest{ReadTs: ts, MinIndex: e.GetIndex()})
		if ts < minuteTS(base, 40) {
			if status.Code(err) != codes.FailedPrecondition ||
				!strings.Contains(err.Error(), fmt.Sprintf("timestamp %d", ts)) ||
				!strings.Contains(err.Error(), "is older than the retention window 30m0s") {
				t.Fatalf("scan at %d (below retention) = %v, want FailedPrecondition naming the timestamp and window", ts, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("scan at %d within retention: %v", ts, err)
		}
		if want := model(all, "", "", ts, 0); !slices.Equal(rows, want) {
			t.Fatalf("scan at %d: got %v, want %v", ts, rows, want)
		}
	}
	// Time moves on: what was readable falls out of the window.
	ts := all[44].GetCommitTs() // minute 45
	clock.set(base.Add(80 * time.Minute))
	if _, _, err := grpcScan(ctx, t, c, &wirepb.ScanRequest{ReadTs: ts}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("scan at minute 45 with the clock at minute 80 = %v, want FailedPrecondition", err)
	}
}
