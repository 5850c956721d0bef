package bind

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// constraints binds what a write to t must check: CHECK expressions and
// foreign keys for new rows (newRows), referencing children for removed or
// changed rows (oldRows).
func (b *Binder) constraints(t *catalog.Table, newRows, oldRows bool) (plan.Constraints, error) {
	var c plan.Constraints
	if newRows {
		sc := &scope{table: t.Name, cols: (&plan.Scan{Table: t}).Columns()}
		for _, ch := range t.Checks {
			e, err := b.bindStoredExpr(ch.Expr, sc, "check constraints")
			if err != nil {
				return c, err
			}
			c.Checks = append(c.Checks, plan.CheckExpr{Name: ch.Name, Expr: e})
		}
		for _, fk := range t.ForeignKeys {
			p := t
			if fk.RefTable != t.Name {
				var err error
				if p, err = b.cat.Table(b.ctx, fk.RefTable); err != nil {
					return c, err
				}
				if p == nil {
					continue
				}
			}
			c.FKs = append(c.FKs, plan.FKCheck{FK: fk, Parent: p})
		}
	}
	if oldRows {
		children := t.ReferencedBy
		for _, fk := range t.ForeignKeys {
			if fk.RefTable == t.Name {
				children = append(children[:len(children):len(children)], t.Name)
				break
			}
		}
		for _, name := range children {
			ch := t
			if name != t.Name {
				var err error
				if ch, err = b.cat.Table(b.ctx, name); err != nil {
					return c, err
				}
				if ch == nil {
					continue
				}
			}
			for _, fk := range ch.ForeignKeys {
				if fk.RefTable == t.Name {
					c.Children = append(c.Children, plan.FKChild{FK: fk, Child: ch})
				}
			}
		}
	}
	return c, nil
}

// defaults binds the DEFAULT expression of every column of t (NULL
// constants for columns without one).
func (b *Binder) defaults(t *catalog.Table) ([]plan.Expr, error) {
	out := make([]plan.Expr, len(t.Columns))
	for i, c := range t.Columns {
		if c.Default == "" {
			out[i] = &plan.Const{T: c.Type}
			continue
		}
		e, err := b.bindStoredExpr(c.Default, nil, "DEFAULT expressions")
		if err != nil {
			return nil, err
		}
		if out[i], err = b.assign(e, c.Name, c.Type, -1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// generatedAlways answers 428C9 for an explicit value into a GENERATED
// ALWAYS identity column.
func generatedAlways(c catalog.Column) error {
	e := sqlerr.New(sqlerr.CodeGeneratedAlways, "cannot insert a non-DEFAULT value into column %q", c.Name)
	e.Detail = "Column \"" + c.Name + "\" is an identity column defined as GENERATED ALWAYS."
	return e.WithHint("Use OVERRIDING SYSTEM VALUE to override.")
}

// insertSelect binds INSERT ... SELECT: the query's columns go to target
// (assignment casts), the other columns get their defaults.
func (b *Binder) insertSelect(t *catalog.Table, sel *pg_query.SelectStmt, target []int, defs []plan.Expr) (plan.Node, error) {
	q, err := b.bindSelect(sel)
	if err != nil {
		return nil, err
	}
	qc := q.Columns()
	if len(qc) > len(target) {
		return nil, sqlerr.New(sqlerr.CodeSyntaxError, "INSERT has more expressions than target columns")
	}
	if len(qc) < len(target) && len(target) < len(t.VisibleColumns()) {
		return nil, sqlerr.New(sqlerr.CodeSyntaxError, "INSERT has more target columns than expressions")
	}
	p := &plan.Project{Input: q, Cols: (&plan.Scan{Table: t}).Columns()}
	p.Exprs = append([]plan.Expr(nil), defs...)
	for j, c := range qc {
		col := t.Columns[target[j]]
		if col.Identity == "a" {
			return nil, generatedAlways(col)
		}
		e, err := b.assign(&plan.ColRef{Idx: j, Name: c.Name, T: c.T}, col.Name, col.Type, -1)
		if err != nil {
			return nil, err
		}
		p.Exprs[target[j]] = e
	}
	return p, nil
}

// onConflict binds ON CONFLICT for INSERT into t.
func (b *Binder) onConflict(t *catalog.Table, oc *pg_query.OnConflictClause, alias string) (*plan.OnConflict, error) {
	out := &plan.OnConflict{DoNothing: oc.Action == pg_query.OnConflictAction_ONCONFLICT_NOTHING}
	if inf := oc.Infer; inf != nil {
		if inf.Conname != "" {
			if inf.Conname == t.Name+"_pkey" {
				out.PK = true
			} else if ix := t.IndexByName(inf.Conname); ix != nil && ix.Unique {
				out.Index = ix
			} else {
				return nil, sqlerr.New(sqlerr.CodeUndefinedObject, "constraint %q for table %q does not exist", inf.Conname, t.Name)
			}
		} else {
			if inf.WhereClause != nil {
				return nil, sqlerr.NotSupported("ON CONFLICT ... WHERE (partial index inference)")
			}
			var cols []int
			for _, n := range inf.IndexElems {
				el := n.GetIndexElem()
				if el == nil || el.Name == "" {
					return nil, sqlerr.NotSupported("ON CONFLICT on expressions")
				}
				i := t.ColumnIndex(el.Name)
				if i < 0 {
					return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q does not exist", el.Name), inf.Location)
				}
				cols = append(cols, i)
			}
			ix, pk := t.UniqueOn(cols)
			if ix == nil && !pk {
				return nil, sqlerr.New(sqlerr.CodeInvalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
			}
			out.PK, out.Index = pk, ix
		}
	} else if out.DoNothing {
		out.Any = true
	} else {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeSyntaxError, "ON CONFLICT DO UPDATE requires inference specification or constraint name").
			WithHint("For example, ON CONFLICT (column_name)."), oc.Location)
	}
	if out.DoNothing {
		return out, nil
	}
	// SET and WHERE see the existing row (as the table or its alias) and
	// EXCLUDED. Qualified excluded.col references are renamed to hidden
	// columns after the table's own.
	cols := (&plan.Scan{Table: t}).Columns()
	both := append([]plan.Column(nil), cols...)
	for _, c := range cols {
		both = append(both, plan.Column{Name: "\x00excluded." + c.Name, T: c.T})
	}
	rename := func(n *pg_query.Node) {
		walkColumnRefs(n, func(cr *pg_query.ColumnRef) {
			if len(cr.Fields) == 2 && cr.Fields[0].GetString_().GetSval() == "excluded" {
				name := cr.Fields[1].GetString_().GetSval()
				if t.ColumnIndex(name) >= 0 {
					cr.Fields = []*pg_query.Node{{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: "\x00excluded." + name}}}}
				}
			}
		})
	}
	sc := &scope{table: t.Name, alias: alias, cols: both}
	ec := &exprCtx{sc: sc, noAggClause: "ON CONFLICT DO UPDATE"}
	seen := map[int]bool{}
	for _, n := range oc.TargetList {
		rt := n.GetResTarget()
		if rt == nil || rt.Val == nil || len(rt.Indirection) > 0 || rt.Val.GetMultiAssignRef() != nil {
			return nil, sqlerr.NotSupported("this ON CONFLICT SET target")
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
		var e plan.Expr
		if _, isDefault := rt.Val.Node.(*pg_query.Node_SetToDefault); isDefault {
			defs, err := b.defaults(t)
			if err != nil {
				return nil, err
			}
			e = defs[ci]
		} else {
			rename(rt.Val)
			var err error
			if e, err = b.expr(rt.Val, ec); err != nil {
				return nil, err
			}
			if e, err = b.assign(e, col.Name, col.Type, exprLocation(rt.Val)); err != nil {
				return nil, err
			}
		}
		out.Set = append(out.Set, plan.SetItem{Col: ci, Expr: e})
	}
	if oc.WhereClause != nil {
		rename(oc.WhereClause)
		w, err := b.boolArg(oc.WhereClause, ec, "WHERE")
		if err != nil {
			return nil, err
		}
		out.Where = w
	}
	return out, nil
}
