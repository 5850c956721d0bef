package pageserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/phantom-db/phantom/internal/objstore"
)

// gatedStore counts the GETs of SST objects and fails the background
// downloads of a lazy restore until release is called (the worker retries
// with backoff); demand fetches pass.
type gatedStore struct {
	objstore.Store
	sstGets   atomic.Int64
	gate      chan struct{}
	closeGate sync.Once
	mu        sync.Mutex
	keys      []string
}

func newGatedStore(s objstore.Store) *gatedStore {
	return &gatedStore{Store: s, gate: make(chan struct{})}
}

func (g *gatedStore) release() { g.closeGate.Do(func() { close(g.gate) }) }

func (g *gatedStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if strings.Contains(key, "/"+sstDir) {
		if ctx.Value(backgroundFetchKey{}) != nil {
			select {
			case <-g.gate:
			default:
				return nil, errors.New("gated: background download not allowed yet")
			}
		}
		g.sstGets.Add(1)
		g.mu.Lock()
		g.keys = append(g.keys, key)
		g.mu.Unlock()
	}
	return g.Store.Get(ctx, key)
}

// ingestRanges ingests one SST per prefix, each holding rows
// <prefix><nnn> at ts 500, so the restored LSM has files with disjoint key
// ranges (below the log's keys, which all share the applied-position key).
func ingestRanges(t *testing.T, s *Server, prefixes []string, rows int) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, p := range prefixes {
		path := filepath.Join(dir, p+".sst")
		f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), sstable.WriterOptions{TableFormat: s.db.TableFormat()})
		for i := range rows {
			v := append([]byte{kindPut}, fmt.Sprintf("%s-value-%d-%s", p, i, strings.Repeat("y", 100))...)
			if err := w.Set(encodeVersionedKey([]byte(fmt.Sprintf("%s%05d", p, i)), 500), v); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	if err := s.db.Ingest(context.Background(), paths); err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

// lazyFixture writes a checkpoint with the log history 1..40 and five SSTs
// of disjoint ranges to a new store and returns it.
func lazyFixture(t *testing.T) (*memStore, []string) {
	t.Helper()
	store := newMemStore()
	s := openServer(t, testConfig(t.TempDir(), newFakeLog(history(1, 40)...), store))
	waitApplied(t, s, 40)
	prefixes := []string{"r0-", "r1-", "r2-", "r3-", "r4-"}
	ingestRanges(t, s, prefixes, 300)
	if err := s.Checkpoint(context.Background()); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return store, prefixes
}

// readSet is the reads compared between restore modes.
func readSet(t *testing.T, s *Server, prefixes []string) map[string][]kv {
	t.Helper()
	out := map[string][]kv{}
	for _, ts := range []uint64{499, 500, 1200, 1400, 5000} {
		out[fmt.Sprintf("all@%d", ts)] = scanAll(t, s, "", "", ts, 0)
		for _, p := range prefixes {
			out[fmt.Sprintf("%s@%d", p, ts)] = scanAll(t, s, p, p+"\xff", ts, 0)
		}
	}
	return out
}

func sameReads(t *testing.T, what string, got, want []kv) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: lazy restore read %d rows, eager %d rows", what, len(got), len(want))
	}
}

func TestLazyRestoreServesBeforeDownloadFinishes(t *testing.T) {
	store, prefixes := lazyFixture(t)
	all := history(1, 40)

	eagerCfg := testConfig(t.TempDir(), newFakeLog(all...), store)
	eagerCfg.Restore = RestoreEager
	eager := openServer(t, eagerCfg)
	if eager.lazy != nil {
		t.Fatal("an eager restore left files to fetch")
	}
	want := readSet(t, eager, prefixes)
	if got := want["r2-@500"]; len(got) != 300 {
		t.Fatalf("eager r2- read %d rows, want 300", len(got))
	}

	g := newGatedStore(store)
	dir := t.TempDir()
	lazy := openServer(t, testConfig(dir, newFakeLog(all...), g))
	if lazy.AppliedIndex() != 40 {
		t.Fatalf("lazily restored applied index %d, want 40", lazy.AppliedIndex())
	}
	total := lazy.lazyMissing()
	if total < len(prefixes) {
		t.Fatalf("lazy restore opened with %d files missing, want at least %d", total, len(prefixes))
	}
	if _, err := os.Stat(filepath.Join(dir, lazyStateName)); err != nil {
		t.Fatalf("lazy restore state: %v", err)
	}
	// One range: it waits for the files covering it only.
	for _, p := range prefixes[1:3] {
		sameReads(t, p, scanAll(t, lazy, p, p+"\xff", 500, 0), want[p+"@500"])
	}
	if left := lazy.lazyMissing(); left == 0 || left >= total {
		t.Fatalf("after two range reads %d of %d files are missing; want some fetched and some not", left, total)
	}
	t.Logf("files missing at open %d, after two range reads %d; SST GETs %d", total, lazy.lazyMissing(), g.sstGets.Load())
	// Everything, still before the background download ran.
	got := readSet(t, lazy, prefixes)
	for k, w := range want {
		sameReads(t, k, got[k], w)
	}

	g.release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := lazy.lazy.wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, lazyStateName)); !os.IsNotExist(err) {
		t.Fatalf("lazy restore state after completion: %v", err)
	}
	g.mu.Lock()
	gets := slices.Clone(g.keys)
	g.mu.Unlock()
	slices.Sort(gets)
	if len(slices.Compact(slices.Clone(gets))) != len(gets) {
		t.Fatalf("an SST was downloaded twice: %q", gets)
	}
	// The restored files count as uploaded.
	log := lazy.cfg.Log.(*fakeLog)
	log.append(history(41, 50)...)
	waitApplied(t, lazy, 50)
	if err := lazy.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint after lazy restore: %v", err)
	}
	assertSSTsUploadedOnce(t, store)
}

// TestLazyRestoreResumesAfterRestart simulates a crash in the middle of a
// lazy restore: a restored disk with the lazy restore state and some SSTs
// missing. The next start serves them on demand, and an eager start waits
// for them.
func TestLazyRestoreResumesAfterRestart(t *testing.T) {
	store, prefixes := lazyFixture(t)
	all := history(1, 40)
	dir := t.TempDir()
	eagerCfg := testConfig(dir, newFakeLog(all...), store)
	eagerCfg.Restore = RestoreEager
	s0 := openServer(t, eagerCfg)
	want := readSet(t, s0, prefixes)
	if err := s0.Close(); err != nil {
		t.Fatal(err)
	}
	m, err := s0.newestManifest(context.Background())
	if err != nil || m == nil {
		t.Fatalf("newest manifest: %v, %v", m, err)
	}
	if err := s0.writeLazyState(m); err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, f := range m.Files {
		if isImmutableFile(f.Name) && removed < 3 {
			if err := os.Remove(filepath.Join(dir, pebbleDirName, f.Name)); err == nil {
				removed++
			}
		}
	}
	if removed == 0 {
		t.Fatal("no restored SST to remove")
	}

	g := newGatedStore(store)
	s1, err := New(context.Background(), testConfig(dir, newFakeLog(all...), g))
	if err != nil {
		t.Fatal(err)
	}
	if n := s1.lazyMissing(); n == 0 || n > removed {
		t.Logf("missing after restart: %d of %d removed (Pebble's table stats job fetches on demand too)", n, removed)
	}
	got := readSet(t, s1, prefixes)
	for k, w := range want {
		sameReads(t, k, got[k], w)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// Restart again, eager: New finishes whatever is missing before it
	// returns.
	if err := s0.writeLazyState(m); err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if isImmutableFile(f.Name) {
			_ = os.Remove(filepath.Join(dir, pebbleDirName, f.Name))
			break
		}
	}
	s2 := openServer(t, eagerCfg)
	if n := s2.lazyMissing(); n != 0 {
		t.Fatalf("eager restart left %d files missing", n)
	}
	got = readSet(t, s2, prefixes)
	for k, w := range want {
		sameReads(t, k, got[k], w)
	}
	if _, err := os.Stat(filepath.Join(dir, lazyStateName)); !os.IsNotExist(err) {
		t.Fatalf("lazy restore state after the resumed restore: %v", err)
	}
}

func TestParseRestoreMode(t *testing.T) {
	for _, s := range []string{"lazy", "eager"} {
		if m, err := ParseRestoreMode(s); err != nil || string(m) != s {
			t.Fatalf("ParseRestoreMode(%q) = %q, %v", s, m, err)
		}
	}
	if _, err := ParseRestoreMode("fast"); err == nil {
		t.Fatal("ParseRestoreMode accepted fast")
	}
	cfg := testConfig(t.TempDir(), newFakeLog(), newMemStore())
	cfg.Restore = "fast"
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err == nil {
		t.Fatal("Validate accepted restore mode fast")
	}
}
