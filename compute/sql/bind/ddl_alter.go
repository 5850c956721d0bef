package bind

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// cloneTable deep-copies the slices of a descriptor that ALTER edits.
func cloneTable(t *catalog.Table) *catalog.Table {
	c := *t
	c.Columns = slices.Clone(t.Columns)
	c.PrimaryKey = slices.Clone(t.PrimaryKey)
	c.Indexes = slices.Clone(t.Indexes)
	for i := range c.Indexes {
		c.Indexes[i].Columns = slices.Clone(c.Indexes[i].Columns)
	}
	c.Checks = slices.Clone(t.Checks)
	c.ForeignKeys = slices.Clone(t.ForeignKeys)
	c.OwnedSequences = slices.Clone(t.OwnedSequences)
	return &c
}

func (b *Binder) bindAlterTable(s *pg_query.AlterTableStmt) (plan.Statement, error) {
	if s.Objtype != pg_query.ObjectType_OBJECT_TABLE {
		return nil, sqlerr.NotSupported("ALTER " + s.Objtype.String())
	}
	old, err := b.cat.Table(b.ctx, s.Relation.Relname)
	if err != nil {
		return nil, err
	}
	if old == nil {
		if s.MissingOk {
			return &plan.AlterTable{Tag: "ALTER TABLE"}, nil
		}
		return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedTable, "relation %q does not exist", s.Relation.Relname), s.Relation.Location)
	}
	nt := cloneTable(old)
	nt.Version++
	at := &plan.AlterTable{Old: old, New: nt, Tag: "ALTER TABLE"}
	// exprs computes the new columns from a row of the old table.
	var exprs []plan.Expr
	for i, c := range old.Columns {
		exprs = append(exprs, &plan.ColRef{Idx: i, Name: c.Name, T: c.Type})
	}
	cx := &createCtx{}
	for _, n := range s.Cmds {
		cmd := n.GetAlterTableCmd()
		switch cmd.Subtype {
		case pg_query.AlterTableType_AT_AddColumn:
			cd := cmd.Def.GetColumnDef()
			if nt.ColumnIndex(cd.Colname) >= 0 {
				if cmd.MissingOk {
					continue
				}
				return nil, sqlerr.New(sqlerr.CodeDuplicateColumn, "column %q of relation %q already exists", cd.Colname, nt.Name)
			}
			typ, serial, err := b.columnType(cd.TypeName)
			if err != nil {
				return nil, err
			}
			col := catalog.Column{Name: cd.Colname, Type: typ, NotNull: cd.IsNotNull}
			if serial {
				return nil, sqlerr.NotSupported("ALTER TABLE ADD COLUMN of a serial column")
			}
			for _, cn := range cd.Constraints {
				c := cn.GetConstraint()
				switch c.Contype {
				case pg_query.ConstrType_CONSTR_NOTNULL:
					col.NotNull = true
				case pg_query.ConstrType_CONSTR_NULL:
				case pg_query.ConstrType_CONSTR_PRIMARY, pg_query.ConstrType_CONSTR_IDENTITY, pg_query.ConstrType_CONSTR_FOREIGN, pg_query.ConstrType_CONSTR_UNIQUE:
					return nil, b.errAt(sqlerr.NotSupported("ADD COLUMN with constraint "+constraintName(c.Contype)), c.Location)
				default:
					if err := b.columnConstraint(cx, &col, c, nt.Name); err != nil {
						return nil, err
					}
				}
			}
			var def plan.Expr = &plan.Const{T: typ}
			if col.Default != "" {
				if def, err = b.bindStoredExpr(col.Default, nil, "DEFAULT expressions"); err != nil {
					return nil, err
				}
				if def, err = b.assign(def, col.Name, col.Type, -1); err != nil {
					return nil, err
				}
				at.Rewrite = true
			}
			if col.NotNull {
				at.Rewrite = true // verify existing rows (23502 when the table has rows)
			}
			nt.Columns = append(nt.Columns, col)
			exprs = append(exprs, def)
		case pg_query.AlterTableType_AT_DropColumn:
			ci := nt.ColumnIndex(cmd.Name)
			if ci < 0 {
				if cmd.MissingOk {
					continue
				}
				return nil, sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q of relation %q does not exist", cmd.Name, nt.Name)
			}
			if slices.Contains(nt.PrimaryKey, ci) {
				return nil, sqlerr.New(sqlerr.CodeDependentObjectsStillExist, "cannot drop column %s of table %s because other objects depend on it", cmd.Name, nt.Name).
					WithHint("the column is part of the primary key")
			}
			if len(nt.ReferencedBy) > 0 {
				return nil, sqlerr.NotSupported("DROP COLUMN of a table referenced by foreign keys")
			}
			for _, fk := range nt.ForeignKeys {
				if slices.Contains(fk.Columns, ci) {
					return nil, sqlerr.NotSupported("DROP COLUMN of a foreign-key column")
				}
			}
			if len(nt.Columns) == 1 {
				return nil, sqlerr.NotSupported("dropping the last column")
			}
			shift := func(ords []int) []int {
				for i, o := range ords {
					if o > ci {
						ords[i] = o - 1
					}
				}
				return ords
			}
			nt.Indexes = slices.DeleteFunc(nt.Indexes, func(ix catalog.Index) bool {
				if slices.Contains(ix.Columns, ci) {
					at.DroppedIndexes = append(at.DroppedIndexes, ix.Name)
					return true
				}
				return false
			})
			for i := range nt.Indexes {
				shift(nt.Indexes[i].Columns)
			}
			shift(nt.PrimaryKey)
			for i := range nt.ForeignKeys {
				shift(nt.ForeignKeys[i].Columns)
			}
			nt.Checks = slices.DeleteFunc(nt.Checks, func(c catalog.Check) bool {
				n, err := parseStoredExpr(c.Expr)
				return err == nil && slices.Contains(referencedColumns(n), cmd.Name)
			})
			nt.Columns = slices.Delete(nt.Columns, ci, ci+1)
			exprs = slices.Delete(exprs, ci, ci+1)
			at.Rewrite = true
		case pg_query.AlterTableType_AT_ColumnDefault:
			ci := nt.ColumnIndex(cmd.Name)
			if ci < 0 {
				return nil, sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q of relation %q does not exist", cmd.Name, nt.Name)
			}
			col := &nt.Columns[ci]
			col.Default = ""
			if cmd.Def != nil {
				if err := b.columnConstraint(cx, col, &pg_query.Constraint{Contype: pg_query.ConstrType_CONSTR_DEFAULT, RawExpr: cmd.Def, Location: -1}, nt.Name); err != nil {
					return nil, err
				}
			}
		case pg_query.AlterTableType_AT_DropNotNull:
			ci := nt.ColumnIndex(cmd.Name)
			if ci < 0 {
				return nil, sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q of relation %q does not exist", cmd.Name, nt.Name)
			}
			if slices.Contains(nt.PrimaryKey, ci) {
				return nil, sqlerr.New(sqlerr.CodeInvalidTableDefinition, "column %q is in a primary key", cmd.Name)
			}
			nt.Columns[ci].NotNull = false
		case pg_query.AlterTableType_AT_SetNotNull:
			ci := nt.ColumnIndex(cmd.Name)
			if ci < 0 {
				return nil, sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q of relation %q does not exist", cmd.Name, nt.Name)
			}
			nt.Columns[ci].NotNull = true
			at.Rewrite = true
		case pg_query.AlterTableType_AT_AddConstraint:
			c := cmd.Def.GetConstraint()
			switch c.Contype {
			case pg_query.ConstrType_CONSTR_CHECK:
				cx.checks = append(cx.checks, checkDef{name: c.Conname, raw: c.RawExpr})
				at.Rewrite = true
			case pg_query.ConstrType_CONSTR_PRIMARY:
				if err := b.addPrimaryKey(at, &exprs, c); err != nil {
					return nil, err
				}
			case pg_query.ConstrType_CONSTR_FOREIGN:
				return nil, sqlerr.NotSupported("ALTER TABLE ADD FOREIGN KEY")
			default:
				return nil, sqlerr.NotSupported("ALTER TABLE ADD " + constraintName(c.Contype))
			}
		case pg_query.AlterTableType_AT_DropConstraint:
			n := len(nt.Checks)
			nt.Checks = slices.DeleteFunc(nt.Checks, func(c catalog.Check) bool { return c.Name == cmd.Name })
			if len(nt.Checks) == n {
				if cmd.MissingOk {
					continue
				}
				if ix := nt.IndexByName(cmd.Name); ix != nil && ix.Constraint {
					at.DroppedIndexes = append(at.DroppedIndexes, cmd.Name)
					nt.Indexes = slices.DeleteFunc(nt.Indexes, func(x catalog.Index) bool { return x.Name == cmd.Name })
					continue
				}
				return nil, sqlerr.New(sqlerr.CodeUndefinedObject, "constraint %q of relation %q does not exist", cmd.Name, nt.Name)
			}
		default:
			return nil, sqlerr.NotSupported("ALTER TABLE " + trimAT(cmd.Subtype.String()))
		}
	}
	if len(cx.checks) > 0 {
		if err := b.addConstraints(nt, cx, func(string) bool { return false }, map[string]bool{}, nil); err != nil {
			return nil, err
		}
	}
	if at.Rewrite {
		cols := (&plan.Scan{Table: nt}).Columns()
		at.Source = &plan.Project{Input: &plan.Scan{Table: old}, Exprs: exprs, Cols: cols}
		cons, err := b.constraints(nt, false, false)
		if err != nil {
			return nil, err
		}
		at.Cons = plan.Constraints{Checks: cons.Checks}
	}
	return at, nil
}

func trimAT(s string) string {
	if len(s) > 3 && s[:3] == "AT_" {
		return s[3:]
	}
	return s
}

func (b *Binder) bindRename(s *pg_query.RenameStmt) (plan.Statement, error) {
	switch s.RenameType {
	case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_COLUMN:
	default:
		return nil, sqlerr.NotSupported("ALTER ... RENAME of " + s.RenameType.String())
	}
	old, err := b.cat.Table(b.ctx, s.Relation.Relname)
	if err != nil {
		return nil, err
	}
	if old == nil {
		if s.MissingOk {
			return &plan.AlterTable{Tag: "ALTER TABLE"}, nil
		}
		return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedTable, "relation %q does not exist", s.Relation.Relname), s.Relation.Location)
	}
	nt := cloneTable(old)
	nt.Version++
	at := &plan.AlterTable{Old: old, New: nt, Tag: "ALTER TABLE"}
	if s.RenameType == pg_query.ObjectType_OBJECT_TABLE {
		if ok, err := b.relationExists(s.Newname); err != nil {
			return nil, err
		} else if ok {
			return nil, sqlerr.New(sqlerr.CodeDuplicateTable, "relation %q already exists", s.Newname)
		}
		if len(old.ReferencedBy) > 0 || len(old.ForeignKeys) > 0 {
			return nil, sqlerr.NotSupported("renaming a table with foreign keys")
		}
		nt.Name = s.Newname
		return at, nil
	}
	ci := nt.ColumnIndex(s.Subname)
	if ci < 0 {
		return nil, sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q does not exist", s.Subname)
	}
	if nt.ColumnIndex(s.Newname) >= 0 {
		return nil, sqlerr.New(sqlerr.CodeDuplicateColumn, "column %q of relation %q already exists", s.Newname, nt.Name)
	}
	nt.Columns[ci].Name = s.Newname
	// Stored CHECK expressions name columns: rewrite them.
	for i, c := range nt.Checks {
		n, err := parseStoredExpr(c.Expr)
		if err != nil {
			return nil, err
		}
		walkColumnRefs(n, func(cr *pg_query.ColumnRef) {
			f := cr.Fields[len(cr.Fields)-1].GetString_()
			if f != nil && f.Sval == s.Subname {
				f.Sval = s.Newname
			}
		})
		if nt.Checks[i].Expr, err = deparseExpr(n); err != nil {
			return nil, err
		}
	}
	return at, nil
}
