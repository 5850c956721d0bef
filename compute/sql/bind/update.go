package bind

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// writeTarget binds the table a writing statement targets and returns a scope
// over its columns (honouring an alias).
func (b *Binder) writeTarget(rv *pg_query.RangeVar) (*catalog.Table, *scope, error) {
	t, err := b.table(rv)
	if err != nil {
		return nil, nil, err
	}
	sc := &scope{table: t.Name, cols: (&plan.Scan{Table: t}).Columns()}
	if rv.Alias != nil {
		if len(rv.Alias.Colnames) > 0 {
			return nil, nil, sqlerr.NotSupported("column aliases in UPDATE/DELETE")
		}
		sc.alias = rv.Alias.Aliasname
	}
	return t, sc, nil
}

// filtered returns a Scan of t filtered by the WHERE clause, if any.
func (b *Binder) filtered(t *catalog.Table, sc *scope, where *pg_query.Node) (plan.Node, error) {
	var input plan.Node = &plan.Scan{Table: t}
	if where == nil {
		return input, nil
	}
	if where.GetCurrentOfExpr() != nil {
		return nil, sqlerr.NotSupported("WHERE CURRENT OF")
	}
	pred, err := b.boolArg(where, &exprCtx{sc: sc, noAggClause: "WHERE"}, "WHERE")
	if err != nil {
		return nil, err
	}
	return b.accessPath(&plan.Filter{Input: input, Pred: pred}), nil
}

// returning binds a RETURNING list over table-shaped rows; nil when empty.
func (b *Binder) returning(list []*pg_query.Node, sc *scope) (*plan.Returning, error) {
	if len(list) == 0 {
		return nil, nil
	}
	targets, err := b.targets(list, &exprCtx{sc: sc, noAggClause: "RETURNING"})
	if err != nil {
		return nil, err
	}
	r := &plan.Returning{}
	for _, t := range targets {
		r.Exprs = append(r.Exprs, t.expr)
		r.Cols = append(r.Cols, plan.Column{Name: t.name, T: t.expr.Type()})
	}
	return r, nil
}

func (b *Binder) bindUpdate(s *pg_query.UpdateStmt) (plan.Statement, error) {
	switch {
	case s.WithClause != nil:
		return nil, sqlerr.NotSupported("WITH")
	case !s.Relation.Inh:
		return nil, sqlerr.NotSupported("UPDATE ONLY")
	}
	t, sc, err := b.writeTarget(s.Relation)
	if err != nil {
		return nil, err
	}
	up := &plan.Update{Table: t}
	seen := map[int]bool{}
	ec := &exprCtx{sc: sc, noAggClause: "UPDATE"}
	var from *dmlFrom
	if len(s.FromClause) > 0 {
		if from, err = b.newDMLFrom(t, sc, s.FromClause, "UPDATE ... FROM"); err != nil {
			return nil, err
		}
		ec.sc = from.wide
	}
	for _, n := range s.TargetList {
		rt := n.GetResTarget()
		if rt == nil || rt.Val == nil {
			return nil, sqlerr.NotSupported("UPDATE target " + typeName(n))
		}
		if len(rt.Indirection) > 0 {
			return nil, b.errAt(sqlerr.NotSupported("UPDATE of subfields"), rt.Location)
		}
		if rt.Val.GetMultiAssignRef() != nil {
			return nil, b.errAt(sqlerr.NotSupported("UPDATE SET (...) = (...)"), rt.Location)
		}
		ci := t.ColumnIndex(rt.Name)
		if ci < 0 {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q of relation %q does not exist", rt.Name, t.Name), rt.Location)
		}
		if seen[ci] {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeDuplicateColumn, "multiple assignments to same column %q", rt.Name), rt.Location)
		}
		seen[ci] = true
		col := t.Columns[ci]
		var e plan.Expr = &plan.Const{T: col.Type}
		if _, isDefault := rt.Val.Node.(*pg_query.Node_SetToDefault); isDefault {
			defs, err := b.defaults(t)
			if err != nil {
				return nil, err
			}
			e = defs[ci]
		} else {
			if from != nil {
				if err := from.rename(rt.Val); err != nil {
					return nil, err
				}
			}
			if col.Identity == "a" {
				e := sqlerr.New(sqlerr.CodeGeneratedAlways, "column %q can only be updated to DEFAULT", col.Name)
				e.Detail = "Column \"" + col.Name + "\" is an identity column defined as GENERATED ALWAYS."
				return nil, e
			}
			if e, err = b.expr(rt.Val, ec); err != nil {
				return nil, err
			}
			if e, err = b.assign(e, col.Name, col.Type, exprLocation(rt.Val)); err != nil {
				return nil, err
			}
			if e, err = withMod(e, col.Type, col.Mod, false); err != nil {
				return nil, b.errAt(sqlerr.As(err), exprLocation(rt.Val))
			}
		}
		up.Set = append(up.Set, plan.SetItem{Col: ci, Expr: e})
	}
	if from != nil {
		up.Input, err = b.dmlFromInput(from, s.WhereClause)
	} else {
		up.Input, err = b.filtered(t, sc, s.WhereClause)
	}
	if err != nil {
		return nil, err
	}
	if up.Returning, err = b.returning(s.ReturningList, sc); err != nil {
		return nil, err
	}
	if up.Cons, err = b.constraints(t, true, true); err != nil {
		return nil, err
	}
	return up, nil
}

func (b *Binder) bindDelete(s *pg_query.DeleteStmt) (plan.Statement, error) {
	switch {
	case s.WithClause != nil:
		return nil, sqlerr.NotSupported("WITH")
	case !s.Relation.Inh:
		return nil, sqlerr.NotSupported("DELETE ONLY")
	}
	t, sc, err := b.writeTarget(s.Relation)
	if err != nil {
		return nil, err
	}
	del := &plan.Delete{Table: t}
	if len(s.UsingClause) > 0 {
		from, err := b.newDMLFrom(t, sc, s.UsingClause, "DELETE ... USING")
		if err != nil {
			return nil, err
		}
		del.Input, err = b.dmlFromInput(from, s.WhereClause)
		if err != nil {
			return nil, err
		}
	} else if del.Input, err = b.filtered(t, sc, s.WhereClause); err != nil {
		return nil, err
	}
	if del.Returning, err = b.returning(s.ReturningList, sc); err != nil {
		return nil, err
	}
	if del.Cons, err = b.constraints(t, false, true); err != nil {
		return nil, err
	}
	return del, nil
}
