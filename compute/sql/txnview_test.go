package sql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

// TestMergedScanMatchesModel checks txnView.Scan against a map model over
// random committed rows, random buffered puts and deletes, random ranges
// and limits, resuming the way the scan operator does.
func TestMergedScanMatchesModel(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 1))
		kv, err := memkv.New(memkv.Config{Allocator: mem, BatchRows: 1 + rng.IntN(5)})
		if err != nil {
			t.Fatal(err)
		}
		key := func() []byte { return fmt.Appendf(nil, "k%02d", rng.IntN(40)) }
		model := map[string]string{}
		var base []storage.Mutation
		for range rng.IntN(30) {
			k := key()
			base = append(base, storage.Mutation{Key: k, Value: []byte("base")})
			model[string(k)] = "base"
		}
		snap, _ := kv.Begin(ctx)
		if _, err := kv.Commit(ctx, snap, base, nil); err != nil {
			t.Fatal(err)
		}
		snap, _ = kv.Begin(ctx)
		// Delete-heavy buffers make merged scans take several rounds.
		deletes := rng.Float64()
		var reads []storage.KeyRange
		v := &txnView{kv: kv, buf: &writeBuffer{}, mem: mem, reads: &reads}
		for i := range 4 {
			var muts []storage.Mutation
			for range rng.IntN(15) {
				k := key()
				if rng.Float64() < deletes {
					muts = append(muts, storage.Mutation{Key: k, Delete: true})
					delete(model, string(k))
				} else {
					val := fmt.Sprintf("buf%d", i)
					muts = append(muts, storage.Mutation{Key: k, Value: []byte(val)})
					model[string(k)] = val
				}
			}
			v.buf.add(muts)
			start, end := key(), key()
			if rng.IntN(4) == 0 {
				end = nil
			}
			limit := rng.IntN(6)
			var want []string
			for k, val := range model {
				if k >= string(start) && (end == nil || k < string(end)) {
					want = append(want, k+"="+val)
				}
			}
			slices.Sort(want)
			// Scan the way scanOp does: batches of limit rows, resuming
			// after the last key.
			var got []string
			from := start
			for {
				n := 0
				var last []byte
				err := v.Scan(ctx, snap, from, end, limit, func(b arrow.RecordBatch) error {
					ks := b.Column(0).(*array.Binary)
					vs := b.Column(1).(*array.Binary)
					for r := range ks.Len() {
						got = append(got, string(ks.Value(r))+"="+string(vs.Value(r)))
						last = append(last[:0], ks.Value(r)...)
					}
					n += ks.Len()
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if limit == 0 || n < limit {
					break
				}
				from = append(last, 0)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d round %d: scan [%s, %s) limit %d\n got %v\nwant %v", seed, i, start, end, limit, got, want)
			}
		}
		if len(reads) == 0 {
			t.Fatal("no read ranges recorded")
		}
	}
}

func TestCoalesce(t *testing.T) {
	r := func(s, e string) storage.KeyRange {
		out := storage.KeyRange{Start: []byte(s)}
		if e != "" {
			out.End = []byte(e)
		}
		return out
	}
	got := coalesce([]storage.KeyRange{r("m", "p"), r("a", "c"), r("c", "d"), r("b", "c"), r("x", ""), r("y", "z"), r("o", "q")})
	want := "[{a d} {m q} {x }]"
	s := "["
	for i, g := range got {
		if i > 0 {
			s += " "
		}
		s += "{" + string(g.Start) + " " + string(g.End) + "}"
	}
	if s+"]" != want {
		t.Fatalf("got %s]", s)
	}
}
