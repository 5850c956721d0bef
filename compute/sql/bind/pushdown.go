package bind

import "github.com/phantom-db/phantom/compute/sql/plan"

// pushFilter places the conjuncts of a WHERE clause as low as they can go
// in the join tree under it, so that comma joins (FROM a, b WHERE a.x =
// b.y) become hash joins and single-table conditions filter before
// joining: a conjunct over one input of an inner join moves into that
// input, one over both becomes the join's key or condition; through left,
// semi, anti and mark joins only conjuncts over the left input move down.
// What cannot move is filtered above node.
func pushFilter(node plan.Node, conj []plan.Expr) plan.Node {
	if len(conj) == 0 {
		return node
	}
	j, ok := node.(*plan.Join)
	if !ok {
		return &plan.Filter{Input: node, Pred: and(conj)}
	}
	nl := len(j.Left.Columns())
	var left, right, here, above []plan.Expr
	for _, c := range conj {
		l, r := colSides(c, nl)
		switch {
		case !l && !r:
			above = append(above, c)
		case l && !r && j.Kind != plan.RightJoin && j.Kind != plan.FullJoin && (j.Kind != plan.MarkJoin || !readsCol(c, nl)):
			left = append(left, c)
		case r && !l && j.Kind == plan.InnerJoin:
			right = append(right, shiftCols(c, -nl))
		case j.Kind == plan.InnerJoin:
			here = append(here, c)
		default:
			above = append(above, c)
		}
	}
	if len(left)+len(right)+len(here) == 0 {
		return &plan.Filter{Input: node, Pred: and(conj)}
	}
	out := *j
	out.Left = pushFilter(j.Left, left)
	out.Right = pushFilter(j.Right, right)
	if len(here) > 0 {
		var rest []plan.Expr
		if out.Cond != nil {
			rest = conjuncts(out.Cond, nil)
		}
		lk, rk, cond := equiKeys(append(rest, here...), nl)
		out.LeftKeys = append(append([]plan.Expr(nil), j.LeftKeys...), lk...)
		out.RightKeys = append(append([]plan.Expr(nil), j.RightKeys...), rk...)
		out.Cond = cond
	}
	if len(above) == 0 {
		return &out
	}
	return &plan.Filter{Input: &out, Pred: and(above)}
}

// readsCol reports whether e reads column idx.
func readsCol(e plan.Expr, idx int) bool {
	found := false
	plan.Walk(e, func(x plan.Expr) bool {
		if c, ok := x.(*plan.ColRef); ok && c.Idx == idx {
			found = true
		}
		return !found
	})
	return found
}
