package pageserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// history builds entries from..to (inclusive), each writing a few keys with
// values big enough to make real SSTs, and deleting one now and then.
func history(from, to uint64) []*wirepb.LogEntry {
	var entries []*wirepb.LogEntry
	for i := from; i <= to; i++ {
		ts := 1000 + 10*i
		muts := []*wirepb.Mutation{
			put(fmt.Sprintf("key%03d", i%37), fmt.Sprintf("v%d-%s", i, strings.Repeat("x", 200))),
			put(fmt.Sprintf("key%03d\x00sub", i%11), fmt.Sprintf("sub%d", i)),
		}
		if i%5 == 0 {
			muts = append(muts, del(fmt.Sprintf("key%03d", (i+3)%37)))
		}
		entries = append(entries, entry(i, ts, muts...))
	}
	return entries
}

// checkScans compares scans at several timestamps with the model.
func checkScans(t *testing.T, s *Server, entries []*wirepb.LogEntry) {
	t.Helper()
	last := entries[len(entries)-1].GetCommitTs()
	for _, ts := range []uint64{0, 1010, 1255, last / 2, last - 10, last, last + 1000} {
		got := scanAll(t, s, "", "", ts, 0)
		if want := model(entries, "", "", ts, 0); !slices.Equal(got, want) {
			t.Fatalf("scan at %d: got %d rows %.200q\nwant %d rows %.200q", ts, len(got), got, len(want), want)
		}
	}
}

// manifests lists the manifest keys in store.
func manifests(t *testing.T, store *memStore) []string {
	t.Helper()
	keys, err := store.List(context.Background(), testPrefix+manifestDir)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// readManifest decodes the manifest at key.
func readManifest(t *testing.T, store *memStore, key string) *manifest {
	t.Helper()
	rc, err := store.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	m, err := decodeManifest(rc)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRestartResumesFromPersistedIndex(t *testing.T) {
	dir := t.TempDir()
	all := history(1, 8)
	s1 := openServer(t, testConfig(dir, newFakeLog(all[:5]...), newMemStore()))
	waitApplied(t, s1, 5)
	if err := s1.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	log2 := newFakeLog(all...)
	s2 := openServer(t, testConfig(dir, log2, newMemStore()))
	if got := s2.AppliedIndex(); got < 5 {
		t.Fatalf("reopened with applied index %d, want >= 5", got)
	}
	waitApplied(t, s2, 8)
	if froms := log2.fromIndexes(); len(froms) != 1 || froms[0] != 6 {
		t.Fatalf("ReadLog fromIndex calls %v, want [6]", froms)
	}
	checkScans(t, s2, all)
}

func TestCheckpointRestoreCatchUp(t *testing.T) {
	for _, mode := range []RestoreMode{RestoreEager, RestoreLazy} {
		t.Run(string(mode), func(t *testing.T) { testCheckpointRestoreCatchUp(t, mode) })
	}
}

func testCheckpointRestoreCatchUp(t *testing.T, mode RestoreMode) {
	store := newMemStore()
	all := history(1, 120)
	dir1 := t.TempDir()
	log1 := newFakeLog(all[:40]...)
	s1 := openServer(t, testConfig(dir1, log1, store))
	waitApplied(t, s1, 40)
	ctx := context.Background()

	if err := s1.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint 1: %v", err)
	}
	keys := manifests(t, store)
	wantKey := testPrefix + "manifests/" + fmt.Sprintf("%020d", all[39].GetCommitTs()) + ".json"
	if !slices.Equal(keys, []string{wantKey}) {
		t.Fatalf("manifests %v, want [%s]", keys, wantKey)
	}
	m1 := readManifest(t, store, wantKey)
	if m1.AppliedIndex != 40 || m1.AppliedTS != all[39].GetCommitTs() {
		t.Fatalf("manifest position %d/%d, want 40/%d", m1.AppliedIndex, m1.AppliedTS, all[39].GetCommitTs())
	}
	checkManifestFiles(t, store, m1)

	// A second checkpoint uploads only new immutable files.
	log1.append(all[40:80]...)
	waitApplied(t, s1, 80)
	if err := s1.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint 2: %v", err)
	}
	keys = manifests(t, store)
	if len(keys) != 2 {
		t.Fatalf("manifests %v, want 2", keys)
	}
	m2 := readManifest(t, store, keys[1])
	checkManifestFiles(t, store, m2)
	// Immutable files are uploaded once, however many checkpoints name
	// them. (Whether checkpoint 2 still contains checkpoint 1's SSTs depends
	// on Pebble's background compactions; it usually does.)
	assertSSTsUploadedOnce(t, store)
	shared := 0
	for _, f := range m2.Files {
		if isImmutableFile(f.Name) && slices.ContainsFunc(m1.Files, func(g manifestFile) bool { return g.Key == f.Key }) {
			shared++
		}
	}
	t.Logf("checkpoint 2 shares %d SSTs with checkpoint 1", shared)
	// Nothing applied since: no new manifest.
	if err := s1.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint 3: %v", err)
	}
	if got := manifests(t, store); len(got) != 2 {
		t.Fatalf("an idle checkpoint wrote a manifest: %v", got)
	}
	st, _ := s1.Status(ctx, &wirepb.PageStatusRequest{})
	if st.GetCheckpointIndex() != 80 || st.GetCheckpointTs() != all[79].GetCommitTs() {
		t.Fatalf("status %v, want checkpoint 80/%d", st, all[79].GetCommitTs())
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := os.RemoveAll(dir1); err != nil {
		t.Fatal(err)
	}

	// An empty disk restores checkpoint 2 and reads exactly what s1 did.
	log2 := newFakeLog(all[:80]...)
	cfg2 := testConfig(t.TempDir(), log2, store)
	cfg2.Restore = mode
	s2 := openServer(t, cfg2)
	if got := s2.AppliedIndex(); got != 80 {
		t.Fatalf("restored applied index %d, want 80", got)
	}
	checkScans(t, s2, all[:80])
	// Then it catches up from the log.
	log2.append(all[80:]...)
	waitApplied(t, s2, 120)
	if froms := log2.fromIndexes(); len(froms) != 1 || froms[0] != 81 {
		t.Fatalf("ReadLog fromIndex calls %v, want [81]", froms)
	}
	checkScans(t, s2, all)
	// The restored files count as uploaded: the next checkpoint does not
	// upload them again.
	if err := s2.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint after restore: %v", err)
	}
	if got := manifests(t, store); len(got) != 3 {
		t.Fatalf("manifests after the restored server's checkpoint: %v", got)
	}
	assertSSTsUploadedOnce(t, store)
}

// assertSSTsUploadedOnce checks that no immutable object was put twice.
func assertSSTsUploadedOnce(t *testing.T, store *memStore) {
	t.Helper()
	keys, err := store.List(context.Background(), testPrefix+sstDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no SST uploaded")
	}
	for _, k := range keys {
		if n := store.putCount(k); n != 1 {
			t.Fatalf("%s uploaded %d times", k, n)
		}
	}
}

// checkManifestFiles checks that every file a manifest names is in the
// store with its size, under the expected key.
func checkManifestFiles(t *testing.T, store *memStore, m *manifest) {
	t.Helper()
	var ssts, manifestsFiles int
	store.mu.Lock()
	defer store.mu.Unlock()
	for _, f := range m.Files {
		b, ok := store.objects[f.Key]
		if !ok || int64(len(b)) != f.Size {
			t.Fatalf("manifest names %s (%d bytes); store has %d bytes (present %v)", f.Key, f.Size, len(b), ok)
		}
		switch {
		case isImmutableFile(f.Name):
			ssts++
			if f.Key != testPrefix+"sst/"+f.Name {
				t.Fatalf("SST key %s", f.Key)
			}
		case !strings.HasPrefix(f.Key, testPrefix+"checkpoints/"+fmt.Sprintf("%020d", m.AppliedTS)+"/"):
			t.Fatalf("checkpoint file key %s", f.Key)
		case strings.HasPrefix(f.Name, "MANIFEST-"):
			manifestsFiles++
		}
	}
	if ssts == 0 || manifestsFiles != 1 {
		t.Fatalf("manifest has %d SSTs and %d MANIFEST files: %v", ssts, manifestsFiles, m.Files)
	}
}

func TestFailedManifestUploadKeepsPreviousCheckpoint(t *testing.T) {
	store := newMemStore()
	all := history(1, 30)
	dir1 := t.TempDir()
	log1 := newFakeLog(all[:10]...)
	s1 := openServer(t, testConfig(dir1, log1, store))
	waitApplied(t, s1, 10)
	ctx := context.Background()
	if err := s1.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint 1: %v", err)
	}
	first := manifests(t, store)

	log1.append(all[10:20]...)
	waitApplied(t, s1, 20)
	injected := errors.New("injected manifest failure")
	store.setFailPut(func(key string) error {
		if strings.Contains(key, "/manifests/") {
			return injected
		}
		return nil
	})
	if err := s1.Checkpoint(ctx); !errors.Is(err, injected) {
		t.Fatalf("checkpoint 2: %v, want the injected error", err)
	}
	if got := manifests(t, store); !slices.Equal(got, first) {
		t.Fatalf("manifests after a failed upload %v, want %v", got, first)
	}
	if err := s1.Close(); !errors.Is(err, injected) {
		t.Fatalf("close: %v, want the injected error from the final checkpoint", err)
	}
	store.setFailPut(nil)
	if err := os.RemoveAll(dir1); err != nil {
		t.Fatal(err)
	}

	log2 := newFakeLog(all...)
	s2 := openServer(t, testConfig(t.TempDir(), log2, store))
	waitApplied(t, s2, 30)
	if froms := log2.fromIndexes(); len(froms) == 0 || froms[0] != 11 {
		t.Fatalf("ReadLog fromIndex calls %v, want restore from checkpoint 1 (first call 11)", froms)
	}
	checkScans(t, s2, all)
}

func TestPeriodicCheckpoint(t *testing.T) {
	store := newMemStore()
	cfg := testConfig(t.TempDir(), newFakeLog(history(1, 5)...), store)
	cfg.CheckpointInterval = 20 * time.Millisecond
	s := openServer(t, cfg)
	waitApplied(t, s, 5)
	deadline := time.Now().Add(10 * time.Second)
	for len(manifests(t, store)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no periodic checkpoint within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseWakesWaiters(t *testing.T) {
	s := openServer(t, testConfig(t.TempDir(), newFakeLog(), newMemStore()))
	done := make(chan error, 1)
	go func() { done <- s.WaitApplied(context.Background(), 1) }()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitApplied after Close: %v, want ErrClosed", err)
	}
	if err := s.Checkpoint(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Checkpoint after Close: %v, want ErrClosed", err)
	}
}

func TestConfigValidate(t *testing.T) {
	var c Config
	c.EnsureDefaults()
	err := c.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty config: %v", err)
	}
	for _, field := range []string{"DataDir", "Log", "Store"} {
		if !strings.Contains(err.Error(), field) {
			t.Fatalf("error %q does not name %s", err, field)
		}
	}
	c = testConfig(t.TempDir(), newFakeLog(), newMemStore())
	c.Prefix = "no-slash"
	c.EnsureDefaults()
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("prefix without slash: %v", err)
	}
}

// TestCheckpointDuringApply takes checkpoints while the log is being
// applied; the restored data must match exactly the applied position the
// manifest names.
func TestCheckpointDuringApply(t *testing.T) {
	store := newMemStore()
	all := history(1, 300)
	dir1 := t.TempDir()
	log1 := newFakeLog()
	s1 := openServer(t, testConfig(dir1, log1, store))
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range all {
			log1.append(all[i])
			if i%5 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for running := true; running; {
		if err := s1.Checkpoint(ctx); err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
		select {
		case <-done:
			running = false
		case <-time.After(2 * time.Millisecond):
		}
	}
	keys := manifests(t, store)
	if len(keys) == 0 {
		t.Fatal("no checkpoint written")
	}
	m := readManifest(t, store, keys[len(keys)-1])
	t.Logf("%d checkpoints; the newest at index %d", len(keys), m.AppliedIndex)
	// Keep that manifest the newest: the final checkpoint of Close fails.
	store.setFailPut(func(key string) error { return errors.New("store down") })
	_ = s1.Close()
	store.setFailPut(nil)
	if err := os.RemoveAll(dir1); err != nil {
		t.Fatal(err)
	}
	if m.AppliedIndex == 0 || m.AppliedTS != all[m.AppliedIndex-1].GetCommitTs() {
		t.Fatalf("manifest position %d/%d does not name an entry", m.AppliedIndex, m.AppliedTS)
	}

	applied := all[:m.AppliedIndex]
	s2 := openServer(t, testConfig(t.TempDir(), newFakeLog(applied...), store))
	if got := s2.AppliedIndex(); got != m.AppliedIndex {
		t.Fatalf("restored applied index %d, manifest says %d", got, m.AppliedIndex)
	}
	checkScans(t, s2, applied)
}
