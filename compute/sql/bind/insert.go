package bind

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

func (b *Binder) bindInsert(s *pg_query.InsertStmt) (plan.Statement, error) {
	switch {
	case s.WithClause != nil:
		return nil, sqlerr.NotSupported("WITH")
	case s.Override == pg_query.OverridingKind_OVERRIDING_USER_VALUE:
		return nil, sqlerr.NotSupported("OVERRIDING USER VALUE")
	}
	t, err := b.table(s.Relation)
	if err != nil {
		return nil, err
	}
	defs, err := b.defaults(t)
	if err != nil {
		return nil, err
	}
	sel := s.SelectStmt.GetSelectStmt()
	if s.SelectStmt == nil {
		// DEFAULT VALUES: one row of defaults.
		sel = &pg_query.SelectStmt{ValuesLists: []*pg_query.Node{{Node: &pg_query.Node_List{List: &pg_query.List{}}}}}
	}
	if sel == nil {
		return nil, sqlerr.NotSupported("this INSERT source")
	}
	// target[i] is the table column the i-th value goes to.
	var target []int
	if len(s.Cols) == 0 {
		target = t.VisibleColumns()
	} else {
		seen := map[int]bool{}
		for _, n := range s.Cols {
			rt := n.GetResTarget()
			if len(rt.Indirection) > 0 {
				return nil, b.errAt(sqlerr.NotSupported("INSERT into subfields"), rt.Location)
			}
			i := t.ColumnIndex(rt.Name)
			if i < 0 {
				return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q of relation %q does not exist", rt.Name, t.Name), rt.Location)
			}
			if seen[i] {
				return nil, b.errAt(sqlerr.New(sqlerr.CodeDuplicateColumn, "column %q specified more than once", rt.Name), rt.Location)
			}
			seen[i] = true
			target = append(target, i)
		}
	}
	overriding := s.Override == pg_query.OverridingKind_OVERRIDING_SYSTEM_VALUE
	var source plan.Node
	if len(sel.ValuesLists) == 0 {
		if source, err = b.insertSelect(t, sel, target, defs); err != nil {
			return nil, err
		}
	}
	src := &plan.Values{Cols: (&plan.Scan{Table: t}).Columns()}
	width := -1
	ec := &exprCtx{noAggClause: "VALUES"}
	for _, row := range sel.ValuesLists {
		items := row.GetList().GetItems()
		if width >= 0 && len(items) != width {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeSyntaxError, "VALUES lists must all be the same length"), exprLocation(items[0]))
		}
		width = len(items)
		if len(items) > len(target) {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeSyntaxError, "INSERT has more expressions than target columns"), exprLocation(items[len(target)]))
		}
		if len(s.Cols) > 0 && len(items) < len(target) {
			return nil, sqlerr.New(sqlerr.CodeSyntaxError, "INSERT has more target columns than expressions")
		}
		out := make([]plan.Expr, len(t.Columns))
		copy(out, defs)
		for j, item := range items {
			col := t.Columns[target[j]]
			if _, isDefault := item.Node.(*pg_query.Node_SetToDefault); isDefault {
				continue
			}
			if col.Identity == "a" && !overriding {
				return nil, generatedAlways(col)
			}
			e, err := b.expr(item, ec)
			if err != nil {
				return nil, err
			}
			if e, err = b.assign(e, col.Name, col.Type, exprLocation(item)); err != nil {
				return nil, err
			}
			if e, err = withMod(e, col.Type, col.Mod, false); err != nil {
				return nil, b.errAt(sqlerr.As(err), exprLocation(item))
			}
			out[target[j]] = e
		}
		src.Rows = append(src.Rows, out)
	}
	if source == nil {
		source = src
	}
	ins := &plan.Insert{Table: t, Source: source}
	sc := &scope{table: t.Name, cols: src.Cols}
	if rv := s.Relation; rv.Alias != nil {
		sc.alias = rv.Alias.Aliasname
	}
	if ins.Cons, err = b.constraints(t, true, s.OnConflictClause != nil); err != nil {
		return nil, err
	}
	if s.OnConflictClause != nil {
		if ins.OnConflict, err = b.onConflict(t, s.OnConflictClause, sc.alias); err != nil {
			return nil, err
		}
	}
	if ins.Returning, err = b.returning(s.ReturningList, sc); err != nil {
		return nil, err
	}
	return ins, nil
}

// assign converts e for storing into a column of type t with PostgreSQL's
// assignment-cast rules: numeric to numeric (range-checked at execution),
// anything to text; other mismatches answer 42804.
func (b *Binder) assign(e plan.Expr, col string, t types.T, loc int32) (plan.Expr, error) {
	e, err := b.coerce(e, t)
	if err != nil {
		return nil, err
	}
	switch et := e.Type(); {
	case et == t:
		return e, nil
	case et.IsNumeric() && t.IsNumeric(), t == types.Text, assignable(et, t):
		out, err := castTo(e, t)
		if err != nil {
			return nil, b.errAt(sqlerr.As(err), loc)
		}
		return out, nil
	default:
		return nil, b.errAt(sqlerr.New(sqlerr.CodeDatatypeMismatch, "column %q is of type %s but expression is of type %s",
			col, t.SQLName(), et.SQLName()).WithHint("You will need to rewrite or cast the expression."), loc)
	}
}
