package catalog

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/types"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

// TestListTablesAndSequences commits descriptors of two databases to an
// in-memory KV and lists one database's back at a snapshot, in name order.
func TestListTablesAndSequences(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	kv, err := memkv.New(memkv.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	cols := []Column{{Name: "a", Type: types.Int4}}
	var muts []storage.Mutation
	for _, d := range []struct {
		db uint64
		t  *Table
	}{
		{1, &Table{ID: 2, Name: "zeta", Columns: cols, PrimaryKey: []int{0}}},
		{1, &Table{ID: 1, Name: "alpha", Columns: cols, PrimaryKey: []int{0}}},
		{2, &Table{ID: 1, Name: "other", Columns: cols, PrimaryKey: []int{0}}},
	} {
		m, err := PutMutation(d.db, d.t)
		if err != nil {
			t.Fatal(err)
		}
		muts = append(muts, m)
	}
	seq, err := SequenceMutation(1, &Sequence{ID: 3, Name: "s", Start: 1, Increment: 1, Min: 1, Max: 100}, false)
	if err != nil {
		t.Fatal(err)
	}
	muts = append(muts, seq, NextIDMutation(1, 4))
	snap, err := kv.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Commit(ctx, snap, muts, nil); err != nil {
		t.Fatal(err)
	}
	if snap, err = kv.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	r := &Reader{KV: kv, Snap: snap, DB: 1}
	tables, err := r.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 || tables[0].Name != "alpha" || tables[1].Name != "zeta" || tables[1].ID != 2 {
		t.Fatalf("tables of db 1: %+v", tables)
	}
	seqs, err := r.Sequences(ctx)
	if err != nil || len(seqs) != 1 || seqs[0].Name != "s" || seqs[0].Max != 100 {
		t.Fatalf("sequences of db 1: %+v, %v", seqs, err)
	}
	// OIDs: distinct relation ids give disjoint OID blocks.
	if RelationOID(2)-RelationOID(1) != 256 || IndexOID(1, 254) >= RelationOID(2) || ConstraintOID(1, 0) <= PrimaryIndexOID(1) {
		t.Fatal("OID layout")
	}
}
