package bind

import (
	"strconv"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Subqueries are never executed per outer row. Each becomes a join of the
// query's input with the subquery's plan (decorrelation):
//
//   - WHERE-level EXISTS / IN: a semi join; NOT EXISTS: an anti join.
//   - Anywhere else, IN / op ANY / op ALL / EXISTS: a mark join, whose
//     boolean column carries the three-valued answer (NOT IN is NOT of it).
//   - A scalar subquery: a left join that fails with 21000 when an outer
//     row meets two rows (MaxOneRow when uncorrelated).
//
// A correlated subquery's WHERE conjuncts that reference the outer query
// are pulled out of it and become the join's keys (equalities) and
// condition; the subquery exposes the inner columns they read. When the
// subquery aggregates, every correlated conjunct must be an equality
// outer = inner: the inner sides become extra GROUP BY keys
// (aggregate-then-join). What cannot be decorrelated this way answers
// 0A000 rather than running per row: outer references outside the
// subquery's WHERE, non-equality correlation of an aggregating subquery,
// EXISTS/IN/ANY/ALL over a correlated aggregate without GROUP BY, LIMIT
// in a correlated subquery, correlation inside set operations, and
// references two or more levels out.
//
// The COUNT bug: a correlated scalar subquery that aggregates without a
// GROUP BY yields one row even when no inner row matches (count(*) is 0,
// coalesce(sum(x), 0) is 0), but the left join of aggregate-then-join
// gives NULL there. The binder computes the subquery's value over an
// empty group (emptyGroupValue) and the join's output becomes CASE WHEN
// <correlation key> IS NULL THEN <empty value> ELSE <value> END: the
// exposed key is never NULL for a matched row, since it equals the outer
// value under =.

// subCtx is the state of the subquery being bound.
type subCtx struct {
	sel   *pg_query.SelectStmt // the subquery's own SELECT
	outer *scope
	// pulled are the correlated conjuncts, over the subquery's output
	// (subOut) and the outer scope (outerRef), once bindSelect is done.
	pulled            []plan.Expr
	created, consumed int
	limited           bool
	visible           int
	// implicitAgg is set when the subquery aggregates without a GROUP BY
	// of its own: over no rows it still yields one row (count() = 0), which
	// the aggregate-then-join plan does not produce for an outer row
	// without matches; empty is the value of its (single) target over that
	// empty group, nil when it cannot be computed at bind time.
	implicitAgg bool
	empty       plan.Expr
}

// outerRef is a column of the enclosing query read by a subquery. It
// never survives binding: the conjunct it is in becomes a join condition.
type outerRef struct {
	idx  int
	name string
	t    types.T
}

func (o *outerRef) Type() types.T  { return o.t }
func (o *outerRef) String() string { return "outer." + o.name + "#" + strconv.Itoa(o.idx) }

// subOut is output column pos of a subquery's plan, in a pulled
// conjunct; the join resolves it.
type subOut struct {
	pos  int
	name string
	t    types.T
}

func (o *subOut) Type() types.T  { return o.t }
func (o *subOut) String() string { return "sub." + o.name + "#" + strconv.Itoa(o.pos) }

// subRef is the k-th column joined above an Aggregate while the
// expressions over the Aggregate's output are bound; resolveSubRefs
// replaces it.
type subRef struct {
	k int
	t types.T
}

func (s *subRef) Type() types.T  { return s.t }
func (s *subRef) String() string { return "subref#" + strconv.Itoa(s.k) }

// attach is where the joins of subqueries go while an expression is
// bound: onto the query's input (node), or, above an Aggregate, into
// pending (attached by attachPending once the Aggregate exists).
type attach struct {
	node    *plan.Node
	agg     bool
	pending []*plan.Join // Left not set yet
	added   int          // columns the pending joins add
}

func hasOuter(e plan.Expr) bool {
	found := false
	plan.Walk(e, func(x plan.Expr) bool {
		if _, ok := x.(*outerRef); ok {
			found = true
		}
		return !found
	})
	return found
}

func countOuter(e plan.Expr) int {
	n := 0
	plan.Walk(e, func(x plan.Expr) bool {
		if _, ok := x.(*outerRef); ok {
			n++
		}
		return true
	})
	return n
}

// boundSub is a bound subquery.
type boundSub struct {
	node    plan.Node
	visible int
	pulled  []plan.Expr
	ctx     *subCtx
}

// bindSub binds a subquery whose enclosing query's columns are outer.
func (b *Binder) bindSub(n *pg_query.Node, outer *scope) (*boundSub, error) {
	sel := n.GetSelectStmt()
	if sel == nil {
		return nil, sqlerr.NotSupported("this kind of subquery")
	}
	saved := b.sub
	ctx := &subCtx{sel: sel, outer: outer}
	b.sub = ctx
	node, err := b.bindQuery(sel)
	b.sub = saved
	if err != nil {
		return nil, err
	}
	if ctx.created != ctx.consumed {
		return nil, sqlerr.NotSupported("this correlated subquery (outer references outside its WHERE clause, or inside a set operation or derived table)")
	}
	visible := ctx.visible
	if len(ctx.pulled) == 0 {
		visible = len(node.Columns())
	}
	return &boundSub{node: node, visible: visible, pulled: ctx.pulled, ctx: ctx}, nil
}

// pullCorrelated takes the conjuncts reading the outer query out of a
// subquery's WHERE; only for the subquery's own SELECT.
func (b *Binder) pullCorrelated(s *pg_query.SelectStmt, conj []plan.Expr) []plan.Expr {
	if b.sub == nil || b.sub.sel != s {
		return conj
	}
	var keep []plan.Expr
	for _, c := range conj {
		if hasOuter(c) {
			b.sub.pulled = append(b.sub.pulled, c)
			b.sub.consumed += countOuter(c)
			continue
		}
		keep = append(keep, c)
	}
	return keep
}

// innerSide returns the inner side of a correlated equality outer = inner
// of an aggregating subquery; ok false for any other conjunct.
func innerSide(c plan.Expr) (plan.Expr, bool) {
	cmp, ok := c.(*plan.Cmp)
	if !ok || cmp.Op != plan.EQ {
		return nil, false
	}
	lo, ro := hasOuter(cmp.L), hasOuter(cmp.R)
	switch {
	case lo && !ro && !plan.HasColRef(cmp.L) && plan.HasColRef(cmp.R):
		return cmp.R, true
	case ro && !lo && !plan.HasColRef(cmp.R) && plan.HasColRef(cmp.L):
		return cmp.L, true
	}
	return nil, false
}

// correlationKeys adds the inner sides of the pulled equalities of an
// aggregating subquery as GROUP BY keys.
func (b *Binder) correlationKeys(s *pg_query.SelectStmt, g *grouping) error {
	if b.sub == nil || b.sub.sel != s {
		return nil
	}
	for _, p := range b.sub.pulled {
		in, ok := innerSide(p)
		if !ok {
			return sqlerr.NotSupported("correlated subqueries with aggregates whose correlation is not an equality")
		}
		if g.index(in) < 0 {
			name := "?column?"
			if c, ok := in.(*plan.ColRef); ok {
				name = c.Name
			}
			g.keys = append(g.keys, in)
			g.cols = append(g.cols, plan.Column{Name: name, T: in.Type()})
		}
	}
	return nil
}

// emptyGroupValue is what target (over the Aggregate's output: group
// keys, then aggs) evaluates to over an empty group: count() is 0, every
// other aggregate NULL. nil under HAVING, or when the target reads a
// group key or anything else that has no value without rows.
func emptyGroupValue(target, having plan.Expr, g *grouping) plan.Expr {
	ok := true
	sub := func(e plan.Expr) plan.Expr {
		out, _ := plan.Map(e, func(x plan.Expr) (plan.Expr, error) {
			switch r := x.(type) {
			case *plan.ColRef:
				k := r.Idx - len(g.cols)
				if k < 0 || k >= len(g.aggs) {
					ok = false
					return nil, nil
				}
				if f := g.aggs[k].Func; f == plan.Count || f == plan.CountStar {
					zero, _ := types.ParseText(r.T, "0")
					return &plan.Const{Value: zero, T: r.T}, nil
				}
				return &plan.Const{T: r.T}, nil
			case *subRef, *outerRef, *subOut:
				ok = false
			}
			return nil, nil
		})
		return out
	}
	v := sub(target)
	if having != nil {
		// HAVING filters matched groups inside the subquery too, so a
		// missing join partner no longer means "no inner rows".
		return nil
	}
	if !ok {
		return nil
	}
	return v
}

// correlationTargets appends the inner columns the pulled conjuncts read
// as hidden targets and rewrites the conjuncts over them (subOut). The
// final projection keeps them after the visible targets.
func (b *Binder) correlationTargets(s *pg_query.SelectStmt, targets *[]target, visible int, g *grouping) []int {
	if b.sub == nil || b.sub.sel != s || len(b.sub.pulled) == 0 {
		return nil
	}
	b.sub.visible = visible
	var keep []int
	expose := func(e plan.Expr) *subOut {
		str := e.String()
		for k, i := range keep {
			if (*targets)[i].expr.String() == str {
				return &subOut{pos: visible + k, name: (*targets)[i].name, t: e.Type()}
			}
		}
		name := "?corr?"
		if c, ok := e.(*plan.ColRef); ok {
			name = c.Name
		}
		*targets = append(*targets, target{name: name, expr: e})
		keep = append(keep, len(*targets)-1)
		return &subOut{pos: visible + len(keep) - 1, name: name, t: e.Type()}
	}
	for i, p := range b.sub.pulled {
		if g != nil {
			in, _ := innerSide(p)
			key := &plan.ColRef{Idx: g.index(in), Name: g.cols[g.index(in)].Name, T: in.Type()}
			out := expose(key)
			str := in.String()
			b.sub.pulled[i], _ = plan.Map(p, func(x plan.Expr) (plan.Expr, error) {
				if x.String() == str && !hasOuter(x) {
					return out, nil
				}
				return nil, nil
			})
			continue
		}
		b.sub.pulled[i], _ = plan.Map(p, func(x plan.Expr) (plan.Expr, error) {
			if c, ok := x.(*plan.ColRef); ok {
				return expose(c), nil
			}
			return nil, nil
		})
	}
	return keep
}

// subLink binds a subquery expression.
func (b *Binder) subLink(sl *pg_query.SubLink, ec *exprCtx) (plan.Expr, error) {
	if ec.att == nil {
		return nil, b.errAt(sqlerr.NotSupported("subqueries in this context"), sl.Location)
	}
	sub, err := b.bindSub(sl.Subselect, ec.sc)
	if err != nil {
		return nil, err
	}
	correlated := len(sub.pulled) > 0
	if correlated && ec.att.agg {
		return nil, b.errAt(sqlerr.NotSupported("correlated subqueries above GROUP BY or aggregates"), sl.Location)
	}
	if correlated && sub.ctx.limited {
		return nil, b.errAt(sqlerr.NotSupported("LIMIT/OFFSET in a correlated subquery"), sl.Location)
	}
	cols := sub.node.Columns()
	if correlated && sub.ctx.implicitAgg && sl.SubLinkType != pg_query.SubLinkType_EXPR_SUBLINK {
		return nil, b.errAt(sqlerr.NotSupported("EXISTS/IN/ANY/ALL over a correlated aggregate without GROUP BY"), sl.Location)
	}
	switch sl.SubLinkType {
	case pg_query.SubLinkType_EXPR_SUBLINK:
		if sub.visible != 1 {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeSyntaxError, "subquery must return only one column"), sl.Location)
		}
		right := sub.node
		if !correlated {
			right = &plan.MaxOneRow{Input: right}
		} else if sub.ctx.implicitAgg && sub.ctx.empty == nil {
			return nil, b.errAt(sqlerr.NotSupported("this correlated scalar subquery over an aggregate without GROUP BY"), sl.Location)
		}
		ref, err := b.attachJoin(ec.att, plan.LeftJoin, right, sub.pulled, nil, true, 0, cols[0].T)
		if err != nil || !correlated || !sub.ctx.implicitAgg {
			return ref, err
		}
		if c, ok := sub.ctx.empty.(*plan.Const); ok && c.Value == nil {
			return ref, nil // NULL over an empty group: the left join's NULL is right
		}
		// The first exposed correlation key follows the visible column.
		val := ref.(*plan.ColRef)
		kc := cols[sub.visible]
		key := &plan.ColRef{Idx: val.Idx + sub.visible, Name: kc.Name, T: kc.T}
		return &plan.Case{Whens: []plan.When{{Cond: &plan.IsNull{X: key}, Then: sub.ctx.empty}}, Else: ref, T: ref.Type()}, nil
	case pg_query.SubLinkType_EXISTS_SUBLINK:
		return b.attachJoin(ec.att, plan.MarkJoin, sub.node, sub.pulled, nil, false, -1, types.Bool)
	case pg_query.SubLinkType_ANY_SUBLINK, pg_query.SubLinkType_ALL_SUBLINK:
		mark, err := b.quantified(sl, ec, sub)
		if err != nil {
			return nil, err
		}
		ref, err := b.attachJoin(ec.att, plan.MarkJoin, sub.node, sub.pulled, mark, false, -1, types.Bool)
		if err != nil {
			return nil, err
		}
		if sl.SubLinkType == pg_query.SubLinkType_ALL_SUBLINK {
			return &plan.Not{X: ref}, nil
		}
		return ref, nil
	}
	return nil, b.errAt(sqlerr.NotSupported("subquery kind "+sl.SubLinkType.String()), sl.Location)
}

// quantified binds the comparison of x IN / op ANY / op ALL (subquery)
// over the outer row and the subquery's first column (subOut); for ALL
// the comparison is negated (ALL is NOT ANY of the negation).
func (b *Binder) quantified(sl *pg_query.SubLink, ec *exprCtx, sub *boundSub) (plan.Expr, error) {
	if sub.visible != 1 {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeSyntaxError, "subquery has too many columns"), sl.Location)
	}
	if sl.Testexpr.GetRowExpr() != nil {
		return nil, b.errAt(sqlerr.NotSupported("row comparisons with subqueries"), sl.Location)
	}
	x, err := b.expr(sl.Testexpr, ec)
	if err != nil {
		return nil, err
	}
	if ec.group != nil {
		if x, err = b.finalize(x); err != nil {
			return nil, err
		}
		if x, err = b.ungroup(x, ec.group); err != nil {
			return nil, b.errAt(sqlerr.As(err), exprLocation(sl.Testexpr))
		}
	}
	op := "="
	if len(sl.OperName) > 0 {
		op = opName(sl.OperName)
	}
	ops := map[string]plan.CmpOp{"=": plan.EQ, "<>": plan.NE, "!=": plan.NE, "<": plan.LT, "<=": plan.LE, ">": plan.GT, ">=": plan.GE}
	negate := map[plan.CmpOp]plan.CmpOp{plan.EQ: plan.NE, plan.NE: plan.EQ, plan.LT: plan.GE, plan.LE: plan.GT, plan.GT: plan.LE, plan.GE: plan.LT}
	cop, ok := ops[op]
	if !ok {
		return nil, b.errAt(sqlerr.NotSupported("operator "+op+" with ANY/ALL"), sl.Location)
	}
	if sl.SubLinkType == pg_query.SubLinkType_ALL_SUBLINK {
		cop = negate[cop]
	}
	c := sub.node.Columns()[0]
	return b.compare(cop, x, &subOut{pos: 0, name: c.Name, t: c.T}, op, sl.Location)
}

// resolveJoinRefs rewrites outerRef and subOut over the concatenated
// columns of a join whose left input has width columns.
func resolveJoinRefs(e plan.Expr, width int) plan.Expr {
	if e == nil {
		return nil
	}
	out, _ := plan.Map(e, func(x plan.Expr) (plan.Expr, error) {
		switch r := x.(type) {
		case *outerRef:
			return &plan.ColRef{Idx: r.idx, Name: r.name, T: r.t}, nil
		case *subOut:
			return &plan.ColRef{Idx: width + r.pos, Name: r.name, T: r.t}, nil
		}
		return nil, nil
	})
	return out
}

// attachJoin joins a subquery's plan onto the attach point and returns
// the expression reading its column col (the mark column when col < 0).
func (b *Binder) attachJoin(att *attach, kind plan.JoinKind, right plan.Node, pulled []plan.Expr, mark plan.Expr, single bool, col int, t types.T) (plan.Expr, error) {
	j := &plan.Join{Kind: kind, Right: right, Single: single}
	if att.agg {
		// Uncorrelated (checked by the caller): no pulled conjuncts; the
		// mark comparison reads the Aggregate's output, resolved later.
		j.Mark = mark
		att.pending = append(att.pending, j)
		k := att.added
		if kind == plan.MarkJoin {
			att.added++
		} else {
			att.added += len(right.Columns())
			k += col
		}
		return &subRef{k: k, t: t}, nil
	}
	width := len((*att.node).Columns())
	b.finishJoin(j, *att.node, pulled, mark)
	*att.node = j
	if col < 0 {
		return &plan.ColRef{Idx: width, Name: "?mark?", T: types.Bool}, nil
	}
	c := right.Columns()[col]
	return &plan.ColRef{Idx: width + col, Name: c.Name, T: c.T}, nil
}

// finishJoin sets a subquery join's left input, keys and conditions.
func (b *Binder) finishJoin(j *plan.Join, left plan.Node, pulled []plan.Expr, mark plan.Expr) {
	width := len(left.Columns())
	j.Left = left
	var conds []plan.Expr
	for _, p := range pulled {
		conds = append(conds, resolveJoinRefs(p, width))
	}
	j.LeftKeys, j.RightKeys, j.Cond = equiKeys(conds, width)
	j.Mark = resolveJoinRefs(mark, width)
	j.Cols = plan.JoinColumns(j.Kind, left.Columns(), j.Right.Columns())
}

// attachPending puts the joins collected above an Aggregate on top of it
// and returns the new input; subRefs are then resolved by resolveSubRefs.
func (b *Binder) attachPending(att *attach, input plan.Node) plan.Node {
	base := len(input.Columns())
	for _, j := range att.pending {
		mark := j.Mark
		if mark != nil {
			// The mark comparison's outer side reads the Aggregate's output
			// (subRefs of earlier joins resolved over it).
			mark = resolveSubRefs(mark, base)
		}
		b.finishJoin(j, input, nil, mark)
		input = j
	}
	return input
}

// resolveSubRefs rewrites subRefs into columns after the base columns.
func resolveSubRefs(e plan.Expr, base int) plan.Expr {
	if e == nil {
		return nil
	}
	out, _ := plan.Map(e, func(x plan.Expr) (plan.Expr, error) {
		if r, ok := x.(*subRef); ok {
			return &plan.ColRef{Idx: base + r.k, Name: "?sub?", T: r.t}, nil
		}
		return nil, nil
	})
	return out
}

// where binds a WHERE clause conjunct by conjunct: EXISTS, NOT EXISTS and
// IN (subquery) conjuncts become semi and anti joins onto the input; the
// others form the returned predicate (nil when none is left). A
// subquery's correlated conjuncts are pulled out (pullCorrelated).
func (b *Binder) where(s *pg_query.SelectStmt, sc *scope, input *plan.Node) (plan.Expr, error) {
	var parts []*pg_query.Node
	var split func(n *pg_query.Node)
	split = func(n *pg_query.Node) {
		if be := n.GetBoolExpr(); be != nil && be.Boolop == pg_query.BoolExprType_AND_EXPR {
			for _, a := range be.Args {
				split(a)
			}
			return
		}
		parts = append(parts, n)
	}
	split(s.WhereClause)
	att := &attach{node: input}
	ec := &exprCtx{sc: sc, noAggClause: "WHERE", att: att}
	var conj []plan.Expr
	for _, p := range parts {
		done, err := b.semiJoin(p, ec)
		if err != nil {
			return nil, err
		}
		if done {
			continue
		}
		what := "WHERE"
		if len(parts) > 1 {
			what = "AND"
		}
		e, err := b.boolArg(p, ec, what)
		if err != nil {
			return nil, err
		}
		conj = conjuncts(e, conj)
	}
	return and(b.pullCorrelated(s, conj)), nil
}

// semiJoin turns a WHERE conjunct EXISTS (...), NOT EXISTS (...) or
// x IN (...) into a semi or anti join onto the input; false when the
// conjunct is something else.
func (b *Binder) semiJoin(n *pg_query.Node, ec *exprCtx) (bool, error) {
	kind := plan.SemiJoin
	if be := n.GetBoolExpr(); be != nil && be.Boolop == pg_query.BoolExprType_NOT_EXPR && len(be.Args) == 1 {
		if sl := be.Args[0].GetSubLink(); sl != nil && sl.SubLinkType == pg_query.SubLinkType_EXISTS_SUBLINK {
			kind, n = plan.AntiJoin, be.Args[0]
		}
	}
	sl := n.GetSubLink()
	if sl == nil {
		return false, nil
	}
	isIn := sl.SubLinkType == pg_query.SubLinkType_ANY_SUBLINK && (len(sl.OperName) == 0 || opName(sl.OperName) == "=")
	if sl.SubLinkType != pg_query.SubLinkType_EXISTS_SUBLINK && !isIn {
		return false, nil
	}
	sub, err := b.bindSub(sl.Subselect, ec.sc)
	if err != nil {
		return false, err
	}
	if len(sub.pulled) > 0 && sub.ctx.limited {
		return false, b.errAt(sqlerr.NotSupported("LIMIT/OFFSET in a correlated subquery"), sl.Location)
	}
	if len(sub.pulled) > 0 && sub.ctx.implicitAgg {
		return false, b.errAt(sqlerr.NotSupported("EXISTS/IN over a correlated aggregate without GROUP BY"), sl.Location)
	}
	pulled := sub.pulled
	if isIn {
		eq, err := b.quantified(sl, ec, sub)
		if err != nil {
			return false, err
		}
		pulled = append(append([]plan.Expr(nil), pulled...), eq)
	}
	j := &plan.Join{Kind: kind, Right: sub.node}
	b.finishJoin(j, *ec.att.node, pulled, nil)
	*ec.att.node = j
	return true, nil
}

// subLinkName is PostgreSQL's output column name of a subquery
// expression: exists, the scalar subquery's own column name, or ?column?.
func subLinkName(sl *pg_query.SubLink) string {
	switch sl.SubLinkType {
	case pg_query.SubLinkType_EXISTS_SUBLINK:
		return "exists"
	case pg_query.SubLinkType_EXPR_SUBLINK:
		sel := sl.Subselect.GetSelectStmt()
		for sel != nil && sel.Larg != nil {
			sel = sel.Larg
		}
		if sel == nil || len(sel.TargetList) == 0 {
			break
		}
		if rt := sel.TargetList[0].GetResTarget(); rt != nil {
			if rt.Name != "" {
				return rt.Name
			}
			if rt.Val != nil {
				return defaultName(rt.Val)
			}
		}
	}
	return "?column?"
}
