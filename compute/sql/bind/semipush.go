package bind

import "github.com/phantom-db/phantom/compute/sql/plan"

// pushSemiJoin moves a semi or anti join below the inner join on its left
// when everything it reads of its left input comes from one input of that
// inner join, recursively, so the join ordering sees a filtered relation
// instead of a filter over the whole join result. TPC-H Q18's
// `o_orderkey IN (SELECT ... HAVING sum(...) > 300)` then keeps the few
// matching orders before they meet lineitem, instead of joining every
// order and filtering the joined rows. A semi or anti join's output is its
// left input's columns, so the inner join's columns do not change. ok is
// false when nothing moved.
func pushSemiJoin(j *plan.Join) (out *plan.Join, ok bool) {
	if (j.Kind != plan.SemiJoin && j.Kind != plan.AntiJoin) || j.Single || j.Mark != nil {
		return nil, false
	}
	in, isJoin := j.Left.(*plan.Join)
	if !isJoin || in.Kind != plan.InnerJoin || in.Single || in.Mark != nil {
		return nil, false
	}
	nin := len(in.Cols)
	nl := len(in.Left.Columns())
	lo, hi := nin, -1 // the left columns the semi join reads
	note := func(e plan.Expr, leftOnly bool) {
		plan.Walk(e, func(x plan.Expr) bool {
			if c, ok := x.(*plan.ColRef); ok && (leftOnly || c.Idx < nin) {
				lo, hi = min(lo, c.Idx), max(hi, c.Idx)
			}
			return true
		})
	}
	for _, k := range j.LeftKeys {
		note(k, true)
	}
	if j.Cond != nil {
		note(j.Cond, false)
	}
	var side plan.Node
	off := 0
	switch {
	case hi < 0:
		return nil, false // reads no left column: nothing ties it to one side
	case hi < nl:
		side = in.Left
	case lo >= nl:
		side, off = in.Right, nl
	default:
		return nil, false
	}
	nside := len(side.Columns())
	remap := func(e plan.Expr) plan.Expr {
		out, _ := plan.Map(e, func(x plan.Expr) (plan.Expr, error) {
			c, ok := x.(*plan.ColRef)
			if !ok {
				return nil, nil
			}
			idx := c.Idx - off // a column of the chosen side
			if c.Idx >= nin {
				idx = c.Idx - nin + nside // a column of the subquery side
			}
			return &plan.ColRef{Idx: idx, Name: c.Name, T: c.T}, nil
		})
		return out
	}
	pushed := &plan.Join{Kind: j.Kind, Left: side, Right: j.Right, RightKeys: j.RightKeys,
		Cols: plan.JoinColumns(j.Kind, side.Columns(), j.Right.Columns())}
	for _, k := range j.LeftKeys {
		pushed.LeftKeys = append(pushed.LeftKeys, remap(k))
	}
	if j.Cond != nil {
		pushed.Cond = remap(j.Cond)
	}
	if deeper, ok := pushSemiJoin(pushed); ok {
		pushed = deeper
	}
	c := *in
	if off == 0 {
		c.Left = pushed
	} else {
		c.Right = pushed
	}
	return &c, true
}
