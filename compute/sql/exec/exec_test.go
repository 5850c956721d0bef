package exec

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// sourceOp replays prepared batches.
type sourceOp struct{ batches []arrow.RecordBatch }

func (s *sourceOp) Next(context.Context) (arrow.RecordBatch, error) {
	if len(s.batches) == 0 {
		return nil, nil
	}
	b := s.batches[0]
	s.batches = s.batches[1:]
	return b, nil
}

func (s *sourceOp) Close() {
	for _, b := range s.batches {
		b.Release()
	}
	s.batches = nil
}

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// rowsIn builds batches of at most 1024 rows of (id, v); v is NULL where
// vals[i] is nil.
func rowsIn(mem memory.Allocator, vals []*int64) *sourceOp {
	src := &sourceOp{}
	for start := 0; start < len(vals); start += 1024 {
		end := min(start+1024, len(vals))
		ib := array.NewInt64Builder(mem)
		vb := array.NewInt64Builder(mem)
		for i := start; i < end; i++ {
			ib.Append(int64(i))
			if vals[i] == nil {
				vb.AppendNull()
			} else {
				vb.Append(*vals[i])
			}
		}
		cols := []arrow.Array{ib.NewArray(), vb.NewArray()}
		ib.Release()
		vb.Release()
		src.batches = append(src.batches, newBatch(testSchema, cols, end-start))
	}
	return src
}

func randomVals(n int, seed uint64) []*int64 {
	r := rand.New(rand.NewPCG(seed, seed))
	out := make([]*int64, n)
	for i := range out {
		if r.IntN(10) > 0 {
			v := int64(r.IntN(50))
			out[i] = &v
		}
	}
	return out
}

func collect(t *testing.T, op Operator) (ids, vals []*int64) {
	t.Helper()
	err := Drain(context.Background(), op, func(b arrow.RecordBatch) error {
		if b.NumRows() == 0 {
			t.Fatal("operators must not emit empty batches")
		}
		ic := b.Column(0).(*array.Int64)
		vc := b.Column(1).(*array.Int64)
		for i := range int(b.NumRows()) {
			id := ic.Value(i)
			ids = append(ids, &id)
			if vc.IsNull(i) {
				vals = append(vals, nil)
			} else {
				v := vc.Value(i)
				vals = append(vals, &v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, vals
}

func TestFilterAcrossBatches(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	vals := randomVals(5000, 1)
	env := &Env{Mem: mem}
	// v < 10 OR v IS NULL
	pred := &plan.Or{
		L: &plan.Cmp{Op: plan.LT, L: &plan.ColRef{Idx: 1, T: types.Int8}, R: &plan.Const{Value: int64(10), T: types.Int8}},
		R: &plan.IsNull{X: &plan.ColRef{Idx: 1, T: types.Int8}},
	}
	ev, err := Compile(mem, pred)
	if err != nil {
		t.Fatal(err)
	}
	op := &filterOp{env: env, in: rowsIn(mem, vals), pred: ev}
	ids, _ := collect(t, op)
	var want []int64
	for i, v := range vals {
		if v == nil || *v < 10 {
			want = append(want, int64(i))
		}
	}
	if len(ids) != len(want) {
		t.Fatalf("got %d rows, want %d", len(ids), len(want))
	}
	for i := range want {
		if *ids[i] != want[i] {
			t.Fatalf("row %d: id %d, want %d", i, *ids[i], want[i])
		}
	}
}

func TestSortAcrossBatches(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	vals := randomVals(5000, 2)
	for _, key := range []plan.SortKey{{Col: 1}, {Col: 1, Desc: true, NullsFirst: true}, {Col: 1, NullsFirst: true}, {Col: 1, Desc: true}} {
		op := &sortOp{env: &Env{Mem: mem}, in: rowsIn(mem, vals), keys: []plan.SortKey{key}, schema: testSchema}
		ids, got := collect(t, op)
		// Reference: a stable sort of row ids under the same key.
		ref := make([]int, len(vals))
		for i := range ref {
			ref[i] = i
		}
		slices.SortStableFunc(ref, func(a, b int) int {
			va, vb := vals[a], vals[b]
			switch {
			case va == nil && vb == nil:
				return 0
			case va == nil:
				if key.NullsFirst {
					return -1
				}
				return 1
			case vb == nil:
				if key.NullsFirst {
					return 1
				}
				return -1
			}
			c := compareOrdered(*va, *vb)
			if key.Desc {
				c = -c
			}
			return c
		})
		if len(ids) != len(ref) {
			t.Fatalf("%+v: got %d rows", key, len(ids))
		}
		for i := range ref {
			if *ids[i] != int64(ref[i]) {
				t.Fatalf("%+v: row %d is id %d (v=%v), want id %d", key, i, *ids[i], got[i], ref[i])
			}
		}
	}
}

func TestLimitStopsEarly(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src := rowsIn(mem, randomVals(5000, 3))
	op := &limitOp{in: src, skip: 1000, left: 30}
	ids, _ := collect(t, op)
	if len(ids) != 30 || *ids[0] != 1000 || *ids[29] != 1029 {
		t.Fatalf("got %d rows from %v", len(ids), *ids[0])
	}
}

func TestKernels(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := array.NewInt32Builder(mem)
	b.AppendValues([]int32{1, 2147483647, 0, -5}, []bool{true, false, true, true})
	a := b.NewArray()
	b.Release()
	defer a.Release()
	one := constArray(mem, types.Int4, int32(1), 4)
	defer one.Release()

	// Overflow under a NULL slot is not an error.
	sum, err := arith(mem, plan.Add, types.Int4, a, one)
	if err != nil {
		t.Fatal(err)
	}
	if sum.String() != "[2 (null) 1 -4]" {
		t.Fatalf("sum %s", sum)
	}
	sum.Release()

	// Division by the zero in row 2 is.
	if _, err := arith(mem, plan.Div, types.Int4, one, a); sqlerr.Code(err) != "22012" {
		t.Fatalf("want 22012, got %v", err)
	}
	lt := compare(mem, plan.LT, a, one)
	if lt.String() != "[false (null) true true]" {
		t.Fatalf("lt %s", lt)
	}
	n := not(mem, lt)
	if n.String() != "[true (null) false false]" {
		t.Fatalf("not %s", n)
	}
	and := logic(mem, true, lt, n)
	or := logic(mem, false, lt, n)
	if and.String() != "[false (null) false false]" || or.String() != "[true (null) true true]" {
		t.Fatalf("and %s or %s", and, or)
	}
	for _, x := range []arrow.Array{lt, n, and, or} {
		x.Release()
	}
}
