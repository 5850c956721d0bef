package bind

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// Tables without a primary key. CREATE TABLE without PRIMARY KEY appends
// the hidden row id column (catalog.RowIDColumn) and keys rows by it; the
// INSERT path fills it (exec.NewRowID). ALTER TABLE ... ADD PRIMARY KEY
// drops that column and rewrites the table, keyed by the new key, under a
// fresh table id in the same transaction (exec.moveTable), so afterwards
// the table is exactly one created with that primary key: point lookups
// on it are one read of the row (an IndexScan on the primary key), not an
// index probe followed by a fetch.

// addRowID makes t a table keyed by its hidden row id.
func addRowID(t *catalog.Table) {
	t.Columns = append(t.Columns, catalog.NewRowIDColumn())
	t.PrimaryKey = []int{len(t.Columns) - 1}
}

// addPrimaryKey binds ALTER TABLE ... ADD PRIMARY KEY (cols) into at,
// whose New descriptor and row expressions exprs (over the old row) it
// edits: the row id column goes, the key columns become NOT NULL and the
// table is moved to a fresh id (at.NewID).
func (b *Binder) addPrimaryKey(at *plan.AlterTable, exprs *[]plan.Expr, c *pg_query.Constraint) error {
	nt := at.New
	rid := nt.RowID()
	if rid < 0 {
		return b.errAt(sqlerr.New(sqlerr.CodeInvalidTableDefinition, "multiple primary keys for table %q are not allowed", nt.Name), c.Location)
	}
	switch {
	case c.Indexname != "":
		return b.errAt(sqlerr.NotSupported("ADD PRIMARY KEY USING INDEX"), c.Location)
	case len(c.Including) > 0:
		return b.errAt(sqlerr.NotSupported("ADD PRIMARY KEY ... INCLUDE"), c.Location)
	}
	names := keyNames(c.Keys)
	var pk []int
	for _, name := range names {
		i := nt.ColumnIndex(name)
		if i < 0 {
			return b.errAt(sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q of relation %q does not exist", name, nt.Name), c.Location)
		}
		if slices.Contains(pk, i) {
			return b.errAt(sqlerr.New(sqlerr.CodeDuplicateColumn, "column %q appears twice in primary key constraint", name), c.Location)
		}
		pk = append(pk, i)
	}
	shift := func(ords []int) {
		for i, o := range ords {
			if o > rid {
				ords[i] = o - 1
			}
		}
	}
	for _, i := range pk {
		nt.Columns[i].NotNull = true
	}
	shift(pk)
	for i := range nt.Indexes {
		shift(nt.Indexes[i].Columns)
	}
	for i := range nt.ForeignKeys {
		shift(nt.ForeignKeys[i].Columns)
	}
	nt.Columns = slices.Delete(nt.Columns, rid, rid+1)
	*exprs = slices.Delete(*exprs, rid, rid+1)
	nt.PrimaryKey = pk
	at.Rewrite, at.NewID = true, true
	return nil
}
