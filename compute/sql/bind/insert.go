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
	case s.OnConflictClause != nil:
		return nil, sqlerr.NotSupported("ON CONFLICT")
	case s.SelectStmt == nil:
		return nil, sqlerr.NotSupported("INSERT ... DEFAULT VALUES")
	}
	t, err := b.table(s.Relation)
	if err != nil {
		return nil, err
	}
	sel := s.SelectStmt.GetSelectStmt()
	if sel == nil || len(sel.ValuesLists) == 0 {
		return nil, sqlerr.NotSupported("INSERT ... SELECT")
	}
	// target[i] is the table column the i-th value goes to.
	var target []int
	if len(s.Cols) == 0 {
		for i := range t.Columns {
			target = append(target, i)
		}
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
		for i, c := range t.Columns {
			out[i] = &plan.Const{T: c.Type}
		}
		for j, item := range items {
			col := t.Columns[target[j]]
			if _, isDefault := item.Node.(*pg_query.Node_SetToDefault); isDefault {
				continue // no column defaults yet: DEFAULT is NULL
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
	ins := &plan.Insert{Table: t, Source: src}
	sc := &scope{table: t.Name, cols: src.Cols}
	if rv := s.Relation; rv.Alias != nil {
		sc.alias = rv.Alias.Aliasname
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
