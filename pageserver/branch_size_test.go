package pageserver

import (
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/objstore"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// storeBytes sums the sizes of every object under dir (a local store).
func storeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBranchOfLargeDatabase fills database 1 with incompressible rows
// (32 MiB; PHANTOM_BRANCH_TEST_MB=1024 for the 1 GB run), checkpoints it to
// a local-directory object store, then branches it: creating the branch is
// one small log entry, and the checkpoint after it adds only that entry's
// files (a few KiB), not a copy of the data. Writes to the branch and to
// the parent stay apart.
func TestBranchOfLargeDatabase(t *testing.T) {
	sizeMB := 32
	if v := os.Getenv("PHANTOM_BRANCH_TEST_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("PHANTOM_BRANCH_TEST_MB=%q: want a positive number of MiB", v)
		}
		sizeMB = n
	}
	storeDir := t.TempDir()
	store, err := objstore.NewLocal(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	log := newFakeLog()
	cfg := testConfig(t.TempDir(), log, store)
	cfg.ScanBatchRows = 1024
	s := openServer(t, cfg)
	ctx := context.Background()

	// One entry per MiB: 256 rows of 4 KiB.
	const rowsPerEntry, valueBytes = 256, 4096
	val := make([]byte, valueBytes)
	fillStart := time.Now()
	var index uint64
	for e := range sizeMB {
		muts := make([]*wirepb.Mutation, rowsPerEntry)
		for r := range muts {
			_, _ = rand.Read(val)
			muts[r] = &wirepb.Mutation{Key: []byte(dbKey(1, fmt.Sprintf("t/%08d", e*rowsPerEntry+r))), Value: append([]byte(nil), val...)}
		}
		index++
		log.append(entry(index, 1000+index, muts...))
		if index%64 == 0 {
			waitApplied(t, s, index) // bound the fake log's backlog
		}
	}
	waitApplied(t, s, index)
	// Settle the LSM, so no compaction rewrites the data during the
	// measurements below.
	if err := s.db.Compact(ctx, userKeysStart, []byte{0xff, 0xff}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	filled := storeBytes(t, storeDir)
	t.Logf("database of %d MiB applied and checkpointed in %s; object store holds %d bytes", sizeMB, time.Since(fillStart).Round(time.Millisecond), filled)
	if filled < int64(sizeMB)<<20 {
		t.Fatalf("object store holds %d bytes, less than the %d MiB written: the data is not incompressible", filled, sizeMB)
	}

	// The control: what the checkpoint after one tiny ordinary write adds.
	// Every checkpoint uploads Pebble's mutable files (MANIFEST, OPTIONS
	// and the current WAL file, which Pebble recycles, so it can hold up to
	// a memtable of stale bytes) besides the new SSTs.
	index++
	log.append(entry(index, 1000+index, put(dbKey(5, "x"), "y")))
	waitApplied(t, s, index)
	before, beforeSST := storeBytes(t, storeDir), storeBytes(t, filepath.Join(storeDir, testPrefix, sstDir))
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	control := storeBytes(t, storeDir) - before
	before, beforeSST = storeBytes(t, storeDir), storeBytes(t, filepath.Join(storeDir, testPrefix, sstDir))

	// Branch at the newest data ts: one log entry.
	forkTS := 1000 + index
	created := time.Now()
	index++
	log.append(entry(index, 1000+index, fork(2, 1, forkTS)))
	waitApplied(t, s, index)
	key := dbKey(2, "t/00000007")
	rows := scanAll(t, s, key, key+"\x00", 1000+index, 0)
	createDur := time.Since(created)
	if len(rows) != 1 || rows[0].V != scanAll(t, s, dbKey(1, "t/00000007"), dbKey(1, "t/00000007\x00"), forkTS, 0)[0].V {
		t.Fatalf("branch read of %q = %d rows, want the parent's row", key, len(rows))
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	delta := storeBytes(t, storeDir) - before
	sstDelta := storeBytes(t, filepath.Join(storeDir, testPrefix, sstDir)) - beforeSST
	t.Logf("branch of a %d MiB database: created and readable in %s; the next checkpoint added %d bytes of SSTs, %d bytes in all (a one-row write's checkpoint: %d bytes)",
		sizeMB, createDur.Round(time.Microsecond), sstDelta, delta, control)
	// A copy of the data would be sizeMB MiB of SSTs; the branch is one
	// small record, and its checkpoint costs what any one-row write's does.
	if sstDelta > 64<<10 {
		t.Fatalf("creating a branch added %d bytes of SSTs to the object store; want under 64 KiB", sstDelta)
	}
	if delta > 8<<20 {
		t.Fatalf("the checkpoint after creating a branch added %d bytes; want under 8 MiB (Pebble's mutable files)", delta)
	}
	if delta > control+64<<10 {
		t.Fatalf("the checkpoint after creating a branch added %d bytes; one after a one-row write added %d", delta, control)
	}

	// Writes after the fork stay on their side.
	index++
	log.append(entry(index, 1000+index, put(dbKey(2, "t/00000007"), "branch"), put(dbKey(1, "t/00000008"), "parent")))
	waitApplied(t, s, index)
	readTS := 1000 + index
	if got := scanAll(t, s, dbKey(2, "t/00000007"), dbKey(2, "t/00000008\x00"), readTS, 0); len(got) != 2 || got[0].V != "branch" || got[1].V == "parent" {
		t.Fatalf("branch reads %d rows, first %q: want its own write and the parent's old row", len(got), got[0].V)
	}
	if got := scanAll(t, s, dbKey(1, "t/00000007"), dbKey(1, "t/00000008\x00"), readTS, 0); len(got) != 2 || got[0].V == "branch" || got[1].V != "parent" {
		t.Fatalf("parent reads %d rows: want its own write and not the branch's", len(got))
	}
}
