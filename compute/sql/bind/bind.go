// Package bind is the second stage of the query path: it resolves a parse
// tree against the catalog (tables, columns), types every expression,
// resolves untyped literals and parameters from their context, and produces
// a plan.Statement. Every semantic error is reported here, with the
// PostgreSQL SQLSTATE and the position of the offending token; constructs
// outside the supported slice answer 0A000 naming the feature.
package bind

import (
	"context"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/parse"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Catalog is what the binder needs from the catalog: the descriptor of a
// table by name at the statement's snapshot, nil when there is none.
type Catalog interface {
	Table(ctx context.Context, name string) (*catalog.Table, error)
}

// Binder binds the statements of one query string.
type Binder struct {
	ctx    context.Context
	cat    Catalog
	query  string
	params []any
	seqs   SequenceRuntime

	// Relational state (from.go, subquery.go, setop.go).
	sub        *subCtx   // the subquery being bound, nil at top level
	ctes       []*cteDef // visible CTEs, innermost last
	viewDepth  int
	nextWorkID int

	sys      *sysInfo                    // the system relations' view of the catalog (systables.go)
	srfCols  map[*pg_query.FuncCall]bool // set-returning calls bound as the query's input (srf.go)
	settings func() [][3]string          // the session's settings for pg_settings (systables.go)
	est      *plan.Estimator             // cardinality estimates for planning (joinorder.go)
}

// New returns a Binder for statements of query (used for error positions)
// with the given parameter values ($1 is params[0]).
func New(ctx context.Context, cat Catalog, query string, params []any) *Binder {
	return &Binder{ctx: ctx, cat: cat, query: query, params: params}
}

// Bind binds one parsed statement.
func (b *Binder) Bind(stmt *pg_query.Node) (plan.Statement, error) {
	switch n := stmt.Node.(type) {
	case *pg_query.Node_SelectStmt:
		root, err := b.bindQuery(n.SelectStmt)
		if err != nil {
			return nil, err
		}
		return &plan.Query{Root: b.optimize(root)}, nil
	case *pg_query.Node_InsertStmt:
		return b.bindInsert(n.InsertStmt)
	case *pg_query.Node_CreateStmt:
		return b.bindCreate(n.CreateStmt)
	case *pg_query.Node_DropStmt:
		return b.bindDrop(n.DropStmt)
	case *pg_query.Node_UpdateStmt:
		return b.bindUpdate(n.UpdateStmt)
	case *pg_query.Node_DeleteStmt:
		return b.bindDelete(n.DeleteStmt)
	case *pg_query.Node_ViewStmt:
		return b.bindCreateView(n.ViewStmt)
	case nil:
		return nil, sqlerr.New(sqlerr.CodeSyntaxError, "empty statement")
	default:
		if st, ok, err := b.bindMore(stmt); ok {
			return st, err
		}
		name := strings.TrimPrefix(fmt.Sprintf("%T", n), "*pg_query.Node_")
		return nil, sqlerr.NotSupported("statement " + name)
	}
}

// errAt attaches the position of a parse-tree location to err.
func (b *Binder) errAt(err *sqlerr.Error, location int32) *sqlerr.Error {
	if err.Position == 0 {
		err.Position = parse.Position(b.query, location)
	}
	return err
}

// table resolves a RangeVar to a descriptor; 42P01 when missing.
func (b *Binder) table(rv *pg_query.RangeVar) (*catalog.Table, error) {
	if err := b.checkSchema(rv); err != nil {
		return nil, err
	}
	if rv.Schemaname == "" && findSysRel("", rv.Relname) != nil {
		return nil, b.errAt(sqlerr.New(codeInsufficient, "permission denied for table %s", rv.Relname), rv.Location)
	}
	t, err := b.cat.Table(b.ctx, rv.Relname)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedTable, "relation %q does not exist", rv.Relname), rv.Location)
	}
	if t.ViewQuery != "" {
		return nil, b.errAt(sqlerr.NotSupported("writing to views"), rv.Location)
	}
	return t, nil
}

func (b *Binder) checkSchema(rv *pg_query.RangeVar) error {
	if rv.Catalogname != "" {
		return b.errAt(sqlerr.NotSupported("cross-database references"), rv.Location)
	}
	if isSystemSchema(rv.Schemaname) {
		return b.errAt(sqlerr.New(codeInsufficient, "permission denied for schema %s", rv.Schemaname).
			WithHint("The pg_catalog and information_schema relations are read-only."), rv.Location)
	}
	if rv.Schemaname != "" && rv.Schemaname != "public" {
		return b.errAt(sqlerr.New(sqlerr.CodeUndefinedSchema, "schema %q does not exist", rv.Schemaname), rv.Location)
	}
	return nil
}

// typeFromName resolves a TypeName to a supported type.
func (b *Binder) typeFromName(tn *pg_query.TypeName) (types.T, error) {
	t, _, err := b.typeAndMod(tn)
	return t, err
}

func (b *Binder) bindCreate(s *pg_query.CreateStmt) (plan.Statement, error) {
	rv := s.Relation
	if err := b.checkSchema(rv); err != nil {
		return nil, err
	}
	switch {
	case rv.Relpersistence == "t":
		return nil, b.errAt(sqlerr.NotSupported("temporary tables"), rv.Location)
	case len(s.InhRelations) > 0:
		return nil, b.errAt(sqlerr.NotSupported("table inheritance"), rv.Location)
	case s.Partspec != nil || s.Partbound != nil:
		return nil, b.errAt(sqlerr.NotSupported("partitioned tables"), rv.Location)
	case s.OfTypename != nil:
		return nil, b.errAt(sqlerr.NotSupported("typed tables"), rv.Location)
	}
	existing, err := b.cat.Table(b.ctx, rv.Relname)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if s.IfNotExists {
			return &plan.CreateTable{Table: *existing, IfNotExists: true, Exists: true}, nil
		}
		return nil, b.errAt(sqlerr.New(sqlerr.CodeDuplicateTable, "relation %q already exists", rv.Relname), rv.Location)
	}
	t := catalog.Table{Name: rv.Relname, Version: 1}
	cx := &createCtx{}
	var pk []string
	pkLoc := int32(-1)
	setPK := func(cols []string, loc int32) error {
		if pk != nil {
			return b.errAt(sqlerr.New(sqlerr.CodeInvalidTableDefinition, "multiple primary keys for table %q are not allowed", rv.Relname), loc)
		}
		pk, pkLoc = cols, loc
		return nil
	}
	for _, elt := range s.TableElts {
		switch e := elt.Node.(type) {
		case *pg_query.Node_ColumnDef:
			cd := e.ColumnDef
			if t.ColumnIndex(cd.Colname) >= 0 {
				return nil, b.errAt(sqlerr.New(sqlerr.CodeDuplicateColumn, "column %q specified more than once", cd.Colname), cd.Location)
			}
			typ, serial, err := b.columnType(cd.TypeName)
			if err != nil {
				return nil, err
			}
			var mod types.Mod
			if !serial {
				if _, mod, err = b.typeAndMod(cd.TypeName); err != nil {
					return nil, err
				}
			}
			col := catalog.Column{Name: cd.Colname, Type: typ, NotNull: cd.IsNotNull, Mod: mod}
			if serial {
				cx.serial(&col, rv.Relname)
			}
			for _, cn := range cd.Constraints {
				c := cn.GetConstraint()
				switch c.GetContype() {
				case pg_query.ConstrType_CONSTR_NOTNULL:
					col.NotNull = true
				case pg_query.ConstrType_CONSTR_NULL:
				case pg_query.ConstrType_CONSTR_PRIMARY:
					if err := setPK([]string{cd.Colname}, c.Location); err != nil {
						return nil, err
					}
				default:
					if err := b.columnConstraint(cx, &col, c, rv.Relname); err != nil {
						return nil, err
					}
				}
			}
			t.Columns = append(t.Columns, col)
		case *pg_query.Node_Constraint:
			c := e.Constraint
			if c.Contype != pg_query.ConstrType_CONSTR_PRIMARY {
				if err := b.tableConstraint(cx, c); err != nil {
					return nil, err
				}
				continue
			}
			var cols []string
			for _, k := range c.Keys {
				cols = append(cols, k.GetString_().GetSval())
			}
			if err := setPK(cols, c.Location); err != nil {
				return nil, err
			}
		default:
			return nil, sqlerr.NotSupported("CREATE TABLE ... LIKE")
		}
	}
	if pk == nil {
		// No PRIMARY KEY: rows are keyed by a hidden row id (ddl_nopk.go).
		addRowID(&t)
	}
	for _, name := range pk {
		i := t.ColumnIndex(name)
		if i < 0 {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q named in key does not exist", name), pkLoc)
		}
		for _, j := range t.PrimaryKey {
			if j == i {
				return nil, b.errAt(sqlerr.New(sqlerr.CodeDuplicateColumn, "column %q appears twice in primary key constraint", name), pkLoc)
			}
		}
		t.PrimaryKey = append(t.PrimaryKey, i)
		t.Columns[i].NotNull = true
	}
	return b.finishCreate(&t, cx, s.IfNotExists)
}

func constraintName(t pg_query.ConstrType) string {
	return strings.TrimPrefix(t.String(), "CONSTR_")
}

func (b *Binder) bindDrop(s *pg_query.DropStmt) (plan.Statement, error) {
	switch s.RemoveType {
	case pg_query.ObjectType_OBJECT_INDEX:
		return b.bindDropIndex(s)
	case pg_query.ObjectType_OBJECT_SEQUENCE:
		return b.bindDropSequence(s)
	case pg_query.ObjectType_OBJECT_VIEW:
		return b.bindDropView(s)
	}
	if s.RemoveType != pg_query.ObjectType_OBJECT_TABLE {
		return nil, sqlerr.NotSupported("DROP " + strings.TrimPrefix(s.RemoveType.String(), "OBJECT_"))
	}
	out := &plan.DropTable{}
	seen := map[string]bool{}
	for _, obj := range s.Objects {
		var parts []string
		for _, item := range obj.GetList().GetItems() {
			parts = append(parts, item.GetString_().GetSval())
		}
		if len(parts) == 0 {
			return nil, sqlerr.New(sqlerr.CodeSyntaxError, "DROP TABLE needs a table name")
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
			return nil, sqlerr.New(sqlerr.CodeUndefinedTable, "table %q does not exist", rv.Relname)
		}
		if t.ViewQuery != "" {
			return nil, sqlerr.New(codeWrongObjectType, "%q is not a table", t.Name).WithHint("Use DROP VIEW to remove a view.")
		}
		out.Tables = append(out.Tables, t)
	}
	if err := b.dropExtras(out, s.Behavior == pg_query.DropBehavior_DROP_CASCADE); err != nil {
		return nil, err
	}
	return out, nil
}
