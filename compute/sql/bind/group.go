package bind

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// grouping is what the expressions above an Aggregate node may reference:
// the GROUP BY keys (output columns 0..len(keys)-1) and the aggregates
// collected while binding them (the columns after the keys).
type grouping struct {
	sc   *scope
	keys []plan.Expr   // over the Aggregate's input
	cols []plan.Column // output columns of the keys
	aggs []plan.Agg
}

// groupBy binds the GROUP BY clause into g.keys by PostgreSQL's rules: an
// integer constant is a select-list position; a bare name is an input
// column if there is one, else an output column name (its expression); any
// other item is an expression over the input. Aggregates are not allowed.
func (b *Binder) groupBy(s *pg_query.SelectStmt, g *grouping) error {
	ec := &exprCtx{sc: g.sc, noAggClause: "GROUP BY"}
	for _, n := range s.GroupClause {
		switch x := n.Node.(type) {
		case *pg_query.Node_GroupingSet:
			if x.GroupingSet.Kind == pg_query.GroupingSetKind_GROUPING_SET_EMPTY {
				continue // GROUP BY (): one group, as with no keys
			}
			return b.errAt(sqlerr.NotSupported("GROUPING SETS, ROLLUP and CUBE"), x.GroupingSet.Location)
		case *pg_query.Node_RowExpr:
			return b.errAt(sqlerr.NotSupported("row expressions in GROUP BY"), x.RowExpr.Location)
		}
		item := n
		if c := n.GetAConst(); c != nil {
			if iv, ok := c.Val.(*pg_query.A_Const_Ival); ok {
				pos := int(iv.Ival.Ival)
				if pos < 1 || pos > len(s.TargetList) {
					return b.errAt(sqlerr.New(sqlerr.CodeInvalidColumnReference, "GROUP BY position %d is not in select list", pos), c.Location)
				}
				rt := s.TargetList[pos-1].GetResTarget()
				if cr := rt.Val.GetColumnRef(); cr != nil && isStar(cr) {
					return b.errAt(sqlerr.NotSupported("GROUP BY position of *"), c.Location)
				}
				item = rt.Val
			}
		}
		if cr := n.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && !isStar(cr) && !g.sc.has(cr.Fields[0].GetString_().GetSval()) {
			name := cr.Fields[0].GetString_().GetSval()
			var match *pg_query.Node
			for _, t := range s.TargetList {
				rt := t.GetResTarget()
				if rt == nil || rt.Val == nil {
					continue
				}
				out := rt.Name
				if out == "" {
					out = defaultName(rt.Val)
				}
				if out != name {
					continue
				}
				if match != nil && match.String() != rt.Val.String() {
					return b.errAt(sqlerr.New(sqlerr.CodeAmbiguousColumn, "GROUP BY %q is ambiguous", name), cr.Location)
				}
				match = rt.Val
			}
			if match != nil {
				item = match
			}
		}
		e, err := b.expr(item, ec)
		if err != nil {
			return err
		}
		if e, err = b.finalize(e); err != nil {
			return err
		}
		if g.index(e) >= 0 {
			continue
		}
		name := "?column?"
		if c, ok := e.(*plan.ColRef); ok {
			name = c.Name
		}
		g.keys = append(g.keys, e)
		g.cols = append(g.cols, plan.Column{Name: name, T: e.Type()})
	}
	return nil
}

// has reports whether the scope has an input column named name.
func (s *scope) has(name string) bool {
	if s == nil {
		return false
	}
	for _, c := range s.cols {
		if c.Name == name {
			return true
		}
	}
	return false
}

// index returns the position of the key equal to e, -1 if none.
func (g *grouping) index(e plan.Expr) int {
	str := e.String()
	for i, k := range g.keys {
		if k.String() == str {
			return i
		}
	}
	return -1
}

// ungroup rewrites an expression bound over the Aggregate's input into one
// over its output: subexpressions equal to a key read the key's column,
// aggregate references read the aggregate's column, and any other input
// column is a grouping error (42803), as in PostgreSQL.
func (b *Binder) ungroup(e plan.Expr, g *grouping) (plan.Expr, error) {
	return plan.Map(e, func(x plan.Expr) (plan.Expr, error) {
		if a, ok := x.(*aggRef); ok {
			return &plan.ColRef{Idx: len(g.keys) + a.idx, Name: a.name, T: a.t}, nil
		}
		if _, ok := x.(*plan.Const); ok {
			return x, nil
		}
		if i := g.index(x); i >= 0 {
			return &plan.ColRef{Idx: i, Name: g.cols[i].Name, T: x.Type()}, nil
		}
		if c, ok := x.(*plan.ColRef); ok {
			return nil, sqlerr.New(sqlerr.CodeGroupingError,
				"column %q must appear in the GROUP BY clause or be used in an aggregate function", g.sc.qualified(c.Name))
		}
		return nil, nil
	})
}
