package bind

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// bindCreateView binds CREATE [OR REPLACE] VIEW: the query is bound now
// (so a bad view is refused at creation) and stored deparsed; every use
// binds it again in place of the view (expandView). Dependencies are not
// tracked: dropping a table a view reads makes the view fail when used.
func (b *Binder) bindCreateView(v *pg_query.ViewStmt) (plan.Statement, error) {
	rv := v.View
	if err := b.checkSchema(rv); err != nil {
		return nil, err
	}
	switch {
	case rv.Relpersistence == "t":
		return nil, b.errAt(sqlerr.NotSupported("temporary views"), rv.Location)
	case v.WithCheckOption != pg_query.ViewCheckOption_NO_CHECK_OPTION:
		return nil, b.errAt(sqlerr.NotSupported("WITH CHECK OPTION"), rv.Location)
	case len(v.Options) > 0:
		return nil, b.errAt(sqlerr.NotSupported("view options"), rv.Location)
	}
	sel := v.Query.GetSelectStmt()
	if sel == nil {
		return nil, sqlerr.NotSupported("this view query")
	}
	savedCTEs := b.ctes
	b.ctes = nil
	node, err := b.derived(sel)
	b.ctes = savedCTEs
	if err != nil {
		return nil, err
	}
	cols := node.Columns()
	if len(v.Aliases) > len(cols) {
		return nil, sqlerr.New(sqlerr.CodeSyntaxError, "CREATE VIEW specifies more column names than columns")
	}
	view := catalog.Table{Name: rv.Relname, Version: 1}
	for i, c := range cols {
		name := c.Name
		if i < len(v.Aliases) {
			name = v.Aliases[i].GetString_().GetSval()
		}
		if view.ColumnIndex(name) >= 0 {
			return nil, sqlerr.New(sqlerr.CodeDuplicateColumn, "column %q specified more than once", name)
		}
		view.Columns = append(view.Columns, catalog.Column{Name: name, Type: c.T})
	}
	// The deparser checks the tree's version: take the parser's own.
	ver, err := pg_query.Parse("SELECT")
	if err != nil {
		return nil, sqlerr.New(sqlerr.CodeInternalError, "parser version: %v", err)
	}
	text, err := pg_query.Deparse(&pg_query.ParseResult{Version: ver.Version, Stmts: []*pg_query.RawStmt{{Stmt: v.Query}}})
	if err != nil {
		return nil, sqlerr.New(sqlerr.CodeInternalError, "deparse view query: %v", err)
	}
	view.ViewQuery = text
	existing, err := b.cat.Table(b.ctx, rv.Relname)
	if err != nil {
		return nil, err
	}
	if existing == nil {
		return &plan.CreateView{View: view}, nil
	}
	if !v.Replace {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeDuplicateTable, "relation %q already exists", rv.Relname), rv.Location)
	}
	if existing.ViewQuery == "" {
		return nil, b.errAt(sqlerr.New(codeWrongObjectType, "%q is not a view", rv.Relname), rv.Location)
	}
	if len(view.Columns) < len(existing.Columns) {
		return nil, sqlerr.New(sqlerr.CodeInvalidTableDefinition, "cannot drop columns from view")
	}
	for i, c := range existing.Columns {
		if view.Columns[i].Name != c.Name {
			return nil, sqlerr.New(sqlerr.CodeInvalidTableDefinition, "cannot change name of view column %q to %q", c.Name, view.Columns[i].Name)
		}
		if view.Columns[i].Type != c.Type {
			return nil, sqlerr.New(sqlerr.CodeInvalidTableDefinition, "cannot change data type of view column %q from %s to %s", c.Name, c.Type.SQLName(), view.Columns[i].Type.SQLName())
		}
	}
	return &plan.CreateView{View: view, Existing: existing}, nil
}

// bindDropView binds DROP VIEW [IF EXISTS].
func (b *Binder) bindDropView(s *pg_query.DropStmt) (plan.Statement, error) {
	out := &plan.DropView{}
	seen := map[string]bool{}
	for _, obj := range s.Objects {
		var parts []string
		for _, item := range obj.GetList().GetItems() {
			parts = append(parts, item.GetString_().GetSval())
		}
		if len(parts) == 0 {
			return nil, sqlerr.New(sqlerr.CodeSyntaxError, "DROP VIEW needs a view name")
		}
		rv := &pg_query.RangeVar{Relname: parts[len(parts)-1], Location: -1}
		if len(parts) == 2 {
			rv.Schemaname = parts[0]
		} else if len(parts) > 2 {
			rv.Catalogname = parts[0]
		}
		if err := b.checkSchema(rv); err != nil {
			return nil, err
		}
		if seen[rv.Relname] {
			continue
		}
		seen[rv.Relname] = true
		t, err := b.cat.Table(b.ctx, rv.Relname)
		if err != nil {
			return nil, err
		}
		if t == nil {
			if s.MissingOk {
				continue
			}
			return nil, sqlerr.New(sqlerr.CodeUndefinedTable, "view %q does not exist", rv.Relname)
		}
		if t.ViewQuery == "" {
			return nil, sqlerr.New(codeWrongObjectType, "%q is not a view", rv.Relname).WithHint("Use DROP TABLE to remove a table.")
		}
		out.Views = append(out.Views, t)
	}
	return out, nil
}
