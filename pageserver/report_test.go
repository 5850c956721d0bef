package pageserver

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

// fakeReporter records reports and fails the first failFirst calls.
type fakeReporter struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	accepted  []report
}

type report struct {
	node      string
	index, ts uint64
}

func (r *fakeReporter) ReportConsistent(ctx context.Context, nodeID string, index, ts uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls <= r.failFirst {
		return errors.New("injected report failure")
	}
	r.accepted = append(r.accepted, report{nodeID, index, ts})
	return nil
}

func (r *fakeReporter) snapshot() (int, []report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, slices.Clone(r.accepted)
}

func TestCheckpointReportsConsistentPosition(t *testing.T) {
	all := history(1, 20)
	log := newFakeLog()
	rep := &fakeReporter{failFirst: 1}
	cfg := testConfig(t.TempDir(), log, newMemStore())
	cfg.Reporter, cfg.NodeID = rep, "page-7"
	s := openServer(t, cfg)
	ctx := context.Background()

	// Nothing applied yet: nothing to checkpoint or report. (The entries
	// arrive afterwards, so the apply loop cannot race this checkpoint.)
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	log.append(all[:10]...)
	waitApplied(t, s, 10)
	// The report fails: the checkpoint still succeeds.
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint with a failing reporter: %v", err)
	}
	if calls, acc := rep.snapshot(); calls != 1 || len(acc) != 0 {
		t.Fatalf("after a failed report: %d calls, accepted %v", calls, acc)
	}
	// No new entries: no new checkpoint, but the failed report is retried.
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	want := []report{{"page-7", 10, all[9].GetCommitTs()}}
	if _, acc := rep.snapshot(); !slices.Equal(acc, want) {
		t.Fatalf("accepted %v, want %v", acc, want)
	}
	// Already reported: no duplicate.
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if calls, _ := rep.snapshot(); calls != 2 {
		t.Fatalf("%d report calls, want 2 (no duplicate)", calls)
	}
	log.append(all[10:]...)
	waitApplied(t, s, 20)
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	want = append(want, report{"page-7", 20, all[19].GetCommitTs()})
	if _, acc := rep.snapshot(); !slices.Equal(acc, want) {
		t.Fatalf("accepted %v, want %v", acc, want)
	}
}

// A failed checkpoint reports nothing.
func TestFailedCheckpointDoesNotReport(t *testing.T) {
	store := newMemStore()
	store.setFailPut(func(key string) error { return errors.New("injected put failure") })
	rep := &fakeReporter{}
	cfg := testConfig(t.TempDir(), newFakeLog(history(1, 5)...), store)
	cfg.Reporter = rep
	s := openServer(t, cfg)
	waitApplied(t, s, 5)
	if err := s.Checkpoint(context.Background()); err == nil {
		t.Fatal("checkpoint with failing puts succeeded")
	}
	if calls, _ := rep.snapshot(); calls != 0 {
		t.Fatalf("%d reports after a failed checkpoint", calls)
	}
	store.setFailPut(nil)
}
