package plan

import (
	"reflect"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Cardinality estimation. The binder (index selection, join ordering), the
// executor (hash join build side) and EXPLAIN all ask one Estimator, so a
// plan is costed the same way everywhere. Estimates come from the
// statistics ANALYZE stores (row count; per column NULL fraction, distinct
// count and an equi-depth histogram) and fall back to fixed guesses, as
// PostgreSQL's do, for what they do not describe. An estimate chooses a
// plan, never a result.

// DefaultTableRows is a table's estimated size without statistics.
const DefaultTableRows = 1000

// Fixed selectivities for predicates the statistics do not describe.
const (
	// DefaultEqSel is column = constant without a distinct count.
	DefaultEqSel = 0.005
	// DefaultRangeSel is a range comparison without a histogram, and any
	// predicate the estimator does not understand.
	DefaultRangeSel = 1.0 / 3
	// LikeSel is LIKE / ILIKE (a fixed guess: patterns are not analyzed).
	LikeSel = 0.05
	// DefaultNullSel is IS NULL without a NULL fraction.
	DefaultNullSel = 0.005
)

// Estimator estimates the rows plan nodes produce. Stats answers a
// table's statistics (nil when it was never analyzed); statistics whose
// column count does not match the descriptor (collected before an ALTER)
// contribute their row count only. An Estimator memoizes per node and per
// table, so it belongs to one statement.
type Estimator struct {
	Stats func(table uint64) *catalog.TableStats

	tables map[uint64]*catalog.TableStats
	rows   map[Node]float64
}

// NewEstimator returns an Estimator reading statistics through stats (nil:
// no statistics at all).
func NewEstimator(stats func(table uint64) *catalog.TableStats) *Estimator {
	return &Estimator{Stats: stats}
}

// TableStats returns t's statistics, nil when there are none.
func (e *Estimator) TableStats(t *catalog.Table) *catalog.TableStats {
	if st, ok := e.tables[t.ID]; ok {
		return st
	}
	var st *catalog.TableStats
	if e.Stats != nil {
		st = e.Stats(t.ID)
	}
	if e.tables == nil {
		e.tables = map[uint64]*catalog.TableStats{}
	}
	e.tables[t.ID] = st
	return st
}

// TableRows returns t's estimated row count.
func (e *Estimator) TableRows(t *catalog.Table) float64 {
	if st := e.TableStats(t); st != nil {
		return max(1, float64(st.RowCount))
	}
	return DefaultTableRows
}

// ColEst is what the estimator knows about one output column of a node.
type ColEst struct {
	// NDistinct is the number of distinct non-NULL values; 0 unknown.
	NDistinct float64
	// NullFrac is the share of NULL values.
	NullFrac float64
	// Histogram holds equi-depth bucket bounds (catalog.ColumnStats).
	Histogram []any
}

// Rows returns the estimated number of rows n produces (at least 1).
func (e *Estimator) Rows(n Node) float64 {
	if r, ok := e.rows[n]; ok {
		return r
	}
	r := max(1, e.rowsOf(n))
	if e.rows == nil {
		e.rows = map[Node]float64{}
	}
	e.rows[n] = r
	return r
}

func (e *Estimator) rowsOf(n Node) float64 {
	switch x := n.(type) {
	case *Scan:
		return e.TableRows(x.Table)
	case *IndexScan:
		if x.Est >= 0 {
			return x.Est
		}
		return e.TableRows(x.Table)
	case *Values:
		return float64(len(x.Rows))
	case *Filter:
		// The index scan under a filter applies part of the same
		// predicate: estimate the filter over the whole table instead.
		in := e.Rows(x.Input)
		if is, ok := x.Input.(*IndexScan); ok {
			in = e.TableRows(is.Table)
		}
		return in * e.Selectivity(x.Pred, x.Input)
	case *Project:
		return e.Rows(x.Input)
	case *Sort:
		return e.Rows(x.Input)
	case *Window:
		return e.Rows(x.Input)
	case *Limit:
		in := e.Rows(x.Input)
		if x.Count >= 0 && float64(x.Count) < in {
			return float64(x.Count)
		}
		return in
	case *Aggregate:
		if len(x.GroupBy) == 0 {
			return 1
		}
		return e.groups(x.Input, x.GroupBy)
	case *DistinctOn:
		var keys []Expr
		for _, k := range x.Keys {
			keys = append(keys, &ColRef{Idx: k})
		}
		return e.groups(x.Input, keys)
	case *MaxOneRow:
		return 1
	case *Join:
		return e.joinRows(x)
	case *SetOp:
		l, r := e.Rows(x.Left), e.Rows(x.Right)
		switch x.Kind {
		case Intersect:
			return min(l, r)
		case Except:
			return l
		}
		return l + r
	case *DMLJoin:
		return e.Rows(x.Left)
	}
	return DefaultTableRows
}

// groups estimates the distinct combinations of keys over in: the product
// of the keys' distinct counts, at most the input rows (a tenth of them
// when a key's distinct count is unknown).
func (e *Estimator) groups(in Node, keys []Expr) float64 {
	rows := e.Rows(in)
	g := 1.0
	for _, k := range keys {
		c, ok := e.exprCol(in, k)
		if !ok || c.NDistinct <= 0 {
			return max(1, rows/10)
		}
		nd := c.NDistinct
		if c.NullFrac > 0 {
			nd++ // NULLs form a group
		}
		g *= nd
		if g >= rows {
			return rows
		}
	}
	return g
}

// joinRows: inner = l * r * selectivity of the keys and the condition;
// outer joins keep at least their preserved side; a semi join keeps the
// left rows whose key value the right side has, an anti join the others.
func (e *Estimator) joinRows(j *Join) float64 {
	l, r := e.Rows(j.Left), e.Rows(j.Right)
	switch j.Kind {
	case SemiJoin, AntiJoin:
		frac := 0.5
		if len(j.LeftKeys) > 0 {
			lc, okl := e.keysCol(j.Left, j.LeftKeys)
			rc, okr := e.keysCol(j.Right, j.RightKeys)
			if okl && okr {
				frac = min(1, rc/lc)
			}
		}
		if j.Kind == AntiJoin {
			frac = max(0.1, 1-frac)
		}
		return l * frac
	case MarkJoin:
		return l
	}
	sel := e.KeySelectivity(j.Left, j.Right, j.LeftKeys, j.RightKeys)
	if j.Cond != nil {
		sel *= e.Selectivity(j.Cond, &Join{Kind: InnerJoin, Left: j.Left, Right: j.Right, Cols: JoinColumns(InnerJoin, j.Left.Columns(), j.Right.Columns())})
	}
	rows := l * r * sel
	switch j.Kind {
	case LeftJoin:
		rows = max(rows, l)
	case RightJoin:
		rows = max(rows, r)
	case FullJoin:
		rows = max(rows, l, r)
	}
	return rows
}

// keysCol returns the distinct combinations of keys over n (capped by its
// rows); false when a key's distinct count is unknown.
func (e *Estimator) keysCol(n Node, keys []Expr) (float64, bool) {
	rows := e.Rows(n)
	nd := 1.0
	for _, k := range keys {
		c, ok := e.exprCol(n, k)
		if !ok || c.NDistinct <= 0 {
			return 0, false
		}
		nd *= c.NDistinct
	}
	return max(1, min(nd, rows)), true
}

// KeySelectivity is the share of the l × r pairs whose keys are equal:
// 1 / max(ndv(left keys), ndv(right keys)), each side's distinct count the
// product over its keys capped by the side's rows (a multi-column key is
// at most as selective as a unique one). A side whose distinct count is
// unknown counts as unique (its rows). No keys: 1.
func (e *Estimator) KeySelectivity(l, r Node, lkeys, rkeys []Expr) float64 {
	if len(lkeys) == 0 {
		return 1
	}
	ln, okl := e.keysCol(l, lkeys)
	if !okl {
		ln = e.Rows(l)
	}
	rn, okr := e.keysCol(r, rkeys)
	if !okr {
		rn = e.Rows(r)
	}
	return 1 / max(1, ln, rn)
}

// exprCol describes the column an expression reads when it is a column
// reference (through casts).
func (e *Estimator) exprCol(n Node, x Expr) (ColEst, bool) {
	for {
		c, ok := x.(*Cast)
		if !ok {
			break
		}
		x = c.X
	}
	c, ok := x.(*ColRef)
	if !ok {
		return ColEst{}, false
	}
	return e.Col(n, c.Idx), true
}

// Col describes output column i of n; NDistinct is capped by n's rows.
func (e *Estimator) Col(n Node, i int) ColEst {
	c := e.colOf(n, i)
	if c.NDistinct > 0 {
		c.NDistinct = max(1, min(c.NDistinct, e.Rows(n)))
	}
	return c
}

func (e *Estimator) colOf(n Node, i int) ColEst {
	table := func(t *catalog.Table) ColEst {
		st := e.TableStats(t)
		if st == nil || len(st.Columns) != len(t.Columns) || i >= len(st.Columns) {
			return ColEst{}
		}
		cs := st.Columns[i]
		return ColEst{NDistinct: float64(cs.NDistinct), NullFrac: cs.NullFrac, Histogram: cs.Histogram}
	}
	switch x := n.(type) {
	case *Scan:
		return table(x.Table)
	case *IndexScan:
		return table(x.Table)
	case *Filter:
		return e.Col(x.Input, i)
	case *Sort:
		return e.Col(x.Input, i)
	case *Limit:
		return e.Col(x.Input, i)
	case *MaxOneRow:
		return e.Col(x.Input, i)
	case *DistinctOn:
		return e.Col(x.Input, i)
	case *Window:
		if i < len(x.Input.Columns()) {
			return e.Col(x.Input, i)
		}
	case *Project:
		if i < len(x.Exprs) {
			if c, ok := e.exprCol(x.Input, x.Exprs[i]); ok {
				return c
			}
		}
	case *Aggregate:
		if i < len(x.GroupBy) {
			if c, ok := e.exprCol(x.Input, x.GroupBy[i]); ok {
				return c
			}
		}
	case *Join:
		nl := len(x.Left.Columns())
		if i < nl {
			return e.Col(x.Left, i)
		}
		if x.Kind != SemiJoin && x.Kind != AntiJoin && x.Kind != MarkJoin {
			return e.Col(x.Right, i-nl)
		}
	}
	return ColEst{}
}

// Selectivity estimates the share of in's rows for which pred is true.
func (e *Estimator) Selectivity(pred Expr, in Node) float64 {
	return clamp01(e.sel(pred, in))
}

func clamp01(s float64) float64 {
	return min(1, max(0, s))
}

func (e *Estimator) sel(pred Expr, in Node) float64 {
	switch x := pred.(type) {
	case *And:
		return e.andSel(x, in)
	case *Or:
		a, b := e.Selectivity(x.L, in), e.Selectivity(x.R, in)
		return a + b - a*b
	case *Not:
		return 1 - e.Selectivity(x.X, in)
	case *IsNull:
		s := DefaultNullSel
		if c, ok := e.exprCol(in, x.X); ok && (c.NDistinct > 0 || c.NullFrac > 0) {
			s = c.NullFrac
		}
		if x.Negate {
			return 1 - s
		}
		return s
	case *Const:
		if v, ok := x.Value.(bool); ok && v {
			return 1
		}
		return 0
	case *ColRef:
		return 0.5
	case *Func:
		switch x.Name {
		case "like", "ilike":
			return LikeSel
		case "notlike", "notilike":
			return 1 - LikeSel
		}
	case *Cmp:
		return e.cmpSel(x, in)
	}
	return DefaultRangeSel
}

// andSel multiplies the conjuncts' selectivities, except that the bounds
// on one column (a > x AND a < y, BETWEEN) are estimated together as one
// histogram range.
func (e *Estimator) andSel(a *And, in Node) float64 {
	type rng struct{ lo, hi Expr }
	ranges := map[int]*rng{}
	var order []int
	s := 1.0
	for _, c := range splitAnd(a, nil) {
		col, op, k, ok := colConst(c)
		if ok && op != EQ && op != NE {
			r := ranges[col.Idx]
			if r == nil {
				r = &rng{}
				ranges[col.Idx] = r
				order = append(order, col.Idx)
			}
			switch op {
			case GT, GE:
				r.lo = k
			default:
				r.hi = k
			}
			continue
		}
		s *= e.Selectivity(c, in)
	}
	for _, idx := range order {
		r := ranges[idx]
		s *= e.rangeSel(e.Col(in, idx), in.Columns()[idx].T, r.lo, r.hi)
	}
	return s
}

func splitAnd(e Expr, out []Expr) []Expr {
	if a, ok := e.(*And); ok {
		return splitAnd(a.R, splitAnd(a.L, out))
	}
	return append(out, e)
}

var flipCmp = [...]CmpOp{EQ: EQ, NE: NE, LT: GT, LE: GE, GT: LT, GE: LE}

// colConst matches column op constant (either way round, the column
// possibly cast) and returns it as column op constant.
func colConst(e Expr) (*ColRef, CmpOp, *Const, bool) {
	c, ok := e.(*Cmp)
	if !ok {
		return nil, 0, nil, false
	}
	col, k := stripCast(c.L), c.R
	op := c.Op
	cr, okc := col.(*ColRef)
	kc, okk := k.(*Const)
	if !okc || !okk {
		cr, okc = stripCast(c.R).(*ColRef)
		kc, okk = c.L.(*Const)
		op = flipCmp[op]
	}
	if !okc || !okk || kc.Value == nil {
		return nil, 0, nil, false
	}
	return cr, op, kc, true
}

func stripCast(e Expr) Expr {
	for {
		c, ok := e.(*Cast)
		if !ok {
			return e
		}
		e = c.X
	}
}

func (e *Estimator) cmpSel(c *Cmp, in Node) float64 {
	if col, op, k, ok := colConst(c); ok {
		ce := e.Col(in, col.Idx)
		switch op {
		case EQ:
			return eqSel(ce)
		case NE:
			return (1 - ce.NullFrac) - eqSel(ce)
		case GT, GE:
			return e.rangeSel(ce, in.Columns()[col.Idx].T, k, nil)
		default:
			return e.rangeSel(ce, in.Columns()[col.Idx].T, nil, k)
		}
	}
	if c.Op == EQ {
		lc, okl := e.exprCol(in, c.L)
		rc, okr := e.exprCol(in, c.R)
		if okl && okr {
			nd := max(lc.NDistinct, rc.NDistinct)
			if nd <= 0 {
				return DefaultEqSel
			}
			return 1 / nd
		}
		return DefaultEqSel
	}
	if c.Op == NE {
		return 1 - DefaultEqSel
	}
	return DefaultRangeSel
}

func eqSel(c ColEst) float64 {
	if c.NDistinct <= 0 {
		return DefaultEqSel
	}
	return (1 - c.NullFrac) / c.NDistinct
}

// rangeSel estimates lo <= column <= hi for a column of type t (the
// bounds constants, nil: unbounded).
func (e *Estimator) rangeSel(c ColEst, t types.T, lo, hi Expr) float64 {
	if len(c.Histogram) < 2 {
		return DefaultRangeSel
	}
	var ok bool
	if lo, ok = histConst(t, lo); !ok {
		return DefaultRangeSel
	}
	if hi, ok = histConst(t, hi); !ok {
		return DefaultRangeSel
	}
	return RangeFraction(catalog.ColumnStats{NullFrac: c.NullFrac, Histogram: c.Histogram}, lo, hi)
}

// usPerDay converts timestamps (microseconds) to dates (days) of the same
// epoch.
const usPerDay = 86400 * 1e6

// histConst converts a bound compared with a column of type t (possibly
// through a cast) to the units of the column's histogram: a number of any
// width compares with a numeric column, a timestamp with a date column as
// fractional days; false when the two are not comparable.
func histConst(t types.T, b Expr) (Expr, bool) {
	k, ok := b.(*Const)
	if !ok || k.T == t {
		return b, true // nil (unbounded) included
	}
	switch v := k.Value.(type) {
	case types.TimestampValue:
		if t == types.Date {
			return &Const{Value: float64(v) / usPerDay, T: types.Float8}, true
		}
	case types.TimestampTZValue:
		if t == types.Date {
			return &Const{Value: float64(v) / usPerDay, T: types.Float8}, true
		}
	}
	if t.IsNumeric() && t != types.Numeric && k.T.IsNumeric() && k.T != types.Numeric {
		return b, true
	}
	return nil, false
}

// RangeFraction estimates the share of a column's rows within [lo, hi]
// (constants; nil: unbounded) from its equi-depth histogram (1/3 without
// one, as PostgreSQL).
func RangeFraction(cs catalog.ColumnStats, lo, hi Expr) float64 {
	h := cs.Histogram
	if len(h) < 2 {
		return DefaultRangeSel
	}
	pos := func(e Expr, def float64) float64 {
		k, ok := e.(*Const)
		if !ok {
			return def
		}
		n := 0
		for _, hv := range h {
			if lessJSON(hv, k.Value) {
				n++
			}
		}
		return float64(n) / float64(len(h))
	}
	f := pos(hi, 1) - pos(lo, 0)
	if f < 1.0/float64(len(h)) {
		f = 1.0 / float64(len(h))
	}
	return f * (1 - cs.NullFrac)
}

// lessJSON compares a histogram bound (decoded from JSON: float64 or
// string) with a constant of the column type (numbers of any Go numeric
// kind, dates included, or text).
func lessJSON(h, v any) bool {
	switch x := h.(type) {
	case float64:
		rv := reflect.ValueOf(v)
		switch {
		case rv.CanInt():
			return x < float64(rv.Int())
		case rv.CanUint():
			return x < float64(rv.Uint())
		case rv.CanFloat():
			return x < rv.Float()
		}
	case string:
		if y, ok := v.(string); ok {
			return x < y
		}
	}
	return false
}
