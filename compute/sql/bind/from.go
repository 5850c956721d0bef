package bind

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/parse"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// scopeRel is one named FROM item of a scope: its name (alias, table,
// view or CTE name) and the scope columns that are its columns, in order.
type scopeRel struct {
	name string
	cols []int
}

// Codes the relational binder answers beyond sqlerr's list.
const (
	codeDuplicateAlias   = "42712"
	codeWrongObjectType  = "42809"
	codeInvalidRecursion = "42P19"
	codeWindowingError   = "42P20"
)

// rel returns the FROM item named q, nil when there is none.
func (s *scope) rel(q string) *scopeRel {
	for i := range s.rels {
		if s.rels[i].name == q {
			return &s.rels[i]
		}
	}
	return nil
}

// relQualified names a column by the first FROM item that has it.
func (s *scope) relQualified(col string) string {
	for _, r := range s.rels {
		for _, c := range r.cols {
			if s.cols[c].Name == col {
				return r.name + "." + col
			}
		}
	}
	return col
}

// noFrom reports whether the scope is that of a SELECT without FROM.
func (s *scope) noFrom() bool {
	return s == nil || (s.rels != nil && len(s.rels) == 0 && len(s.cols) == 0)
}

// lookup finds qual.name (qual "" when unqualified) among the scope's own
// columns: found false when the scope has no such relation or column,
// an error when the reference is ambiguous or the column is missing from
// a named relation.
func (s *scope) lookup(qual, name string) (int, bool, *sqlerr.Error) {
	if s == nil {
		return -1, false, nil
	}
	if s.rels == nil {
		if qual != "" && !s.matches(qual) {
			return -1, false, nil
		}
		for i, c := range s.cols {
			if c.Name == name && !c.Hidden {
				return i, true, nil
			}
		}
		return -1, false, nil
	}
	if qual != "" {
		r := s.rel(qual)
		if r == nil {
			return -1, false, nil
		}
		for _, c := range r.cols {
			if s.cols[c].Name == name && !s.cols[c].Hidden {
				return c, true, nil
			}
		}
		return -1, false, sqlerr.New(sqlerr.CodeUndefinedColumn, "column %s.%s does not exist", qual, name)
	}
	idx := -1
	for i, c := range s.cols {
		if c.Name != name || c.Hidden || (s.hidden != nil && s.hidden[i]) {
			continue
		}
		if idx >= 0 {
			return -1, false, sqlerr.New(sqlerr.CodeAmbiguousColumn, "column reference %q is ambiguous", name)
		}
		idx = i
	}
	return idx, idx >= 0, nil
}

// starCols returns the columns qual.* (all of * when qual is "") expands
// to; ok false when qual names no FROM item.
func (s *scope) starCols(qual string) ([]int, bool) {
	if qual == "" {
		if s.star != nil {
			return s.star, true
		}
		out := make([]int, 0, len(s.cols))
		for i, c := range s.cols {
			if !c.Hidden {
				out = append(out, i)
			}
		}
		return out, true
	}
	if s.rels == nil {
		if !s.matches(qual) {
			return nil, false
		}
		return s.starCols("")
	}
	r := s.rel(qual)
	if r == nil {
		return nil, false
	}
	return r.cols, true
}

// resolveColumn resolves a column reference in sc and then in the scopes
// of enclosing queries (a correlated reference, one level deep).
func (b *Binder) resolveColumn(sc *scope, qual, name, full string) (plan.Expr, *sqlerr.Error) {
	depth := 0
	for cur := sc; cur != nil; cur, depth = cur.outer, depth+1 {
		idx, found, err := cur.lookup(qual, name)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		if depth == 0 {
			return &plan.ColRef{Idx: idx, Name: name, T: cur.cols[idx].T}, nil
		}
		if depth > 1 || b.sub == nil {
			return nil, sqlerr.NotSupported("references to columns of a query two or more levels out")
		}
		b.sub.created++
		return &outerRef{idx: idx, name: name, t: cur.cols[idx].T}, nil
	}
	if qual != "" {
		known := false
		for cur := sc; cur != nil; cur = cur.outer {
			known = known || cur.matches(qual)
		}
		if !known {
			return nil, sqlerr.New(sqlerr.CodeUndefinedTable, "missing FROM-clause entry for table %q", qual)
		}
	}
	return nil, sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q does not exist", full)
}

// relScope returns the scope of one FROM item named name with columns
// cols, renamed by the column aliases of its alias.
func (b *Binder) relScope(name string, cols []plan.Column, alias *pg_query.Alias) (*scope, error) {
	cols = slices.Clone(cols)
	if alias != nil {
		name = alias.Aliasname
		if len(alias.Colnames) > len(cols) {
			return nil, sqlerr.New(sqlerr.CodeInvalidColumnReference, "table %q has %d columns available but %d columns specified", name, len(cols), len(alias.Colnames))
		}
		for i, c := range alias.Colnames {
			cols[i].Name = c.GetString_().GetSval()
		}
	}
	sc := &scope{table: name, cols: cols, rels: []scopeRel{{name: name}}}
	for i, c := range cols {
		if !c.Hidden { // a table's row id: not reachable as name.col or name.*
			sc.rels[0].cols = append(sc.rels[0].cols, i)
		}
	}
	return sc, nil
}

// from binds the FROM clause: a Values node of one empty row when there is
// none; otherwise its items, cross-joined left to right.
func (b *Binder) from(s *pg_query.SelectStmt) (plan.Node, *scope, error) {
	var outer *scope
	if b.sub != nil && b.sub.sel == s {
		outer = b.sub.outer
	}
	if node, sc, ok, err := b.selectListSRF(s); ok {
		if sc != nil {
			sc.outer = outer
		}
		return node, sc, err
	}
	if len(s.FromClause) == 0 {
		var sc *scope
		if outer != nil {
			sc = &scope{rels: []scopeRel{}, outer: outer}
		}
		return &plan.Values{Rows: [][]plan.Expr{{}}}, sc, nil
	}
	var node plan.Node
	var sc *scope
	for _, item := range s.FromClause {
		n, isc, err := b.fromItem(item)
		if err != nil {
			return nil, nil, err
		}
		if node == nil {
			node, sc = n, isc
			continue
		}
		if node, sc, err = b.join(plan.InnerJoin, node, sc, n, isc, nil, nil, false, -1); err != nil {
			return nil, nil, err
		}
	}
	sc.outer = outer
	return node, sc, nil
}

// fromItem binds one FROM item.
func (b *Binder) fromItem(n *pg_query.Node) (plan.Node, *scope, error) {
	switch x := n.Node.(type) {
	case *pg_query.Node_RangeVar:
		return b.rangeVar(x.RangeVar)
	case *pg_query.Node_RangeSubselect:
		rs := x.RangeSubselect
		if rs.Lateral {
			return nil, nil, sqlerr.NotSupported("LATERAL")
		}
		if rs.Alias == nil {
			return nil, nil, sqlerr.New(sqlerr.CodeSyntaxError, "subquery in FROM must have an alias").
				WithHint("For example, FROM (SELECT ...) [AS] foo.")
		}
		sel := rs.Subquery.GetSelectStmt()
		if sel == nil {
			return nil, nil, sqlerr.NotSupported("this subquery in FROM")
		}
		node, err := b.derived(sel)
		if err != nil {
			return nil, nil, err
		}
		sc, err := b.relScope(rs.Alias.Aliasname, node.Columns(), rs.Alias)
		return node, sc, err
	case *pg_query.Node_JoinExpr:
		return b.joinExpr(x.JoinExpr)
	case *pg_query.Node_RangeFunction:
		return b.rangeFunction(x.RangeFunction)
	}
	return nil, nil, sqlerr.NotSupported("FROM item " + typeName(n))
}

// derived binds a query nested in FROM (or a view or CTE body): it sees
// no columns of the query around it.
func (b *Binder) derived(sel *pg_query.SelectStmt) (plan.Node, error) {
	saved := b.sub
	b.sub = nil
	defer func() { b.sub = saved }()
	return b.bindQuery(sel)
}

// rangeVar binds a table, view or CTE reference.
func (b *Binder) rangeVar(rv *pg_query.RangeVar) (plan.Node, *scope, error) {
	if rv.Schemaname == "" && rv.Catalogname == "" {
		if c := b.cte(rv.Relname); c != nil {
			if c.work != nil {
				c.work.used = true
			}
			sc, err := b.relScope(c.name, c.node.Columns(), rv.Alias)
			return c.node, sc, err
		}
	}
	if node, sc, ok, err := b.systemRelation(rv); ok {
		return node, sc, err
	}
	if err := b.checkSchema(rv); err != nil {
		return nil, nil, err
	}
	t, err := b.cat.Table(b.ctx, rv.Relname)
	if err != nil {
		return nil, nil, err
	}
	if t == nil {
		return nil, nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedTable, "relation %q does not exist", rv.Relname), rv.Location)
	}
	if t.ViewQuery != "" {
		node, err := b.expandView(t)
		if err != nil {
			return nil, nil, err
		}
		sc, err := b.relScope(t.Name, node.Columns(), rv.Alias)
		return node, sc, err
	}
	scan := &plan.Scan{Table: t}
	sc, err := b.relScope(t.Name, scan.Columns(), rv.Alias)
	return scan, sc, err
}

// expandView binds a view's stored query in place of the view, under the
// view's column names. It sees no CTEs or columns of the query that uses
// it.
func (b *Binder) expandView(t *catalog.Table) (plan.Node, error) {
	b.viewDepth++
	defer func() { b.viewDepth-- }()
	if b.viewDepth > 32 {
		return nil, sqlerr.New(sqlerr.CodeProgramLimitExceeded, "views nested deeper than 32 levels")
	}
	stmts, err := parse.Parse(t.ViewQuery)
	if err != nil || len(stmts) != 1 || stmts[0].AST.GetSelectStmt() == nil {
		return nil, sqlerr.New(sqlerr.CodeInternalError, "view %q has an invalid stored query", t.Name)
	}
	savedCTEs, savedQuery := b.ctes, b.query
	b.ctes, b.query = nil, t.ViewQuery
	node, err := b.derived(stmts[0].AST.GetSelectStmt())
	b.ctes, b.query = savedCTEs, savedQuery
	if err != nil {
		if se := sqlerr.As(err); se != nil {
			se.Position = 0
			se.Message = "view " + t.Name + ": " + se.Message
		}
		return nil, err
	}
	cols := node.Columns()
	if len(cols) != len(t.Columns) {
		return nil, sqlerr.New(sqlerr.CodeInternalError, "view %q no longer matches its columns", t.Name)
	}
	p := &plan.Project{Input: node}
	for i, c := range t.Columns {
		var e plan.Expr = &plan.ColRef{Idx: i, Name: cols[i].Name, T: cols[i].T}
		if cols[i].T != c.Type {
			if e, err = castTo(e, c.Type); err != nil {
				return nil, err
			}
		}
		p.Exprs = append(p.Exprs, e)
		p.Cols = append(p.Cols, plan.Column{Name: c.Name, T: c.Type})
	}
	return p, nil
}

// joinExpr binds a JOIN.
func (b *Binder) joinExpr(j *pg_query.JoinExpr) (plan.Node, *scope, error) {
	if j.Alias != nil {
		return nil, nil, sqlerr.NotSupported("aliases on JOIN")
	}
	l, lsc, err := b.fromItem(j.Larg)
	if err != nil {
		return nil, nil, err
	}
	r, rsc, err := b.fromItem(j.Rarg)
	if err != nil {
		return nil, nil, err
	}
	var kind plan.JoinKind
	switch j.Jointype {
	case pg_query.JoinType_JOIN_INNER:
		kind = plan.InnerJoin
	case pg_query.JoinType_JOIN_LEFT:
		kind = plan.LeftJoin
	case pg_query.JoinType_JOIN_RIGHT:
		kind = plan.RightJoin
	case pg_query.JoinType_JOIN_FULL:
		kind = plan.FullJoin
	default:
		return nil, nil, sqlerr.NotSupported("join type " + j.Jointype.String())
	}
	var using []string
	for _, u := range j.UsingClause {
		using = append(using, u.GetString_().GetSval())
	}
	if j.IsNatural {
		lnames := map[string]bool{}
		lstar, _ := lsc.starCols("")
		for _, i := range lstar {
			lnames[lsc.cols[i].Name] = true
		}
		rstar, _ := rsc.starCols("")
		for _, i := range lstar {
			for _, k := range rstar {
				if rsc.cols[k].Name == lsc.cols[i].Name && !slices.Contains(using, lsc.cols[i].Name) {
					using = append(using, lsc.cols[i].Name)
				}
			}
		}
		if using == nil {
			using = []string{} // NATURAL without common columns is a cross join
		}
	}
	loc := int32(-1)
	if j.Quals != nil {
		loc = exprLocation(j.Quals)
	}
	return b.join(kind, l, lsc, r, rsc, j.Quals, using, using != nil, loc)
}

// join combines two FROM items. quals is the ON condition (nil for CROSS
// JOIN and comma joins); with isUsing the join is on the named columns,
// which are merged into one column each.
func (b *Binder) join(kind plan.JoinKind, l plan.Node, lsc *scope, r plan.Node, rsc *scope, quals *pg_query.Node, using []string, isUsing bool, loc int32) (plan.Node, *scope, error) {
	for _, lr := range lsc.rels {
		if rsc.rel(lr.name) != nil {
			return nil, nil, sqlerr.New(codeDuplicateAlias, "table name %q specified more than once", lr.name)
		}
	}
	nl := len(l.Columns())
	sc := &scope{cols: append(slices.Clone(lsc.cols), rsc.cols...)}
	sc.hidden = make([]bool, len(sc.cols))
	for i := range lsc.cols {
		sc.hidden[i] = lsc.hidden != nil && lsc.hidden[i]
	}
	for i := range rsc.cols {
		sc.hidden[nl+i] = rsc.hidden != nil && rsc.hidden[i]
	}
	sc.rels = append(sc.rels, lsc.rels...)
	for _, rr := range rsc.rels {
		shifted := scopeRel{name: rr.name}
		for _, c := range rr.cols {
			shifted.cols = append(shifted.cols, c+nl)
		}
		sc.rels = append(sc.rels, shifted)
	}
	lstar, _ := lsc.starCols("")
	rstar, _ := rsc.starCols("")
	j := &plan.Join{Kind: kind, Left: l, Right: r, Cols: plan.JoinColumns(kind, l.Columns(), r.Columns())}
	if quals != nil {
		cond, err := b.boolArg(quals, &exprCtx{sc: sc, noAggClause: "JOIN conditions"}, "JOIN/ON")
		if err != nil {
			return nil, nil, err
		}
		j.LeftKeys, j.RightKeys, j.Cond = equiKeys(conjuncts(cond, nil), nl)
	}
	if !isUsing {
		for _, i := range rstar {
			lstar = append(lstar, i+nl)
		}
		if len(lsc.cols) != nl || len(rsc.cols) != len(r.Columns()) {
			return nil, nil, sqlerr.New(sqlerr.CodeInternalError, "join scope does not match its inputs")
		}
		sc.star = lstar
		return j, sc, nil
	}
	// USING / NATURAL: equi-keys on the named columns and one merged
	// column each, computed by a Project above the join.
	proj := &plan.Project{Input: j}
	for i, c := range j.Cols {
		proj.Exprs = append(proj.Exprs, &plan.ColRef{Idx: i, Name: c.Name, T: c.T})
		proj.Cols = append(proj.Cols, c)
	}
	var star, lused, rused []int
	for _, name := range using {
		li, lok, lerr := lsc.lookup("", name)
		if lerr != nil {
			return nil, nil, lerr
		}
		if !lok {
			return nil, nil, sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q specified in USING clause does not exist in left table", name)
		}
		ri, rok, rerr := rsc.lookup("", name)
		if rerr != nil {
			return nil, nil, rerr
		}
		if !rok {
			return nil, nil, sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q specified in USING clause does not exist in right table", name)
		}
		if slices.Contains(lused, li) {
			return nil, nil, sqlerr.New(sqlerr.CodeDuplicateColumn, "column name %q appears more than once in USING clause", name)
		}
		lt, rt := lsc.cols[li].T, rsc.cols[ri].T
		t := lt
		if lt != rt {
			if !lt.IsNumeric() || !rt.IsNumeric() {
				return nil, nil, sqlerr.New(sqlerr.CodeDatatypeMismatch, "JOIN/USING types %s and %s cannot be matched", lt.SQLName(), rt.SQLName())
			}
			t = promote(lt, rt)
		}
		lk, err := castTo(&plan.ColRef{Idx: li, Name: name, T: lt}, t)
		if err != nil {
			return nil, nil, err
		}
		rk, err := castTo(&plan.ColRef{Idx: ri, Name: name, T: rt}, t)
		if err != nil {
			return nil, nil, err
		}
		j.LeftKeys = append(j.LeftKeys, lk)
		j.RightKeys = append(j.RightKeys, rk)
		rkOut := shiftCols(rk, nl)
		var merged plan.Expr
		switch kind {
		case plan.RightJoin:
			merged = rkOut
		case plan.FullJoin:
			merged = &plan.FirstNotNull{Xs: []plan.Expr{lk, rkOut}, T: t}
		default:
			merged = lk
		}
		star = append(star, len(proj.Exprs))
		proj.Exprs = append(proj.Exprs, merged)
		proj.Cols = append(proj.Cols, plan.Column{Name: name, T: t})
		sc.cols = append(sc.cols, plan.Column{Name: name, T: t})
		sc.hidden[li], sc.hidden[nl+ri] = true, true
		sc.hidden = append(sc.hidden, false)
		lused, rused = append(lused, li), append(rused, ri)
	}
	for _, i := range lstar {
		if !slices.Contains(lused, i) {
			star = append(star, i)
		}
	}
	for _, i := range rstar {
		if !slices.Contains(rused, i) {
			star = append(star, i+nl)
		}
	}
	sc.star = star
	return proj, sc, nil
}

// and rebuilds a conjunction; nil for none.
func and(es []plan.Expr) plan.Expr {
	var out plan.Expr
	for _, e := range es {
		if out == nil {
			out = e
		} else {
			out = &plan.And{L: out, R: e}
		}
	}
	return out
}

// colSides reports whether e reads columns below nl (left) and at or
// above it (right).
func colSides(e plan.Expr, nl int) (left, right bool) {
	plan.Walk(e, func(x plan.Expr) bool {
		if c, ok := x.(*plan.ColRef); ok {
			if c.Idx < nl {
				left = true
			} else {
				right = true
			}
		}
		return true
	})
	return left, right
}

// equiKeys splits join conjuncts over the concatenated columns (left
// first, nl of them) into hash keys — equalities of a left-only and a
// right-only expression, the right one shifted onto the right input — and
// the residual condition.
func equiKeys(conj []plan.Expr, nl int) (lk, rk []plan.Expr, rest plan.Expr) {
	var others []plan.Expr
	for _, c := range conj {
		if cmp, ok := c.(*plan.Cmp); ok && cmp.Op == plan.EQ {
			ll, lr := colSides(cmp.L, nl)
			rl, rr := colSides(cmp.R, nl)
			switch {
			case ll && !lr && rr && !rl:
				lk, rk = append(lk, cmp.L), append(rk, shiftCols(cmp.R, -nl))
				continue
			case rl && !rr && lr && !ll:
				lk, rk = append(lk, cmp.R), append(rk, shiftCols(cmp.L, -nl))
				continue
			}
		}
		others = append(others, c)
	}
	return lk, rk, and(others)
}

// shiftCols adds delta to every column index of e.
func shiftCols(e plan.Expr, delta int) plan.Expr {
	out, _ := plan.Map(e, func(x plan.Expr) (plan.Expr, error) {
		if c, ok := x.(*plan.ColRef); ok {
			return &plan.ColRef{Idx: c.Idx + delta, Name: c.Name, T: c.T}, nil
		}
		return nil, nil
	})
	return out
}
