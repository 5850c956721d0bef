package pageserver

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/objstore"
	"github.com/phantom-db/phantom/internal/objstore/objstoretest"
)

// checkStoreManifests checks that every manifest in store names only
// objects that exist with the size it records. Faults must be off.
func checkStoreManifests(t *testing.T, store objstore.Store) int {
	t.Helper()
	ctx := context.Background()
	keys, err := store.List(ctx, testPrefix+manifestDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		rc, err := store.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		m, err := decodeManifest(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, f := range m.Files {
			rc, err := store.Get(ctx, f.Key)
			if err != nil {
				t.Fatalf("manifest %s names %s: %v", k, f.Key, err)
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil || n != f.Size {
				t.Fatalf("manifest %s names %s with %d bytes; read %d, %v", k, f.Key, f.Size, n, err)
			}
		}
	}
	return len(keys)
}

// TestCheckpointsThroughFaultyS3 takes checkpoints through an S3 server that
// fails a quarter of requests (500, 503, dropped connections, lost
// responses) with only 2 attempts per request, so some checkpoints fail
// half-way. After every attempt no manifest may name a missing or
// different-sized object; a page server restored under faults (retrying
// New) must then answer every timestamp like the model.
func TestCheckpointsThroughFaultyS3(t *testing.T) {
	objstoretest.FastRetries(t)
	f := objstoretest.NewFaultyS3(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := objstore.NewS3(ctx, f.Config("ckpt", 2))
	if err != nil {
		t.Fatal(err)
	}
	all := history(1, 120)
	log := newFakeLog()
	s := openServer(t, testConfig(t.TempDir(), log, store))
	var ok, failed int
	for i := 0; i < 12; i++ {
		log.append(all[i*10 : (i+1)*10]...)
		waitApplied(t, s, uint64((i+1)*10))
		f.SetFaultRate(0.25)
		err := s.Checkpoint(ctx)
		f.SetFaultRate(0)
		if err != nil {
			failed++
		} else {
			ok++
		}
		checkStoreManifests(t, store)
	}
	t.Logf("checkpoints: %d ok, %d failed; requests by fault: %v", ok, failed, f.Counts())
	if ok == 0 || failed == 0 {
		t.Fatalf("want both failed and successful checkpoints, got %d ok, %d failed", ok, failed)
	}
	if err := s.Close(); err != nil {
		t.Logf("close (final checkpoint without faults): %v", err)
	}
	checkStoreManifests(t, store)

	// Restore on an empty disk while faults continue; New fails cleanly
	// and is retried.
	f.SetFaultRate(0.25)
	cfg := testConfig(t.TempDir(), newFakeLog(all...), store)
	var s2 *Server
	for attempt := 1; s2 == nil; attempt++ {
		s2, err = New(ctx, cfg)
		if err != nil && attempt == 30 {
			t.Fatalf("restore under faults failed 30 times; last: %v", err)
		}
	}
	t.Cleanup(func() { _ = s2.Close() })
	f.SetFaultRate(0)
	if s2.ckptIndex.Load() == 0 {
		t.Fatal("the second server did not restore a checkpoint")
	}
	waitApplied(t, s2, 120)
	for _, e := range all {
		ts := e.GetCommitTs()
		if got, want := scanAll(t, s2, "", "", ts, 0), model(all, "", "", ts, 0); !slices.Equal(got, want) {
			t.Fatalf("restored scan at %d: got %d rows, want %d", ts, len(got), len(want))
		}
	}
}
