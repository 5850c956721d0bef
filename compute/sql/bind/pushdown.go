package bind

import (
	"fmt"
	"slices"

	"github.com/phantom-db/phantom/compute/sql/plan"
)

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

// factorOr pulls the conjuncts every branch of an OR shares out of it, as
// PostgreSQL does: (a AND b) OR (a AND c) becomes a AND (b OR c), which
// holds in three-valued logic too. A join key that each branch repeats
// (TPC-H Q19's p_partkey = l_partkey) then becomes a hash join key instead
// of leaving a nested loop over the cross product. Expressions compare by
// their printed form.
func factorOr(conj []plan.Expr) []plan.Expr {
	var out []plan.Expr
	for _, c := range conj {
		or, ok := c.(*plan.Or)
		if !ok {
			out = append(out, c)
			continue
		}
		var branches [][]plan.Expr
		for _, d := range disjuncts(or, nil) {
			branches = append(branches, conjuncts(d, nil))
		}
		var common []plan.Expr
		for _, e := range branches[0] {
			key := fmt.Sprint(e)
			inAll := true
			for _, b := range branches[1:] {
				if !slices.ContainsFunc(b, func(x plan.Expr) bool { return fmt.Sprint(x) == key }) {
					inAll = false
					break
				}
			}
			if inAll && !slices.ContainsFunc(common, func(x plan.Expr) bool { return fmt.Sprint(x) == key }) {
				common = append(common, e)
			}
		}
		if len(common) == 0 {
			out = append(out, c)
			continue
		}
		out = append(out, common...)
		var rest plan.Expr
		for _, b := range branches {
			left := slices.DeleteFunc(slices.Clone(b), func(x plan.Expr) bool {
				return slices.ContainsFunc(common, func(y plan.Expr) bool { return fmt.Sprint(x) == fmt.Sprint(y) })
			})
			if len(left) == 0 {
				rest = nil // this branch is just the common part: the OR holds
				break
			}
			if rest == nil {
				rest = and(left)
			} else {
				rest = &plan.Or{L: rest, R: and(left)}
			}
		}
		if rest != nil {
			out = append(out, rest)
		}
	}
	return out
}

// disjuncts splits a predicate on OR.
func disjuncts(e plan.Expr, out []plan.Expr) []plan.Expr {
	if o, ok := e.(*plan.Or); ok {
		return disjuncts(o.R, disjuncts(o.L, out))
	}
	return append(out, e)
}
