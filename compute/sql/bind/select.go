package bind

import (
	"fmt"
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

func typeName(n *pg_query.Node) string { return fmt.Sprintf("%T", n.Node) }

// checkSelectClauses rejects the SELECT clauses outside the slice.
func (b *Binder) checkSelectClauses(s *pg_query.SelectStmt) error {
	switch {
	case s.IntoClause != nil:
		return sqlerr.NotSupported("SELECT INTO")
	case len(s.WindowClause) > 0:
		return sqlerr.NotSupported("WINDOW")
	case len(s.LockingClause) > 0:
		return sqlerr.NotSupported("SELECT FOR UPDATE/SHARE")
	case s.LimitOption == pg_query.LimitOption_LIMIT_OPTION_WITH_TIES:
		return sqlerr.NotSupported("FETCH ... WITH TIES")
	}
	return nil
}

// target is one bound output column.
type target struct {
	name string
	expr plan.Expr
}

func (b *Binder) bindSelect(s *pg_query.SelectStmt) (plan.Node, error) {
	if err := b.checkSelectClauses(s); err != nil {
		return nil, err
	}
	input, sc, err := b.from(s)
	if err != nil {
		return nil, err
	}
	if s.WhereClause != nil {
		pred, err := b.where(s, sc, &input)
		if err != nil {
			return nil, err
		}
		if pred != nil {
			input = pushFilter(input, factorOr(conjuncts(pred, nil)))
		}
	}

	// Aggregate mode with GROUP BY or HAVING, or when any output, HAVING
	// or ORDER BY expression calls an aggregate.
	var wins []winCall
	ec := &exprCtx{sc: sc, att: &attach{node: &input}, wins: &wins}
	aggregated := len(s.GroupClause) > 0 || s.HavingClause != nil
	for _, n := range s.TargetList {
		aggregated = aggregated || hasAggregate(n)
	}
	for _, n := range s.SortClause {
		aggregated = aggregated || hasAggregate(n)
	}
	var g *grouping
	var having plan.Expr
	if aggregated {
		g = &grouping{sc: sc}
		if err := b.groupBy(s, g); err != nil {
			return nil, err
		}
		if err := b.correlationKeys(s, g); err != nil {
			return nil, err
		}
		ec.aggs = &g.aggs
		ec.group = g
		ec.att = &attach{agg: true}
		if s.HavingClause != nil {
			hc := *ec
			hc.wins = nil
			hc.noAggClause = ""
			if having, err = b.boolArg(s.HavingClause, &hc, "HAVING"); err != nil {
				return nil, err
			}
			if having, err = b.ungroup(having, g); err != nil {
				return nil, err
			}
		}
	}

	targets, err := b.targets(s.TargetList, ec)
	if err != nil {
		return nil, err
	}
	visible := len(targets)
	keys, err := b.orderBy(s.SortClause, ec, &targets)
	if err != nil {
		return nil, err
	}
	distinct := len(s.DistinctClause) > 0 && s.DistinctClause[0].Node == nil
	if distinct && len(targets) > visible {
		return nil, sqlerr.New(sqlerr.CodeInvalidColumnReference, "for SELECT DISTINCT, ORDER BY expressions must appear in select list")
	}
	var distinctOn []int
	if len(s.DistinctClause) > 0 && !distinct {
		if distinctOn, err = b.distinctOn(s, ec, &targets, keys); err != nil {
			return nil, err
		}
	}
	if b.sub != nil && b.sub.sel == s {
		b.sub.limited = s.LimitCount != nil || s.LimitOffset != nil
		if g != nil && len(b.sub.pulled) > 0 && !hasOwnGroupBy(s) {
			b.sub.implicitAgg = true
			if visible == 1 && len(wins) == 0 {
				b.sub.empty = emptyGroupValue(targets[0].expr, having, g)
			}
		}
	}
	corrKeep := b.correlationTargets(s, &targets, visible, g)
	if g != nil {
		cols := append([]plan.Column(nil), g.cols...)
		for _, a := range g.aggs {
			cols = append(cols, plan.Column{Name: a.Func.String(), T: a.T})
		}
		input = &plan.Aggregate{Input: input, GroupBy: g.keys, Aggs: g.aggs, Cols: cols}
		input = b.attachPending(ec.att, input)
		for i := range targets {
			targets[i].expr = resolveSubRefs(targets[i].expr, len(cols))
		}
		if having != nil {
			input = &plan.Filter{Input: input, Pred: resolveSubRefs(having, len(cols))}
		}
	}
	if len(wins) > 0 {
		base := len(input.Columns())
		if g != nil {
			base = len(g.cols) + len(g.aggs)
		}
		input, targets = b.windows(input, wins, targets, base)
	}
	proj := &plan.Project{Input: input}
	for _, t := range targets {
		proj.Exprs = append(proj.Exprs, t.expr)
		proj.Cols = append(proj.Cols, plan.Column{Name: t.name, T: t.expr.Type()})
	}
	var out plan.Node = proj
	if distinct {
		// SELECT DISTINCT groups by every output column.
		d := &plan.Aggregate{Input: proj, Cols: proj.Cols}
		for i, c := range proj.Cols {
			d.GroupBy = append(d.GroupBy, &plan.ColRef{Idx: i, Name: c.Name, T: c.T})
		}
		out = d
	}
	if len(keys) > 0 {
		out = &plan.Sort{Input: out, Keys: keys}
	}
	if distinctOn != nil {
		out = &plan.DistinctOn{Input: out, Keys: distinctOn}
	}
	if s.LimitCount != nil || s.LimitOffset != nil {
		lim := &plan.Limit{Input: out, Count: -1}
		if lim.Count, err = b.limitValue(s.LimitCount, sc, "LIMIT", -1); err != nil {
			return nil, err
		}
		if lim.Offset, err = b.limitValue(s.LimitOffset, sc, "OFFSET", 0); err != nil {
			return nil, err
		}
		out = lim
	}
	if visible < len(targets) {
		// Drop the hidden ORDER BY columns (keep a subquery's correlation
		// columns after the visible ones).
		final := &plan.Project{Input: out}
		for _, i := range append(seq(visible), corrKeep...) {
			c := proj.Cols[i]
			final.Exprs = append(final.Exprs, &plan.ColRef{Idx: i, Name: c.Name, T: c.T})
			final.Cols = append(final.Cols, c)
		}
		out = final
	}
	return out, nil
}

// hasOwnGroupBy reports whether s has a GROUP BY other than GROUP BY ().
func hasOwnGroupBy(s *pg_query.SelectStmt) bool {
	for _, n := range s.GroupClause {
		if gs := n.GetGroupingSet(); gs != nil && gs.Kind == pg_query.GroupingSetKind_GROUPING_SET_EMPTY {
			continue
		}
		return true
	}
	return false
}

// seq returns 0, 1, ..., n-1.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// distinctOn binds DISTINCT ON (...) like ORDER BY items (output names,
// positions or expressions) and checks that the ORDER BY starts with
// them, as PostgreSQL requires; it returns their output columns.
func (b *Binder) distinctOn(s *pg_query.SelectStmt, ec *exprCtx, targets *[]target, order []plan.SortKey) ([]int, error) {
	var items []*pg_query.Node
	for _, n := range s.DistinctClause {
		items = append(items, &pg_query.Node{Node: &pg_query.Node_SortBy{SortBy: &pg_query.SortBy{Node: n, Location: -1}}})
	}
	keys, err := b.orderBy(items, ec, targets)
	if err != nil {
		return nil, err
	}
	cols := make([]int, len(keys))
	for i, k := range keys {
		cols[i] = k.Col
	}
	for i := 0; i < len(order) && i < len(cols); i++ {
		if !slices.Contains(cols, order[i].Col) {
			return nil, sqlerr.New(sqlerr.CodeInvalidColumnReference, "SELECT DISTINCT ON expressions must match initial ORDER BY expressions")
		}
	}
	return cols, nil
}

// targets binds the select list, expanding * and naming columns as
// PostgreSQL does.
func (b *Binder) targets(list []*pg_query.Node, ec *exprCtx) ([]target, error) {
	var out []target
	for _, n := range list {
		rt := n.GetResTarget()
		if rt == nil || rt.Val == nil {
			return nil, sqlerr.NotSupported("select target " + typeName(n))
		}
		if cr := rt.Val.GetColumnRef(); cr != nil && isStar(cr) {
			if ec.sc.noFrom() {
				return nil, b.errAt(sqlerr.New(sqlerr.CodeSyntaxError, "SELECT * with no tables specified is not valid"), cr.Location)
			}
			qual := ""
			if len(cr.Fields) == 2 {
				qual = cr.Fields[0].GetString_().GetSval()
			}
			star, ok := ec.sc.starCols(qual)
			if !ok {
				return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedTable, "missing FROM-clause entry for table %q", qual), cr.Location)
			}
			for _, i := range star {
				c := ec.sc.cols[i]
				var e plan.Expr = &plan.ColRef{Idx: i, Name: c.Name, T: c.T}
				if ec.group != nil {
					var err error
					if e, err = b.ungroup(e, ec.group); err != nil {
						return nil, b.errAt(sqlerr.As(err), cr.Location)
					}
				}
				out = append(out, target{name: c.Name, expr: e})
			}
			continue
		}
		e, err := b.expr(rt.Val, ec)
		if err != nil {
			return nil, err
		}
		if e, err = b.finalize(e); err != nil {
			return nil, err
		}
		if ec.group != nil {
			if e, err = b.ungroup(e, ec.group); err != nil {
				return nil, b.errAt(sqlerr.As(err), exprLocation(rt.Val))
			}
		}
		name := rt.Name
		if name == "" {
			name = defaultName(rt.Val)
		}
		out = append(out, target{name: name, expr: e})
	}
	return out, nil
}

func isStar(cr *pg_query.ColumnRef) bool {
	_, ok := cr.Fields[len(cr.Fields)-1].Node.(*pg_query.Node_AStar)
	return ok
}

// defaultName is PostgreSQL's name for an unaliased output column.
func defaultName(n *pg_query.Node) string {
	switch x := n.Node.(type) {
	case *pg_query.Node_ColumnRef:
		f := x.ColumnRef.Fields
		return f[len(f)-1].GetString_().GetSval()
	case *pg_query.Node_FuncCall:
		f := x.FuncCall.Funcname
		return f[len(f)-1].GetString_().GetSval()
	case *pg_query.Node_TypeCast:
		if name := defaultName(x.TypeCast.Arg); name != "?column?" {
			return name
		}
		names := x.TypeCast.TypeName.Names
		name := names[len(names)-1].GetString_().GetSval()
		if t, ok := types.FromName(name); ok && name != "varchar" {
			return t.String()
		}
		return name
	case *pg_query.Node_AConst:
		if _, ok := x.AConst.Val.(*pg_query.A_Const_Boolval); ok {
			return "bool"
		}
	case *pg_query.Node_SubLink:
		return subLinkName(x.SubLink)
	}
	return "?column?"
}

// orderBy binds ORDER BY items to sort keys over the projected columns,
// appending hidden targets for expressions not in the select list.
func (b *Binder) orderBy(items []*pg_query.Node, ec *exprCtx, targets *[]target) ([]plan.SortKey, error) {
	var keys []plan.SortKey
	visible := len(*targets)
	for _, n := range items {
		sb := n.GetSortBy()
		if sb.SortbyDir == pg_query.SortByDir_SORTBY_USING {
			return nil, b.errAt(sqlerr.NotSupported("ORDER BY ... USING"), sb.Location)
		}
		key := plan.SortKey{Col: -1, Desc: sb.SortbyDir == pg_query.SortByDir_SORTBY_DESC}
		key.NullsFirst = key.Desc
		switch sb.SortbyNulls {
		case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
			key.NullsFirst = true
		case pg_query.SortByNulls_SORTBY_NULLS_LAST:
			key.NullsFirst = false
		}
		// ORDER BY <position>.
		if c := sb.Node.GetAConst(); c != nil {
			if iv, ok := c.Val.(*pg_query.A_Const_Ival); ok {
				pos := int(iv.Ival.Ival)
				if pos < 1 || pos > visible {
					return nil, b.errAt(sqlerr.New(sqlerr.CodeInvalidColumnReference, "ORDER BY position %d is not in select list", pos), c.Location)
				}
				key.Col = pos - 1
			}
		}
		// ORDER BY <output column name> takes precedence over input columns.
		if cr := sb.Node.GetColumnRef(); key.Col < 0 && cr != nil && len(cr.Fields) == 1 && !isStar(cr) {
			name := cr.Fields[0].GetString_().GetSval()
			for i := 0; i < visible; i++ {
				if (*targets)[i].name != name {
					continue
				}
				if key.Col >= 0 && (*targets)[key.Col].expr.String() != (*targets)[i].expr.String() {
					return nil, b.errAt(sqlerr.New(sqlerr.CodeAmbiguousColumn, "ORDER BY %q is ambiguous", name), cr.Location)
				}
				if key.Col < 0 {
					key.Col = i
				}
			}
		}
		if key.Col < 0 {
			e, err := b.expr(sb.Node, ec)
			if err != nil {
				return nil, err
			}
			if e, err = b.finalize(e); err != nil {
				return nil, err
			}
			if ec.group != nil {
				if e, err = b.ungroup(e, ec.group); err != nil {
					return nil, b.errAt(sqlerr.As(err), exprLocation(sb.Node))
				}
			}
			for i, t := range *targets {
				if t.expr.String() == e.String() {
					key.Col = i
					break
				}
			}
			if key.Col < 0 {
				*targets = append(*targets, target{name: "?sort?", expr: e})
				key.Col = len(*targets) - 1
			}
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// limitValue binds a LIMIT or OFFSET expression, which must be a constant
// (or parameter); NULL means no limit (def).
func (b *Binder) limitValue(n *pg_query.Node, sc *scope, what string, def int64) (int64, error) {
	if n == nil {
		return def, nil
	}
	e, err := b.expr(n, &exprCtx{sc: sc, noAggClause: what})
	if err != nil {
		return 0, err
	}
	if plan.HasColRef(e) {
		return 0, b.errAt(sqlerr.New(sqlerr.CodeInvalidColumnReference, "argument of %s must not contain variables", what), exprLocation(n))
	}
	if e, err = b.coerce(e, types.Int8); err != nil {
		return 0, err
	}
	c, ok := e.(*plan.Const)
	if !ok {
		if cast, isCast := e.(*plan.Cast); isCast {
			c, ok = cast.X.(*plan.Const)
		}
	}
	if !ok || !c.T.IsNumeric() && c.Value != nil {
		return 0, b.errAt(sqlerr.NotSupported("non-constant "+what), exprLocation(n))
	}
	var v int64
	switch x := c.Value.(type) {
	case nil:
		return def, nil
	case int32:
		v = int64(x)
	case int64:
		v = x
	default:
		return 0, b.errAt(sqlerr.New(sqlerr.CodeDatatypeMismatch, "argument of %s must be type bigint, not type %s", what, c.T.SQLName()), exprLocation(n))
	}
	if v < 0 {
		code := sqlerr.CodeInvalidRowCountLimit
		if what == "OFFSET" {
			code = sqlerr.CodeInvalidRowCountOffset
		}
		return 0, sqlerr.New(code, "%s must not be negative", what)
	}
	return v, nil
}
