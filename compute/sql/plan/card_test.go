package plan

import (
	"math"
	"testing"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/types"
)

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %g, want %g", what, got, want)
	}
}

func TestEstimator(t *testing.T) {
	orders := &catalog.Table{ID: 1, Name: "orders", Columns: []catalog.Column{
		{Name: "id", Type: types.Int8}, {Name: "cust", Type: types.Int8}, {Name: "day", Type: types.Int4},
	}}
	cust := &catalog.Table{ID: 2, Name: "cust", Columns: []catalog.Column{
		{Name: "id", Type: types.Int8}, {Name: "nation", Type: types.Int4},
	}}
	hist := make([]any, 101)
	for i := range hist {
		hist[i] = float64(i * 10) // day uniform over 0..1000
	}
	stats := map[uint64]*catalog.TableStats{
		1: {RowCount: 100000, Columns: []catalog.ColumnStats{{NDistinct: 100000}, {NDistinct: 5000, NullFrac: 0.5}, {NDistinct: 1000, Histogram: hist}}},
		2: {RowCount: 10000, Columns: []catalog.ColumnStats{{NDistinct: 10000}, {NDistinct: 25}}},
	}
	e := NewEstimator(func(id uint64) *catalog.TableStats { return stats[id] })
	o, c := &Scan{Table: orders}, &Scan{Table: cust}
	col := func(i int, name string, t types.T) *ColRef { return &ColRef{Idx: i, Name: name, T: t} }
	k := func(v any, t types.T) *Const { return &Const{Value: v, T: t} }

	near(t, "scan", e.Rows(o), 100000)
	// col = const: (1 - null_frac) / n_distinct.
	near(t, "eq", e.Selectivity(&Cmp{Op: EQ, L: col(1, "cust", types.Int8), R: k(int64(3), types.Int8)}, o), 0.5/5000)
	// A range from the histogram; both bounds of one column together.
	near(t, "range", e.Selectivity(&Cmp{Op: LT, L: col(2, "day", types.Int4), R: k(int32(250), types.Int4)}, o), 25.0/101)
	between := &And{L: &Cmp{Op: GE, L: col(2, "day", types.Int4), R: k(int32(100), types.Int4)},
		R: &Cmp{Op: LT, L: col(2, "day", types.Int4), R: k(int32(300), types.Int4)}}
	near(t, "between", e.Selectivity(between, o), 20.0/101)
	// OR adds, IS NULL is the null fraction, LIKE a fixed guess.
	eq := func(v int64) Expr { return &Cmp{Op: EQ, L: col(0, "id", types.Int8), R: k(v, types.Int8)} }
	near(t, "in", e.Selectivity(&Or{L: eq(1), R: eq(2)}, o), 2e-5-1e-10)
	near(t, "is null", e.Selectivity(&IsNull{X: col(1, "cust", types.Int8)}, o), 0.5)
	near(t, "like", e.Selectivity(&Func{Name: "like", Args: []Expr{col(0, "id", types.Text), k("a%", types.Text)}}, o), LikeSel)

	// orders ⋈ cust on cust = id: 1 / max(5000, 10000) per pair.
	j := &Join{Kind: InnerJoin, Left: o, Right: c, LeftKeys: []Expr{col(1, "cust", types.Int8)}, RightKeys: []Expr{col(0, "id", types.Int8)}}
	j.Cols = JoinColumns(InnerJoin, o.Columns(), c.Columns())
	near(t, "join", e.Rows(j), 100000*10000/10000.0)
	// With cust filtered to one nation (400 rows), the key's distinct count
	// is capped by the filtered rows: 1 / max(5000, 400).
	fc := &Filter{Input: c, Pred: &Cmp{Op: EQ, L: col(1, "nation", types.Int4), R: k(int32(7), types.Int4)}}
	near(t, "filtered dim", e.Rows(fc), 400)
	jf := &Join{Kind: InnerJoin, Left: o, Right: fc, LeftKeys: j.LeftKeys, RightKeys: j.RightKeys, Cols: j.Cols}
	near(t, "join filtered", e.Rows(jf), 100000*400/5000.0)
	// GROUP BY nation over the join: 25 groups (plus none for NULLs).
	agg := &Aggregate{Input: j, GroupBy: []Expr{col(4, "nation", types.Int4)}}
	near(t, "groups", e.Rows(agg), 25)
	// Without statistics: 1000 rows, fixed selectivities.
	bare := NewEstimator(nil)
	near(t, "no stats", bare.Rows(&Filter{Input: o, Pred: eq(1)}), DefaultTableRows*DefaultEqSel)
}
