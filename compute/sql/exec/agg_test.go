package exec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

var aggSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// aggRow is one input row; nil fields are NULL.
type aggRow struct {
	k *int64
	s *string
	v *int64
}

func randomAggRows(n, keys int, seed uint64) []aggRow {
	r := rand.New(rand.NewPCG(seed, 1))
	rows := make([]aggRow, n)
	for i := range rows {
		if r.IntN(20) > 0 {
			k := int64(r.IntN(keys))
			rows[i].k = &k
		}
		if r.IntN(20) > 0 {
			s := fmt.Sprintf("s%d", r.IntN(keys/10+1))
			rows[i].s = &s
		}
		if r.IntN(10) > 0 {
			v := int64(r.IntN(100)) - 50
			rows[i].v = &v
		}
	}
	return rows
}

// aggSource replays rows in batches of batch rows.
func aggSource(mem memory.Allocator, rows []aggRow, batch int) *sourceOp {
	src := &sourceOp{}
	for start := 0; start < len(rows); start += batch {
		end := min(start+batch, len(rows))
		kb, sb, vb := array.NewInt64Builder(mem), array.NewStringBuilder(mem), array.NewInt64Builder(mem)
		for _, r := range rows[start:end] {
			appendValue(kb, deref(r.k))
			appendValue(sb, deref(r.s))
			appendValue(vb, deref(r.v))
		}
		cols := []arrow.Array{kb.NewArray(), sb.NewArray(), vb.NewArray()}
		kb.Release()
		sb.Release()
		vb.Release()
		src.batches = append(src.batches, newBatch(aggSchema, cols, end-start))
	}
	return src
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// refGroup is the reference result of one group.
type refGroup struct {
	key          string
	rows, n, sum int64
	minV, maxV   int64
	distinct     map[int64]bool
	minS         *string
	haveV        bool
}

// reference aggregates rows the slow way, grouped by the keys keyOf names,
// and renders the result rows as the operator's are rendered.
func reference(rows []aggRow, keyOf func(aggRow) string) []string {
	groups := map[string]*refGroup{}
	for _, r := range rows {
		key := keyOf(r)
		g := groups[key]
		if g == nil {
			g = &refGroup{key: key, distinct: map[int64]bool{}}
			groups[key] = g
		}
		g.rows++
		if r.s != nil && (g.minS == nil || *r.s < *g.minS) {
			g.minS = r.s
		}
		if r.v == nil {
			continue
		}
		v := *r.v
		if !g.haveV || v < g.minV {
			g.minV = v
		}
		if !g.haveV || v > g.maxV {
			g.maxV = v
		}
		g.haveV = true
		g.n++
		g.sum += v
		g.distinct[v] = true
	}
	var out []string
	for _, g := range groups {
		row := []any{g.rows, g.n, nil, nil, nil, nil, int64(len(g.distinct)), deref(g.minS)}
		if g.haveV {
			row[2], row[3], row[4], row[5] = g.sum, g.minV, g.maxV, float64(g.sum)/float64(g.n)
		}
		out = append(out, g.key+fmt.Sprint(row...))
	}
	slices.Sort(out)
	return out
}

func TestHashAggregateAgainstReference(t *testing.T) {
	kRef := &plan.ColRef{Idx: 0, Name: "k", T: types.Int8}
	sRef := &plan.ColRef{Idx: 1, Name: "s", T: types.Text}
	vRef := &plan.ColRef{Idx: 2, Name: "v", T: types.Int8}
	aggs := []plan.Agg{
		{Func: plan.CountStar, T: types.Int8},
		{Func: plan.Count, Arg: vRef, T: types.Int8},
		{Func: plan.Sum, Arg: vRef, T: types.Int8},
		{Func: plan.Min, Arg: vRef, T: types.Int8},
		{Func: plan.Max, Arg: vRef, T: types.Int8},
		{Func: plan.Avg, Arg: vRef, T: types.Float8},
		{Func: plan.Count, Arg: vRef, Distinct: true, T: types.Int8},
		{Func: plan.Min, Arg: sRef, T: types.Text},
	}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	num := func(p *int64) string {
		if p == nil {
			return "<nil>"
		}
		return fmt.Sprint(*p)
	}
	cases := []struct {
		name  string
		keys  []plan.Expr
		keyOf func(aggRow) string
	}{
		{"scalar", nil, func(aggRow) string { return "" }},
		{"int key", []plan.Expr{kRef}, func(r aggRow) string { return num(r.k) + " " }},
		{"text key", []plan.Expr{sRef}, func(r aggRow) string { return str(r.s) + " " }},
		{"two keys", []plan.Expr{kRef, sRef}, func(r aggRow) string { return num(r.k) + " " + str(r.s) + " " }},
		{"int expression key", []plan.Expr{&plan.Arith{Op: plan.Div, L: kRef, R: &plan.Const{Value: int64(7), T: types.Int8}, T: types.Int8}},
			func(r aggRow) string {
				if r.k == nil {
					return "<nil> "
				}
				return fmt.Sprint(*r.k/7) + " "
			}},
	}
	rows := randomAggRows(5000, 1500, 42)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer mem.AssertSize(t, 0)
			env := &Env{Mem: mem, BatchRows: 300}
			var cols []plan.Column
			for _, k := range tc.keys {
				cols = append(cols, plan.Column{Name: "key", T: k.Type()})
			}
			for _, a := range aggs {
				cols = append(cols, plan.Column{Name: a.Func.String(), T: a.T})
			}
			op, err := newHashAgg(env, aggSource(mem, rows, 1024), &plan.Aggregate{GroupBy: tc.keys, Aggs: aggs, Cols: cols})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			batches := 0
			err = Drain(context.Background(), op, func(b arrow.RecordBatch) error {
				batches++
				if b.NumRows() > 300 {
					t.Errorf("batch of %d rows, want at most 300", b.NumRows())
				}
				for i := range int(b.NumRows()) {
					var key strings.Builder
					var vals []any
					for c := range int(b.NumCols()) {
						v := valueAt(b.Column(c), i)
						if c < len(tc.keys) {
							key.WriteString(fmt.Sprint(v) + " ")
						} else {
							vals = append(vals, v)
						}
					}
					got = append(got, key.String()+fmt.Sprint(vals...))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			want := reference(rows, tc.keyOf)
			if len(tc.keys) > 0 && len(want) < 10 {
				t.Fatalf("only %d groups: the test needs many", len(want))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%d groups, want %d; first got %q, want %q", len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
			}
			if len(want) > 300 && batches < 2 {
				t.Errorf("%d output batches for %d groups", batches, len(want))
			}
		})
	}
}

func TestHashAggregateEmptyInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	vRef := &plan.ColRef{Idx: 2, Name: "v", T: types.Int8}
	aggs := []plan.Agg{{Func: plan.CountStar, T: types.Int8}, {Func: plan.Sum, Arg: vRef, T: types.Int8}}
	cols := []plan.Column{{Name: "count", T: types.Int8}, {Name: "sum", T: types.Int8}}
	// No GROUP BY: one row (0, NULL).
	op, err := newHashAgg(&Env{Mem: mem}, &sourceOp{}, &plan.Aggregate{Aggs: aggs, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	var got [][]any
	if err := Drain(context.Background(), op, func(b arrow.RecordBatch) error {
		got = append(got, []any{valueAt(b.Column(0), 0), valueAt(b.Column(1), 0)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0][0] != int64(0) || got[0][1] != nil {
		t.Fatalf("got %v, want [[0 <nil>]]", got)
	}
	// With GROUP BY: no rows.
	keyCols := append([]plan.Column{{Name: "v", T: types.Int8}}, cols...)
	op, err = newHashAgg(&Env{Mem: mem}, &sourceOp{}, &plan.Aggregate{GroupBy: []plan.Expr{vRef}, Aggs: aggs, Cols: keyCols})
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	if err := Drain(context.Background(), op, func(b arrow.RecordBatch) error {
		rows += int(b.NumRows())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Fatalf("%d rows from an empty grouped input", rows)
	}
}

func TestHashAggregateGroupLimit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	kRef := &plan.ColRef{Idx: 0, Name: "k", T: types.Int8}
	rows := randomAggRows(3000, 1000, 7)
	op, err := newHashAgg(&Env{Mem: mem, MaxGroups: 100}, aggSource(mem, rows, 1024), &plan.Aggregate{
		GroupBy: []plan.Expr{kRef}, Cols: []plan.Column{{Name: "k", T: types.Int8}},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = Drain(context.Background(), op, func(arrow.RecordBatch) error { return nil })
	if sqlerr.Code(err) != CodeOutOfMemory {
		t.Fatalf("got %v, want SQLSTATE %s", err, CodeOutOfMemory)
	}
}

func TestSumOverflow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	big, one := int64(1<<63-1), int64(1)
	rows := []aggRow{{v: &big}, {v: &one}}
	vRef := &plan.ColRef{Idx: 2, Name: "v", T: types.Int8}
	op, err := newHashAgg(&Env{Mem: mem}, aggSource(mem, rows, 1), &plan.Aggregate{
		Aggs: []plan.Agg{{Func: plan.Sum, Arg: vRef, T: types.Int8}}, Cols: []plan.Column{{Name: "sum", T: types.Int8}},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = Drain(context.Background(), op, func(arrow.RecordBatch) error { return nil })
	if sqlerr.Code(err) != sqlerr.CodeNumericValueOutOfRange {
		t.Fatalf("got %v, want 22003", err)
	}
}

// BenchmarkHashAggregate groups 100k rows into 1000 groups by an int key
// and by a text key, with count, sum and min.
func BenchmarkHashAggregate(b *testing.B) {
	kRef := &plan.ColRef{Idx: 0, Name: "k", T: types.Int8}
	sRef := &plan.ColRef{Idx: 1, Name: "s", T: types.Text}
	vRef := &plan.ColRef{Idx: 2, Name: "v", T: types.Int8}
	aggs := []plan.Agg{
		{Func: plan.CountStar, T: types.Int8},
		{Func: plan.Sum, Arg: vRef, T: types.Int8},
		{Func: plan.Min, Arg: vRef, T: types.Int8},
	}
	rows := randomAggRows(100_000, 10_000, 1)
	for _, key := range []plan.Expr{kRef, sRef} {
		b.Run(key.String(), func(b *testing.B) {
			cols := []plan.Column{{Name: "key", T: key.Type()}}
			for _, a := range aggs {
				cols = append(cols, plan.Column{Name: a.Func.String(), T: a.T})
			}
			for b.Loop() {
				b.StopTimer()
				src := aggSource(memory.DefaultAllocator, rows, 1024)
				b.StartTimer()
				op, err := newHashAgg(&Env{}, src, &plan.Aggregate{GroupBy: []plan.Expr{key}, Aggs: aggs, Cols: cols})
				if err != nil {
					b.Fatal(err)
				}
				if err := Drain(context.Background(), op, func(arrow.RecordBatch) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(rows)), "rows/op")
		})
	}
}
