package bind

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// dmlFrom is the second table of UPDATE ... FROM / DELETE ... USING.
type dmlFrom struct {
	other  *catalog.Table
	name   string // alias or table name
	wide   *scope // target columns, then the other table's (hidden names)
	target *catalog.Table
}

// hidden is the scope name of column c of the other table: column
// references to it are rewritten to this name before binding.
func (f *dmlFrom) hidden(c string) string { return "\x00" + f.name + "." + c }

// newDMLFrom resolves the FROM/USING list (one table) of a write on t.
func (b *Binder) newDMLFrom(t *catalog.Table, sc *scope, items []*pg_query.Node, what string) (*dmlFrom, error) {
	if len(items) != 1 || items[0].GetRangeVar() == nil {
		return nil, sqlerr.NotSupported(what + " with more than one table or a non-table item")
	}
	rv := items[0].GetRangeVar()
	o, err := b.table(rv)
	if err != nil {
		return nil, err
	}
	f := &dmlFrom{other: o, name: o.Name, target: t}
	if rv.Alias != nil {
		if len(rv.Alias.Colnames) > 0 {
			return nil, sqlerr.NotSupported("column aliases in " + what)
		}
		f.name = rv.Alias.Aliasname
	}
	if f.name == sc.table && sc.alias == "" || f.name == sc.alias {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeDuplicateAlias, "table name %q specified more than once", f.name), rv.Location)
	}
	cols := append([]plan.Column(nil), sc.cols...)
	for _, c := range (&plan.Scan{Table: o}).Columns() {
		cols = append(cols, plan.Column{Name: f.hidden(c.Name), T: c.T})
	}
	f.wide = &scope{table: sc.table, alias: sc.alias, cols: cols}
	return f, nil
}

// rename rewrites column references to the other table into hidden names;
// an unqualified name in both tables answers 42702.
func (f *dmlFrom) rename(n *pg_query.Node) error {
	var err error
	walkColumnRefs(n, func(cr *pg_query.ColumnRef) {
		var name string
		switch len(cr.Fields) {
		case 1:
			name = cr.Fields[0].GetString_().GetSval()
			if f.other.ColumnIndex(name) < 0 {
				return
			}
			if f.target.ColumnIndex(name) >= 0 {
				if err == nil {
					err = sqlerr.New(sqlerr.CodeAmbiguousColumn, "column reference %q is ambiguous", name)
				}
				return
			}
		case 2:
			if cr.Fields[0].GetString_().GetSval() != f.name {
				return
			}
			name = cr.Fields[1].GetString_().GetSval()
			if _, star := cr.Fields[1].Node.(*pg_query.Node_AStar); star || f.other.ColumnIndex(name) < 0 {
				return
			}
		default:
			return
		}
		cr.Fields = []*pg_query.Node{{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: f.hidden(name)}}}}
	})
	return err
}

// input binds the WHERE clause over both tables and returns the join.
func (b *Binder) dmlFromInput(f *dmlFrom, where *pg_query.Node) (plan.Node, error) {
	var pred plan.Expr = &plan.Const{Value: true, T: types.Bool}
	if where != nil {
		if err := f.rename(where); err != nil {
			return nil, err
		}
		p, err := b.boolArg(where, &exprCtx{sc: f.wide, noAggClause: "WHERE"}, "WHERE")
		if err != nil {
			return nil, err
		}
		pred = p
	}
	return &plan.DMLJoin{Left: &plan.Scan{Table: f.target}, Right: &plan.Scan{Table: f.other}, Pred: pred}, nil
}
