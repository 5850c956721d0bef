package memkv

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/storage"
)

func newStore(t *testing.T, batch int) *Store {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	s, err := New(Config{Allocator: mem, BatchRows: batch})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func scanAll(t *testing.T, s *Store, snap storage.Snapshot, start, end string, limit int) []string {
	t.Helper()
	var out []string
	err := s.Scan(context.Background(), snap, []byte(start), []byte(end), limit, func(b arrow.RecordBatch) error {
		if b.Schema().Field(0).Name != "key" || b.Schema().Field(1).Name != "value" {
			t.Fatalf("bad schema %s", b.Schema())
		}
		k := b.Column(0).(*array.Binary)
		v := b.Column(1).(*array.Binary)
		for i := range k.Len() {
			out = append(out, string(k.Value(i))+"="+string(v.Value(i)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSnapshotsAndDeletes(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, 2)
	s0, _ := s.Begin(ctx)
	if _, err := s.Commit(ctx, s0, []storage.Mutation{{Key: []byte("b"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("1")}, {Key: []byte("c"), Value: []byte("1")}}, nil); err != nil {
		t.Fatal(err)
	}
	s1, _ := s.Begin(ctx)
	if _, err := s.Commit(ctx, s1, []storage.Mutation{{Key: []byte("b"), Delete: true}, {Key: []byte("a"), Value: []byte("2")}}, nil); err != nil {
		t.Fatal(err)
	}
	s2, _ := s.Begin(ctx)
	if got := fmt.Sprint(scanAll(t, s, s0, "", "", 0)); got != "[]" {
		t.Fatalf("s0 sees %s", got)
	}
	if got := fmt.Sprint(scanAll(t, s, s1, "", "", 0)); got != "[a=1 b=1 c=1]" {
		t.Fatalf("s1 sees %s", got)
	}
	if got := fmt.Sprint(scanAll(t, s, s2, "", "", 0)); got != "[a=2 c=1]" {
		t.Fatalf("s2 sees %s", got)
	}
	if got := fmt.Sprint(scanAll(t, s, s1, "b", "c", 0)); got != "[b=1]" {
		t.Fatalf("range sees %s", got)
	}
	if got := fmt.Sprint(scanAll(t, s, s1, "", "", 2)); got != "[a=1 b=1]" {
		t.Fatalf("limit sees %s", got)
	}
}

func TestWriteWriteConflict(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, 0)
	a, _ := s.Begin(ctx)
	b, _ := s.Begin(ctx)
	if _, err := s.Commit(ctx, a, []storage.Mutation{{Key: []byte("k"), Value: []byte("a")}}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.Commit(ctx, b, []storage.Mutation{{Key: []byte("k"), Value: []byte("b")}}, nil)
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("want conflict, got %v", err)
	}
	// A disjoint write from the old snapshot commits.
	if _, err := s.Commit(ctx, b, []storage.Mutation{{Key: []byte("j"), Value: []byte("b")}}, nil); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Begin(ctx)
	if got := fmt.Sprint(scanAll(t, s, c, "", "", 0)); got != "[j=b k=a]" {
		t.Fatalf("sees %s", got)
	}
}

func TestManyKeysManyBatches(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, 100)
	snap, _ := s.Begin(ctx)
	var muts []storage.Mutation
	for i := range 1000 {
		muts = append(muts, storage.Mutation{Key: fmt.Appendf(nil, "k%04d", 999-i), Value: []byte("v")})
	}
	if _, err := s.Commit(ctx, snap, muts, nil); err != nil {
		t.Fatal(err)
	}
	snap, _ = s.Begin(ctx)
	got := scanAll(t, s, snap, "", "", 0)
	if len(got) != 1000 || got[0] != "k0000=v" || got[999] != "k0999=v" {
		t.Fatalf("got %d keys", len(got))
	}
}

func TestReadRangeConflict(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, 0)
	base, _ := s.Begin(ctx)
	if _, err := s.Commit(ctx, base, []storage.Mutation{{Key: []byte("b"), Value: []byte("0")}}, nil); err != nil {
		t.Fatal(err)
	}
	reader, _ := s.Begin(ctx)
	writer, _ := s.Begin(ctx)
	if _, err := s.Commit(ctx, writer, []storage.Mutation{{Key: []byte("m"), Value: []byte("1")}}, nil); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		r        storage.KeyRange
		conflict bool
	}{
		{storage.KeyRange{Start: []byte("a"), End: []byte("m")}, false}, // end is exclusive
		{storage.KeyRange{Start: []byte("n")}, false},
		{storage.KeyRange{Start: []byte("a"), End: []byte("c")}, false}, // "b" is older than the snapshot
		{storage.KeyRange{Start: []byte("m"), End: []byte("m\x00")}, true},
		{storage.KeyRange{Start: []byte("c")}, true}, // unbounded end
	} {
		// A fresh key per case, below every range, so only the read range
		// can conflict.
		w := []storage.Mutation{{Key: fmt.Appendf(nil, "0w%d", i), Value: []byte("x")}}
		_, err := s.Commit(ctx, reader, w, []storage.KeyRange{tc.r})
		if got := errors.Is(err, storage.ErrConflict); got != tc.conflict {
			t.Fatalf("range [%s, %s): conflict %v, want %v (%v)", tc.r.Start, tc.r.End, got, tc.conflict, err)
		}
	}
}

func TestTableVersion(t *testing.T) {
	s := newStore(t, 2)
	ctx := context.Background()
	commit := func(muts ...storage.Mutation) uint64 {
		t.Helper()
		snap, err := s.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := s.Commit(ctx, snap, muts, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	version := func(ts uint64, start, end string) uint64 {
		t.Helper()
		v, err := s.TableVersion(ctx, storage.Snapshot{TS: ts}, []byte(start), []byte(end))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t1 := commit(storage.Mutation{Key: []byte("a1"), Value: []byte("x")}, storage.Mutation{Key: []byte("b1"), Value: []byte("y")})
	t2 := commit(storage.Mutation{Key: []byte("a2"), Delete: true})
	if got := version(t2, "a", "b"); got != t2 {
		t.Fatalf("range a: %d, want the delete's ts %d", got, t2)
	}
	if got := version(t2, "b", "c"); got != t1 {
		t.Fatalf("range b: %d, want %d", got, t1)
	}
	if got := version(t2, "c", "d"); got != 0 {
		t.Fatalf("unwritten range: %d, want 0", got)
	}
	if got := version(t1, "a", "b"); got <= t1 {
		t.Fatalf("a read at %d of a range written at %d answered %d: must exceed the read ts", t1, t2, got)
	}
}
