package exec

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// TestStringAndArrayAggAgainstReference runs string_agg (ordered by the
// value, descending) and array_agg (ordered by v, NULLs first) per key over
// random rows in small batches and compares with a reference.
func TestStringAndArrayAggAgainstReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	kRef := &plan.ColRef{Idx: 0, Name: "k", T: types.Int8}
	sRef := &plan.ColRef{Idx: 1, Name: "s", T: types.Text}
	vRef := &plan.ColRef{Idx: 2, Name: "v", T: types.Int8}
	aggs := []plan.Agg{
		{Func: plan.StringAgg, Arg: sRef, Sep: ",", T: types.Text, OrderBy: []plan.AggOrder{{Expr: sRef, Desc: true}}},
		{Func: plan.ArrayAgg, Arg: vRef, T: types.ArrayOf(types.Int8), OrderBy: []plan.AggOrder{{Expr: vRef, NullsFirst: true}}},
		{Func: plan.ArrayAgg, Arg: vRef, Distinct: true, T: types.ArrayOf(types.Int8), OrderBy: []plan.AggOrder{{Expr: vRef}}},
	}
	cols := []plan.Column{{Name: "k", T: types.Int8}}
	for _, a := range aggs {
		cols = append(cols, plan.Column{Name: a.Func.String(), T: a.T})
	}
	rows := randomAggRows(3000, 40, 7)
	op, err := newHashAgg(&Env{Mem: mem, BatchRows: 100}, aggSource(mem, rows, 97), &plan.Aggregate{GroupBy: []plan.Expr{kRef}, Aggs: aggs, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = Drain(context.Background(), op, func(b arrow.RecordBatch) error {
		for i := range int(b.NumRows()) {
			var parts []string
			for c := range 4 {
				parts = append(parts, types.FormatText(types.ValueAt(cols[c].T, b.Column(c), i)))
			}
			got = append(got, strings.Join(parts, " | "))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Reference.
	type group struct {
		ss []string
		vs []any
	}
	groups := map[string]*group{}
	for _, r := range rows {
		key := "NULL"
		if r.k != nil {
			key = types.FormatText(*r.k)
		}
		g := groups[key]
		if g == nil {
			g = &group{}
			groups[key] = g
		}
		if r.s != nil {
			g.ss = append(g.ss, *r.s)
		}
		g.vs = append(g.vs, deref(r.v))
	}
	var want []string
	for key, g := range groups {
		sort.Sort(sort.Reverse(sort.StringSlice(g.ss)))
		str := "NULL"
		if len(g.ss) > 0 {
			str = strings.Join(g.ss, ",")
		}
		sort.SliceStable(g.vs, func(i, j int) bool {
			a, b := g.vs[i], g.vs[j]
			if a == nil || b == nil {
				return a == nil && b != nil
			}
			return a.(int64) < b.(int64)
		})
		var distinct []any
		for _, v := range g.vs {
			if v != nil && !slices.Contains(distinct, v) {
				distinct = append(distinct, v)
			}
		}
		arr := types.ArrayValue{Elem: types.Int8, Elems: g.vs}.String()
		dis := "NULL"
		if len(distinct) > 0 {
			dis = types.ArrayValue{Elem: types.Int8, Elems: distinct}.String()
		}
		want = append(want, key+" | "+str+" | "+arr+" | "+dis)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got %d groups, want %d; first got %q, first want %q", len(got), len(want), got[0], want[0])
	}
}
