package bind

import (
	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/exec"
	"github.com/phantom-db/phantom/compute/sql/plan"
)

// optimize replaces Filter(Scan) subtrees of a query by index scans where
// an index (or the primary key) matches the predicate; nodes it does not
// know are left as they are.
func (b *Binder) optimize(n plan.Node) plan.Node {
	switch x := n.(type) {
	case *plan.Filter:
		if _, ok := x.Input.(*plan.Scan); ok {
			return b.accessPath(x)
		}
		c := *x
		c.Input = b.optimize(x.Input)
		return &c
	case *plan.Project:
		c := *x
		c.Input = b.optimize(x.Input)
		if in, ok := c.Input.(*plan.Project); ok && onlyColRefs(in.Exprs) {
			// Fold the column reordering a join reordering added.
			c.Input = in.Input
			c.Exprs = make([]plan.Expr, len(x.Exprs))
			for i, e := range x.Exprs {
				c.Exprs[i] = remapCols(e, colRefIdxs(in.Exprs))
			}
		}
		return &c
	case *plan.Sort:
		c := *x
		c.Input = b.optimize(x.Input)
		return &c
	case *plan.Limit:
		c := *x
		c.Input = b.optimize(x.Input)
		return &c
	case *plan.Aggregate:
		c := *x
		c.Input = b.optimize(x.Input)
		return &c
	case *plan.Join:
		if pushed, ok := pushSemiJoin(x); ok {
			return b.optimize(pushed)
		}
		if x.Kind == plan.InnerJoin && !x.Single && x.Mark == nil {
			return b.reorderJoins(x)
		}
		c := *x
		c.Left, c.Right = b.optimize(x.Left), b.optimize(x.Right)
		return &c
	case *plan.MaxOneRow:
		c := *x
		c.Input = b.optimize(x.Input)
		return &c
	case *plan.SetOp:
		c := *x
		c.Left, c.Right = b.optimize(x.Left), b.optimize(x.Right)
		return &c
	case *plan.DistinctOn:
		c := *x
		c.Input = b.optimize(x.Input)
		return &c
	case *plan.Window:
		c := *x
		c.Input = b.optimize(x.Input)
		return &c
	}
	return n
}

// colBounds is what the conjuncts of a predicate say about one column.
type colBounds struct {
	eq             plan.Expr
	lo, hi         plan.Expr
	loIncl, hiIncl bool
}

// conjuncts splits a predicate on AND.
func conjuncts(e plan.Expr, out []plan.Expr) []plan.Expr {
	if a, ok := e.(*plan.And); ok {
		return conjuncts(a.R, conjuncts(a.L, out))
	}
	return append(out, e)
}

// keyConst returns e as a constant usable in a key (non-NULL, encodable).
func keyConst(e plan.Expr) (*plan.Const, bool) {
	c, ok := e.(*plan.Const)
	if !ok || c.Value == nil {
		return nil, false
	}
	_, ok = exec.AppendKeyValue(nil, c.Value)
	return c, ok
}

var flipOp = map[plan.CmpOp]plan.CmpOp{plan.EQ: plan.EQ, plan.LT: plan.GT, plan.LE: plan.GE, plan.GT: plan.LT, plan.GE: plan.LE}

// bounds collects column = / < / <= / > / >= constant conjuncts.
func bounds(pred plan.Expr, t *catalog.Table) map[int]*colBounds {
	out := map[int]*colBounds{}
	for _, c := range conjuncts(pred, nil) {
		cmp, ok := c.(*plan.Cmp)
		if !ok {
			continue
		}
		op := cmp.Op
		col, okc := cmp.L.(*plan.ColRef)
		k, okk := keyConst(cmp.R)
		if !okc || !okk {
			col, okc = cmp.R.(*plan.ColRef)
			k, okk = keyConst(cmp.L)
			op = flipOp[op]
		}
		if !okc || !okk || col.Idx >= len(t.Columns) || t.Columns[col.Idx].Type != k.T {
			continue
		}
		cb := out[col.Idx]
		if cb == nil {
			cb = &colBounds{}
			out[col.Idx] = cb
		}
		switch op {
		case plan.EQ:
			cb.eq = k
		case plan.GT, plan.GE:
			cb.lo, cb.loIncl = k, op == plan.GE
		case plan.LT, plan.LE:
			cb.hi, cb.hiIncl = k, op == plan.LE
		}
	}
	return out
}

// accessPath picks the cheapest way to read f's table: a full scan, a
// primary-key range, or a secondary index, keeping f's predicate above it.
func (b *Binder) accessPath(f *plan.Filter) plan.Node {
	scan, ok := f.Input.(*plan.Scan)
	if !ok {
		return f
	}
	t := scan.Table
	bs := bounds(f.Pred, t)
	if len(bs) == 0 {
		return f
	}
	var stats *catalog.TableStats
	if st := b.estimator().TableStats(t); st != nil && len(st.Columns) == len(t.Columns) {
		stats = st
	}
	var best *plan.IndexScan
	bestCost := -1.0
	try := func(ix *catalog.Index, cols []int, unique bool) {
		s := &plan.IndexScan{Table: t, Index: ix}
		for _, c := range cols {
			cb := bs[c]
			if cb == nil {
				break
			}
			if cb.eq != nil {
				s.Eq = append(s.Eq, cb.eq)
				continue
			}
			s.Lo, s.LoIncl, s.Hi, s.HiIncl = cb.lo, cb.loIncl, cb.hi, cb.hiIncl
			break
		}
		if len(s.Eq) == 0 && s.Lo == nil && s.Hi == nil {
			return
		}
		s.Est = estimate(stats, s, cols, unique)
		// Cost: rows read; a secondary index pays a row fetch per entry.
		cost := s.Est
		if cost < 0 {
			cost = 1e9 / float64(1+len(s.Eq)*4+boolInt(s.Lo != nil)+boolInt(s.Hi != nil))
		}
		if ix != nil {
			cost *= 1.5
		}
		if best == nil || cost < bestCost {
			best, bestCost = s, cost
		}
	}
	try(nil, t.PrimaryKey, true)
	for i := range t.Indexes {
		try(&t.Indexes[i], t.Indexes[i].Columns, t.Indexes[i].Unique)
	}
	if best == nil {
		return f
	}
	// With statistics, a secondary index that would fetch a large part of
	// the table loses to the full scan (random row fetches vs one range).
	if best.Index != nil && stats != nil && best.Est > 0.25*float64(stats.RowCount) {
		return f
	}
	return &plan.Filter{Input: best, Pred: f.Pred}
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// estimate returns the estimated rows of an index scan, -1 without
// statistics (a unique full-key equality is 1 either way).
func estimate(st *catalog.TableStats, s *plan.IndexScan, cols []int, unique bool) float64 {
	if unique && len(s.Eq) == len(cols) {
		return 1
	}
	if st == nil {
		return -1
	}
	rows := float64(st.RowCount)
	sel := 1.0
	for i := range s.Eq {
		cs := st.Columns[cols[i]]
		if cs.NDistinct > 0 {
			sel *= (1 - cs.NullFrac) / float64(cs.NDistinct)
		} else {
			sel = 0
		}
	}
	if k := len(s.Eq); k < len(cols) && (s.Lo != nil || s.Hi != nil) {
		sel *= plan.RangeFraction(st.Columns[cols[k]], s.Lo, s.Hi)
	}
	return rows * sel
}

// onlyColRefs reports whether every expression is a column reference.
func onlyColRefs(es []plan.Expr) bool {
	for _, e := range es {
		if _, ok := e.(*plan.ColRef); !ok {
			return false
		}
	}
	return true
}

// colRefIdxs returns the input columns of column references.
func colRefIdxs(es []plan.Expr) []int {
	out := make([]int, len(es))
	for i, e := range es {
		out[i] = e.(*plan.ColRef).Idx
	}
	return out
}
