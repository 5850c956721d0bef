package exec

import (
	"github.com/phantom-db/phantom/compute/sql/plan"
)

// Projection pushdown into the scan. Before a plan runs, neededColumns
// walks it top-down and records, per table scan, which of the table's
// columns any operator above reads; the scan then decodes only those and
// hands the others on as all-NULL arrays (so column indexes, schemas and
// every operator stay as they are). The analysis is conservative: an
// operator or expression it does not know needs every column of its
// input, and a scan below a node it does not descend into keeps every
// column (it has no entry).

// scanNeeds maps each scan of a plan to the columns read above it.
type scanNeeds map[*plan.Scan][]bool

// neededColumns fills out with what n's scans must decode when need
// (indexed like n.Columns()) says which of n's columns are read above it.
func neededColumns(n plan.Node, need []bool, out scanNeeds) {
	switch x := n.(type) {
	case *plan.Scan:
		cur := out[x]
		if cur == nil {
			cur = make([]bool, len(need))
			out[x] = cur
		}
		for i, v := range need {
			if v && i < len(cur) {
				cur[i] = true
			}
		}
	case *plan.Filter:
		in := cloneNeed(need)
		markRefs(in, x.Pred)
		neededColumns(x.Input, in, out)
	case *plan.Project:
		in := make([]bool, len(x.Input.Columns()))
		for i, e := range x.Exprs {
			// An unread output that is a bare column costs nothing to
			// compute over a NULL column; any other expression is still
			// evaluated, so it keeps its inputs (a cast of a NULLed column
			// must not fail where the real value would not, nor the
			// reverse).
			if _, bare := e.(*plan.ColRef); bare && i < len(need) && !need[i] {
				continue
			}
			markRefs(in, e)
		}
		neededColumns(x.Input, in, out)
	case *plan.Sort:
		in := cloneNeed(need)
		for _, k := range x.Keys {
			setNeed(in, k.Col)
		}
		neededColumns(x.Input, in, out)
	case *plan.Limit:
		neededColumns(x.Input, need, out)
	case *plan.MaxOneRow:
		neededColumns(x.Input, need, out)
	case *plan.DistinctOn:
		in := cloneNeed(need)
		for _, k := range x.Keys {
			setNeed(in, k)
		}
		neededColumns(x.Input, in, out)
	case *plan.Aggregate:
		in := make([]bool, len(x.Input.Columns()))
		for _, g := range x.GroupBy {
			markRefs(in, g)
		}
		for _, a := range x.Aggs {
			if a.Arg != nil {
				markRefs(in, a.Arg)
			}
		}
		neededColumns(x.Input, in, out)
	case *plan.Join:
		nl := len(x.Left.Columns())
		l := make([]bool, nl)
		r := make([]bool, len(x.Right.Columns()))
		switch x.Kind {
		case plan.SemiJoin, plan.AntiJoin, plan.MarkJoin:
			copy(l, need)
		default:
			copy(l, need)
			if len(need) > nl {
				copy(r, need[nl:])
			}
		}
		for _, k := range x.LeftKeys {
			markRefs(l, k)
		}
		for _, k := range x.RightKeys {
			markRefs(r, k)
		}
		both := append(l, r...)
		if x.Cond != nil {
			markRefs(both, x.Cond)
		}
		if x.Mark != nil {
			markRefs(both, x.Mark)
		}
		neededColumns(x.Left, both[:nl], out)
		neededColumns(x.Right, both[nl:], out)
	case *plan.SetOp:
		neededColumns(x.Left, allNeed(len(x.Left.Columns())), out)
		neededColumns(x.Right, allNeed(len(x.Right.Columns())), out)
	case *plan.Window:
		neededColumns(x.Input, allNeed(len(x.Input.Columns())), out)
	}
}

func cloneNeed(need []bool) []bool { return append([]bool(nil), need...) }

func allNeed(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = true
	}
	return out
}

func setNeed(need []bool, i int) {
	if i >= 0 && i < len(need) {
		need[i] = true
	}
}

// markRefs marks the input columns e reads; an expression kind it does not
// know marks every column.
func markRefs(need []bool, e plan.Expr) {
	all := false
	plan.Walk(e, func(x plan.Expr) bool {
		switch c := x.(type) {
		case *plan.ColRef:
			setNeed(need, c.Idx)
		case *plan.Const, *plan.Arith, *plan.Cmp, *plan.And, *plan.Or, *plan.Not, *plan.IsNull,
			*plan.Cast, *plan.FirstNotNull, *plan.Func, *plan.Case, *plan.Coalesce:
		default:
			all = true
		}
		return !all
	})
	if all {
		for i := range need {
			need[i] = true
		}
	}
}

// skipColumns answers the columns a scan may leave undecoded, nil when it
// must decode them all.
func (e *Env) skipColumns(s *plan.Scan) []bool {
	need, ok := e.needs[s]
	if !ok {
		return nil
	}
	skip := make([]bool, len(need))
	any := false
	for i, v := range need {
		skip[i] = !v
		any = any || !v
	}
	if !any {
		return nil
	}
	return skip
}
