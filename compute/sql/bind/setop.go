package bind

import (
	"strconv"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// cteDef is a common table expression visible to the query being bound.
type cteDef struct {
	name string
	node plan.Node
	work *workRef // set while a recursive CTE's recursive term is bound
}

// workRef records whether a recursive CTE's recursive term read it.
type workRef struct{ used bool }

// cte returns the innermost visible CTE named name, nil when none.
func (b *Binder) cte(name string) *cteDef {
	for i := len(b.ctes) - 1; i >= 0; i-- {
		if b.ctes[i].name == name {
			return b.ctes[i]
		}
	}
	return nil
}

// bindQuery binds a query expression: WITH, then a set operation, a
// VALUES list or a SELECT.
func (b *Binder) bindQuery(s *pg_query.SelectStmt) (plan.Node, error) {
	if s.WithClause != nil {
		depth := len(b.ctes)
		defer func() { b.ctes = b.ctes[:depth] }()
		if err := b.with(s.WithClause); err != nil {
			return nil, err
		}
	}
	switch {
	case s.Op != pg_query.SetOperation_SET_OPERATION_UNDEFINED && s.Op != pg_query.SetOperation_SETOP_NONE:
		node, err := b.setOp(s)
		if err != nil {
			return nil, err
		}
		return b.orderLimitOutput(s, node, "UNION/INTERSECT/EXCEPT")
	case len(s.ValuesLists) > 0:
		node, err := b.values(s.ValuesLists)
		if err != nil {
			return nil, err
		}
		return b.orderLimitOutput(s, node, "VALUES")
	}
	return b.bindSelect(s)
}

// with binds the CTEs of a WITH clause in order; each sees the ones
// before it (and, WITH RECURSIVE, itself).
func (b *Binder) with(w *pg_query.WithClause) error {
	declared := map[string]bool{}
	for _, n := range w.Ctes {
		c := n.GetCommonTableExpr()
		if c.SearchClause != nil || c.CycleClause != nil {
			return b.errAt(sqlerr.NotSupported("SEARCH/CYCLE"), c.Location)
		}
		sel := c.Ctequery.GetSelectStmt()
		if sel == nil {
			return b.errAt(sqlerr.NotSupported("data-modifying statements in WITH"), c.Location)
		}
		if declared[c.Ctename] {
			return b.errAt(sqlerr.New(codeDuplicateAlias, "WITH query name %q specified more than once", c.Ctename), c.Location)
		}
		var node plan.Node
		var err error
		if w.Recursive {
			node, err = b.recursiveCTE(c, sel)
		} else {
			node, err = b.derived(sel)
		}
		if err != nil {
			return err
		}
		if node, err = renameCols(node, c.Aliascolnames, c.Ctename); err != nil {
			return err
		}
		b.ctes = append(b.ctes, &cteDef{name: c.Ctename, node: node})
		declared[c.Ctename] = true
	}
	return nil
}

// renameCols renames a node's output columns by a column alias list.
func renameCols(node plan.Node, aliases []*pg_query.Node, name string) (plan.Node, error) {
	if len(aliases) == 0 {
		return node, nil
	}
	cols := node.Columns()
	if len(aliases) > len(cols) {
		return nil, sqlerr.New(sqlerr.CodeInvalidColumnReference, "WITH query %q has %d columns available but %d columns specified", name, len(cols), len(aliases))
	}
	p := &plan.Project{Input: node}
	for i, c := range cols {
		if i < len(aliases) {
			c.Name = aliases[i].GetString_().GetSval()
		}
		p.Exprs = append(p.Exprs, &plan.ColRef{Idx: i, Name: c.Name, T: c.T})
		p.Cols = append(p.Cols, c)
	}
	return p, nil
}

// recursiveCTE binds a CTE of WITH RECURSIVE. One of the form
// non-recursive UNION [ALL] recursive, whose right side reads the CTE,
// becomes a RecursiveCTE; any other is an ordinary CTE.
func (b *Binder) recursiveCTE(c *pg_query.CommonTableExpr, sel *pg_query.SelectStmt) (plan.Node, error) {
	if sel.Op != pg_query.SetOperation_SETOP_UNION || sel.WithClause != nil || len(sel.SortClause) > 0 || sel.LimitCount != nil || sel.LimitOffset != nil {
		return b.derived(sel)
	}
	init, err := b.derived(sel.Larg)
	if err != nil {
		return nil, err
	}
	initNamed, err := renameCols(init, c.Aliascolnames, c.Ctename)
	if err != nil {
		return nil, err
	}
	b.nextWorkID++
	id := b.nextWorkID
	work := &plan.WorkScan{ID: id, Cols: initNamed.Columns()}
	ref := &workRef{}
	b.ctes = append(b.ctes, &cteDef{name: c.Ctename, node: work, work: ref})
	step, err := b.derived(sel.Rarg)
	b.ctes = b.ctes[:len(b.ctes)-1]
	if err != nil {
		return nil, err
	}
	cols := init.Columns()
	if len(step.Columns()) != len(cols) {
		return nil, sqlerr.New(sqlerr.CodeSyntaxError, "each UNION query must have the same number of columns")
	}
	if step, err = castColumns(step, cols, func(i int, from types.T) error {
		return sqlerr.New(sqlerr.CodeDatatypeMismatch, "recursive query %q column %d has type %s in non-recursive term but type %s overall",
			c.Ctename, i+1, cols[i].T.SQLName(), from.SQLName()).WithHint("Cast the output of the non-recursive term to the correct type.")
	}); err != nil {
		return nil, err
	}
	if !ref.used {
		return &plan.SetOp{Kind: plan.Union, All: sel.All, Left: init, Right: step, Cols: cols}, nil
	}
	return &plan.RecursiveCTE{ID: id, Init: init, Step: step, All: sel.All, Cols: cols}, nil
}

// castColumns casts node's columns to the types of cols (numeric
// widening only); mismatch reports the error for column i.
func castColumns(node plan.Node, cols []plan.Column, mismatch func(i int, from types.T) error) (plan.Node, error) {
	have := node.Columns()
	same := true
	for i := range cols {
		same = same && have[i].T == cols[i].T
	}
	if same {
		return node, nil
	}
	p := &plan.Project{Input: node}
	for i, c := range have {
		var e plan.Expr = &plan.ColRef{Idx: i, Name: c.Name, T: c.T}
		if c.T != cols[i].T {
			if !nullColumn(node, i) && (!c.T.IsNumeric() || !cols[i].T.IsNumeric()) {
				return nil, mismatch(i, c.T)
			}
			if nullColumn(node, i) {
				e = &plan.Const{T: cols[i].T}
			} else {
				e = &plan.Cast{X: e, T: cols[i].T}
			}
		}
		p.Exprs = append(p.Exprs, e)
		p.Cols = append(p.Cols, plan.Column{Name: c.Name, T: cols[i].T})
	}
	return p, nil
}

// nullColumn reports whether column i of node is a bare NULL literal
// (typed text by default), which adapts to the other side's type.
func nullColumn(node plan.Node, i int) bool {
	switch x := node.(type) {
	case *plan.Project:
		c, ok := x.Exprs[i].(*plan.Const)
		return ok && c.Value == nil
	case *plan.Values:
		for _, r := range x.Rows {
			if c, ok := r[i].(*plan.Const); !ok || c.Value != nil {
				return false
			}
		}
		return len(x.Rows) > 0
	}
	return false
}

// setOp binds UNION / INTERSECT / EXCEPT [ALL].
func (b *Binder) setOp(s *pg_query.SelectStmt) (plan.Node, error) {
	kind := map[pg_query.SetOperation]plan.SetOpKind{
		pg_query.SetOperation_SETOP_UNION: plan.Union, pg_query.SetOperation_SETOP_INTERSECT: plan.Intersect,
		pg_query.SetOperation_SETOP_EXCEPT: plan.Except,
	}[s.Op]
	l, err := b.bindQuery(s.Larg)
	if err != nil {
		return nil, err
	}
	r, err := b.bindQuery(s.Rarg)
	if err != nil {
		return nil, err
	}
	name := map[plan.SetOpKind]string{plan.Union: "UNION", plan.Intersect: "INTERSECT", plan.Except: "EXCEPT"}[kind]
	lc, rc := l.Columns(), r.Columns()
	if len(lc) != len(rc) {
		return nil, sqlerr.New(sqlerr.CodeSyntaxError, "each %s query must have the same number of columns", name)
	}
	cols := make([]plan.Column, len(lc))
	for i := range lc {
		t, err := commonType(name, lc[i].T, rc[i].T, nullColumn(l, i), nullColumn(r, i))
		if err != nil {
			return nil, err
		}
		cols[i] = plan.Column{Name: lc[i].Name, T: t}
	}
	mismatch := func(i int, from types.T) error {
		return sqlerr.New(sqlerr.CodeDatatypeMismatch, "%s types %s and %s cannot be matched", name, lc[i].T.SQLName(), rc[i].T.SQLName())
	}
	if l, err = castColumns(l, cols, mismatch); err != nil {
		return nil, err
	}
	if r, err = castColumns(r, cols, mismatch); err != nil {
		return nil, err
	}
	return &plan.SetOp{Kind: kind, All: s.All, Left: l, Right: r, Cols: cols}, nil
}

// commonType is the type two branches' column resolves to: the same type,
// the wider number, or the other side's type for a bare NULL.
func commonType(what string, a, b types.T, aNull, bNull bool) (types.T, error) {
	switch {
	case a == b:
		return a, nil
	case aNull:
		return b, nil
	case bNull:
		return a, nil
	case a.IsNumeric() && b.IsNumeric():
		return promote(a, b), nil
	}
	return types.Unknown, sqlerr.New(sqlerr.CodeDatatypeMismatch, "%s types %s and %s cannot be matched", what, a.SQLName(), b.SQLName())
}

// values binds a VALUES list as a table: columns column1, column2, ...
// typed by their non-literal values (text when all are literals).
func (b *Binder) values(lists []*pg_query.Node) (plan.Node, error) {
	ec := &exprCtx{noAggClause: "VALUES"}
	var rows [][]plan.Expr
	width := -1
	for _, l := range lists {
		items := l.GetList().GetItems()
		if width >= 0 && len(items) != width {
			return nil, sqlerr.New(sqlerr.CodeSyntaxError, "VALUES lists must all be the same length")
		}
		width = len(items)
		var row []plan.Expr
		for _, it := range items {
			e, err := b.expr(it, ec)
			if err != nil {
				return nil, err
			}
			row = append(row, e)
		}
		rows = append(rows, row)
	}
	v := &plan.Values{}
	for c := range width {
		t := types.Unknown
		for _, r := range rows {
			rt := r[c].Type()
			if rt == types.Unknown {
				continue
			}
			if rc, ok := r[c].(*plan.Const); ok && rc.Value == nil {
				continue
			}
			var err error
			if t == types.Unknown {
				t = rt
			} else if t, err = commonType("VALUES", t, rt, false, false); err != nil {
				return nil, err
			}
		}
		if t == types.Unknown {
			t = types.Text
		}
		for _, r := range rows {
			e, err := b.coerce(r[c], t)
			if err != nil {
				return nil, err
			}
			if r[c], err = castTo(e, t); err != nil {
				return nil, err
			}
		}
		v.Cols = append(v.Cols, plan.Column{Name: "column" + strconv.Itoa(c+1), T: t})
	}
	v.Rows = rows
	return v, nil
}

// orderLimitOutput applies the ORDER BY, LIMIT and OFFSET of a set
// operation or VALUES statement, which may only name output columns (by
// name or position).
func (b *Binder) orderLimitOutput(s *pg_query.SelectStmt, node plan.Node, what string) (plan.Node, error) {
	if len(s.SortClause) == 0 && s.LimitCount == nil && s.LimitOffset == nil {
		return node, nil
	}
	if s.LimitOption == pg_query.LimitOption_LIMIT_OPTION_WITH_TIES {
		return nil, sqlerr.NotSupported("FETCH ... WITH TIES")
	}
	cols := node.Columns()
	sc := &scope{cols: cols}
	var targets []target
	for i, c := range cols {
		targets = append(targets, target{name: c.Name, expr: &plan.ColRef{Idx: i, Name: c.Name, T: c.T}})
	}
	keys, err := b.orderBy(s.SortClause, &exprCtx{sc: sc, noAggClause: "ORDER BY"}, &targets)
	if err != nil {
		return nil, err
	}
	if len(targets) > len(cols) {
		return nil, sqlerr.New(sqlerr.CodeFeatureNotSupported, "invalid %s ORDER BY clause", what).
			WithHint("Only result column names can be used, not expressions or functions.")
	}
	if len(keys) > 0 {
		node = &plan.Sort{Input: node, Keys: keys}
	}
	if s.LimitCount != nil || s.LimitOffset != nil {
		lim := &plan.Limit{Input: node, Count: -1}
		if lim.Count, err = b.limitValue(s.LimitCount, sc, "LIMIT", -1); err != nil {
			return nil, err
		}
		if lim.Offset, err = b.limitValue(s.LimitOffset, sc, "OFFSET", 0); err != nil {
			return nil, err
		}
		node = lim
	}
	return node, nil
}
