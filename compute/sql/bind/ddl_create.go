package bind

import (
	"math"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// createCtx collects the constraints of a CREATE TABLE (or ALTER TABLE ADD
// COLUMN) until the columns are known.
type createCtx struct {
	uniques []uniqueDef
	checks  []checkDef
	fks     []*pg_query.Constraint
	fkCols  [][]string
	seqs    []catalog.Sequence
}

type uniqueDef struct {
	name string
	cols []string
	loc  int32
}

type checkDef struct {
	name string
	raw  *pg_query.Node
	col  string // the column of a column constraint, "" for a table one
}

// columnType resolves a column's type; serial reports SERIAL/BIGSERIAL.
func (b *Binder) columnType(tn *pg_query.TypeName) (types.T, bool, error) {
	if len(tn.Names) > 0 && len(tn.ArrayBounds) == 0 {
		switch tn.Names[len(tn.Names)-1].GetString_().GetSval() {
		case "serial", "serial4":
			return types.Int4, true, nil
		case "bigserial", "serial8":
			return types.Int8, true, nil
		case "smallserial", "serial2":
			return 0, false, b.errAt(sqlerr.NotSupported("type smallserial"), tn.Location)
		}
	}
	t, err := b.typeFromName(tn)
	return t, false, err
}

// serial makes col a SERIAL column: NOT NULL, defaulting to the next value
// of its own sequence <table>_<col>_seq.
func (cx *createCtx) serial(col *catalog.Column, table string) {
	name := table + "_" + col.Name + "_seq"
	max := int64(math.MaxInt64)
	if col.Type == types.Int4 {
		max = math.MaxInt32
	}
	cx.seqs = append(cx.seqs, catalog.Sequence{Name: name, Start: 1, Increment: 1, Min: 1, Max: max, OwnedBy: table})
	col.NotNull = true
	col.Default = "nextval('" + name + "')"
}

func keyNames(ns []*pg_query.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.GetString_().GetSval())
	}
	return out
}

// columnConstraint handles a constraint of a column definition other than
// NULL / NOT NULL / PRIMARY KEY.
func (b *Binder) columnConstraint(cx *createCtx, col *catalog.Column, c *pg_query.Constraint, table string) error {
	switch c.Contype {
	case pg_query.ConstrType_CONSTR_DEFAULT:
		e, err := b.expr(c.RawExpr, &exprCtx{noAggClause: "DEFAULT expressions"})
		if err != nil {
			return err
		}
		if plan.HasColRef(e) {
			return b.errAt(sqlerr.New(sqlerr.CodeFeatureNotSupported, "cannot use column reference in DEFAULT expression"), c.Location)
		}
		if _, err := b.assign(e, col.Name, col.Type, exprLocation(c.RawExpr)); err != nil {
			return err
		}
		text, err := deparseExpr(c.RawExpr)
		if err != nil {
			return err
		}
		col.Default = text
	case pg_query.ConstrType_CONSTR_CHECK:
		cx.checks = append(cx.checks, checkDef{name: c.Conname, raw: c.RawExpr, col: col.Name})
	case pg_query.ConstrType_CONSTR_UNIQUE:
		cx.uniques = append(cx.uniques, uniqueDef{name: c.Conname, cols: []string{col.Name}, loc: c.Location})
	case pg_query.ConstrType_CONSTR_FOREIGN:
		cx.fks = append(cx.fks, c)
		cx.fkCols = append(cx.fkCols, []string{col.Name})
	case pg_query.ConstrType_CONSTR_IDENTITY:
		if !col.Type.IsNumeric() || col.Type == types.Float8 {
			return b.errAt(sqlerr.New(sqlerr.CodeInvalidParameterValue, "identity column type must be smallint, integer, or bigint"), c.Location)
		}
		cx.serial(col, table)
		col.Identity = c.GeneratedWhen
	default:
		return b.errAt(sqlerr.NotSupported("column constraint "+constraintName(c.GetContype())), c.GetLocation())
	}
	return nil
}

// tableConstraint handles a table constraint other than PRIMARY KEY.
func (b *Binder) tableConstraint(cx *createCtx, c *pg_query.Constraint) error {
	switch c.Contype {
	case pg_query.ConstrType_CONSTR_UNIQUE:
		cx.uniques = append(cx.uniques, uniqueDef{name: c.Conname, cols: keyNames(c.Keys), loc: c.Location})
	case pg_query.ConstrType_CONSTR_CHECK:
		cx.checks = append(cx.checks, checkDef{name: c.Conname, raw: c.RawExpr})
	case pg_query.ConstrType_CONSTR_FOREIGN:
		cx.fks = append(cx.fks, c)
		cx.fkCols = append(cx.fkCols, keyNames(c.FkAttrs))
	default:
		return b.errAt(sqlerr.NotSupported("table constraint "+constraintName(c.Contype)), c.Location)
	}
	return nil
}

// finishCreate turns the collected constraints into indexes, checks,
// foreign keys and sequences of t.
func (b *Binder) finishCreate(t *catalog.Table, cx *createCtx, ifNotExists bool) (plan.Statement, error) {
	ct := &plan.CreateTable{IfNotExists: ifNotExists}
	taken := map[string]bool{t.Name: true}
	isTaken := func(n string) bool {
		if taken[n] {
			return true
		}
		ok, _ := b.relationExists(n)
		return ok
	}
	if err := b.addConstraints(t, cx, isTaken, taken, &ct.Parents); err != nil {
		return nil, err
	}
	for _, s := range cx.seqs {
		if isTaken(s.Name) {
			return nil, sqlerr.New(sqlerr.CodeDuplicateTable, "relation %q already exists", s.Name)
		}
		taken[s.Name] = true
		ct.Sequences = append(ct.Sequences, s)
		t.OwnedSequences = append(t.OwnedSequences, s.Name)
	}
	ct.Table = *t
	return ct, nil
}

// addConstraints adds cx's unique indexes, checks and foreign keys to t;
// parents collects the referenced tables' updated descriptors.
func (b *Binder) addConstraints(t *catalog.Table, cx *createCtx, isTaken func(string) bool, taken map[string]bool, parents *[]*catalog.Table) error {
	if t.NextIndexID == 0 {
		t.NextIndexID = 1
	}
	for _, u := range cx.uniques {
		cols, err := b.columnOrdinals(t, u.cols, u.loc)
		if err != nil {
			return err
		}
		name := u.name
		if name == "" {
			name = uniqueName(t.Name+"_"+strings.Join(u.cols, "_")+"_key", isTaken)
		} else if isTaken(name) {
			return b.errAt(sqlerr.New(sqlerr.CodeDuplicateTable, "relation %q already exists", name), u.loc)
		}
		taken[name] = true
		t.Indexes = append(t.Indexes, catalog.Index{ID: t.NextIndexID, Name: name, Columns: cols, Unique: true, Constraint: true})
		t.NextIndexID++
	}
	sc := &scope{table: t.Name, cols: (&plan.Scan{Table: t}).Columns()}
	checkTaken := func(n string) bool {
		for _, c := range t.Checks {
			if c.Name == n {
				return true
			}
		}
		return false
	}
	for _, c := range cx.checks {
		if _, err := b.boolArg(c.raw, &exprCtx{sc: sc, noAggClause: "check constraints"}, "CHECK"); err != nil {
			return err
		}
		name := c.name
		if name == "" {
			col := c.col
			if refs := referencedColumns(c.raw); col == "" && len(refs) == 1 {
				col = refs[0]
			}
			base := t.Name + "_check"
			if col != "" {
				base = t.Name + "_" + col + "_check"
			}
			name = uniqueName(base, checkTaken)
		}
		text, err := deparseExpr(c.raw)
		if err != nil {
			return err
		}
		t.Checks = append(t.Checks, catalog.Check{Name: name, Expr: text})
	}
	for i, c := range cx.fks {
		fk, parent, err := b.foreignKey(t, c, cx.fkCols[i])
		if err != nil {
			return err
		}
		t.ForeignKeys = append(t.ForeignKeys, fk)
		if parent != nil && !slices.Contains(parent.ReferencedBy, t.Name) {
			var p *catalog.Table
			for _, q := range *parents {
				if q.Name == parent.Name {
					p = q
				}
			}
			if p == nil {
				p = parent
				*parents = append(*parents, p)
			}
			p.ReferencedBy = append(p.ReferencedBy, t.Name)
		}
	}
	return nil
}

func (b *Binder) columnOrdinals(t *catalog.Table, names []string, loc int32) ([]int, error) {
	var out []int
	for _, n := range names {
		i := t.ColumnIndex(n)
		if i < 0 {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q named in key does not exist", n), loc)
		}
		if slices.Contains(out, i) {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeDuplicateColumn, "column %q appears twice in unique constraint", n), loc)
		}
		out = append(out, i)
	}
	return out, nil
}

// foreignKey resolves a FOREIGN KEY constraint of t over cols; parent is
// the referenced table (a copy to update), nil for a self-reference.
func (b *Binder) foreignKey(t *catalog.Table, c *pg_query.Constraint, cols []string) (catalog.ForeignKey, *catalog.Table, error) {
	var fk catalog.ForeignKey
	if c.FkMatchtype == "f" {
		return fk, nil, b.errAt(sqlerr.NotSupported("MATCH FULL"), c.Location)
	}
	switch c.FkDelAction {
	case "", catalog.FKNoAction, catalog.FKRestrict:
	default:
		return fk, nil, b.errAt(sqlerr.NotSupported("ON DELETE actions other than NO ACTION and RESTRICT"), c.Location)
	}
	switch c.FkUpdAction {
	case "", catalog.FKNoAction, catalog.FKRestrict:
	default:
		return fk, nil, b.errAt(sqlerr.NotSupported("ON UPDATE actions other than NO ACTION and RESTRICT"), c.Location)
	}
	var parent *catalog.Table
	self := c.Pktable.Relname == t.Name
	if self {
		parent = t
	} else {
		p, err := b.table(c.Pktable)
		if err != nil {
			return fk, nil, err
		}
		parent = p
	}
	var err error
	if fk.Columns, err = b.columnOrdinals(t, cols, c.Location); err != nil {
		return fk, nil, err
	}
	if len(c.PkAttrs) == 0 {
		fk.RefColumns = slices.Clone(parent.PrimaryKey)
	} else if fk.RefColumns, err = b.columnOrdinals(parent, keyNames(c.PkAttrs), c.Location); err != nil {
		return fk, nil, err
	}
	if len(fk.RefColumns) != len(fk.Columns) {
		return fk, nil, b.errAt(sqlerr.New(sqlerr.CodeInvalidForeignKey, "number of referencing and referenced columns for foreign key disagree"), c.Location)
	}
	if ix, pk := parent.UniqueOn(fk.RefColumns); ix == nil && !pk {
		return fk, nil, b.errAt(sqlerr.New(sqlerr.CodeInvalidForeignKey, "there is no unique constraint matching given keys for referenced table %q", parent.Name), c.Location)
	}
	for i, cc := range fk.Columns {
		ct, pt := t.Columns[cc].Type, parent.Columns[fk.RefColumns[i]].Type
		if ct != pt && !(ct.IsNumeric() && pt.IsNumeric() && ct != types.Float8 && pt != types.Float8) {
			e := sqlerr.New(sqlerr.CodeDatatypeMismatch, "foreign key constraint %q cannot be implemented", t.Name+"_"+strings.Join(cols, "_")+"_fkey")
			e.Detail = "Key columns \"" + t.Columns[cc].Name + "\" and \"" + parent.Columns[fk.RefColumns[i]].Name + "\" are of incompatible types: " + ct.SQLName() + " and " + pt.SQLName() + "."
			return fk, nil, e
		}
	}
	fk.Name = c.Conname
	if fk.Name == "" {
		fk.Name = t.Name + "_" + strings.Join(cols, "_") + "_fkey"
	}
	fk.RefTable = parent.Name
	fk.OnDelete, fk.OnUpdate = c.FkDelAction, c.FkUpdAction
	if self {
		return fk, nil, nil
	}
	cp := *parent
	return fk, &cp, nil
}

// dropExtras fills the parents to rewrite and sequences to drop of a DROP
// TABLE, refusing (2BP01) to drop a referenced table unless CASCADE, which
// drops the referencing foreign keys.
func (b *Binder) dropExtras(out *plan.DropTable, cascade bool) error {
	dropped := map[string]bool{}
	for _, t := range out.Tables {
		dropped[t.Name] = true
	}
	rewrite := map[string]*catalog.Table{}
	var order []string
	get := func(name string) (*catalog.Table, error) {
		if t, ok := rewrite[name]; ok {
			return t, nil
		}
		t, err := b.cat.Table(b.ctx, name)
		if err != nil || t == nil {
			return nil, err
		}
		rewrite[name] = t
		order = append(order, name)
		return t, nil
	}
	x, _ := b.ext()
	for _, t := range out.Tables {
		for _, child := range t.ReferencedBy {
			if dropped[child] {
				continue
			}
			ct, err := get(child)
			if err != nil {
				return err
			}
			if ct == nil {
				continue
			}
			if !cascade {
				var fkName string
				for _, fk := range ct.ForeignKeys {
					if fk.RefTable == t.Name {
						fkName = fk.Name
					}
				}
				e := sqlerr.New(sqlerr.CodeDependentObjectsStillExist, "cannot drop table %s because other objects depend on it", t.Name)
				e.Detail = "constraint " + fkName + " on table " + child + " depends on table " + t.Name
				return e.WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
			}
			ct.ForeignKeys = slices.DeleteFunc(ct.ForeignKeys, func(fk catalog.ForeignKey) bool { return fk.RefTable == t.Name })
		}
		for _, fk := range t.ForeignKeys {
			if dropped[fk.RefTable] {
				continue
			}
			pt, err := get(fk.RefTable)
			if err != nil {
				return err
			}
			if pt != nil {
				pt.ReferencedBy = slices.DeleteFunc(pt.ReferencedBy, func(n string) bool { return n == t.Name })
			}
		}
		if x != nil {
			for _, sn := range t.OwnedSequences {
				s, err := x.Sequence(b.ctx, sn)
				if err != nil {
					return err
				}
				if s != nil {
					out.Sequences = append(out.Sequences, s)
				}
			}
		}
	}
	for _, n := range order {
		out.Parents = append(out.Parents, rewrite[n])
	}
	return nil
}
