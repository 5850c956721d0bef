package bind

import (
	"math"
	"slices"
	"sort"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// bindMore binds the statements of ddl_*.go; ok is false for others.
func (b *Binder) bindMore(stmt *pg_query.Node) (plan.Statement, bool, error) {
	var st plan.Statement
	var err error
	switch n := stmt.Node.(type) {
	case *pg_query.Node_IndexStmt:
		st, err = b.bindCreateIndex(n.IndexStmt)
	case *pg_query.Node_AlterTableStmt:
		st, err = b.bindAlterTable(n.AlterTableStmt)
	case *pg_query.Node_RenameStmt:
		st, err = b.bindRename(n.RenameStmt)
	case *pg_query.Node_TruncateStmt:
		st, err = b.bindTruncate(n.TruncateStmt)
	case *pg_query.Node_CreateSeqStmt:
		st, err = b.bindCreateSequence(n.CreateSeqStmt)
	case *pg_query.Node_VacuumStmt:
		st, err = b.bindAnalyze(n.VacuumStmt)
	case *pg_query.Node_ExplainStmt:
		st, err = b.bindExplain(n.ExplainStmt)
	default:
		return nil, false, nil
	}
	return st, true, err
}

func (b *Binder) bindCreateIndex(s *pg_query.IndexStmt) (plan.Statement, error) {
	switch {
	case s.WhereClause != nil:
		return nil, sqlerr.NotSupported("partial indexes")
	case len(s.IndexIncludingParams) > 0:
		return nil, sqlerr.NotSupported("INCLUDE")
	case s.AccessMethod != "" && s.AccessMethod != "btree":
		return nil, sqlerr.NotSupported("index method " + s.AccessMethod)
	case s.NullsNotDistinct:
		return nil, sqlerr.NotSupported("NULLS NOT DISTINCT")
	}
	t, err := b.table(s.Relation)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range s.IndexParams {
		el := p.GetIndexElem()
		if el == nil || el.Name == "" {
			return nil, sqlerr.NotSupported("expression indexes")
		}
		if el.Ordering == pg_query.SortByDir_SORTBY_DESC {
			return nil, sqlerr.NotSupported("DESC index columns")
		}
		if t.ColumnIndex(el.Name) < 0 {
			return nil, sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q does not exist", el.Name)
		}
		names = append(names, el.Name)
	}
	cols, err := b.columnOrdinals(t, names, s.Relation.Location)
	if err != nil {
		return nil, err
	}
	name := s.Idxname
	if name == "" {
		name = uniqueName(t.Name+"_"+strings.Join(names, "_")+"_idx", func(n string) bool {
			ok, _ := b.relationExists(n)
			return ok
		})
	} else if ok, err := b.relationExists(name); err != nil {
		return nil, err
	} else if ok {
		if s.IfNotExists {
			return &plan.CreateIndex{Table: t, Exists: true}, nil
		}
		return nil, sqlerr.New(sqlerr.CodeDuplicateTable, "relation %q already exists", name)
	}
	id := max(t.NextIndexID, 1)
	return &plan.CreateIndex{Table: t, Index: catalog.Index{ID: id, Name: name, Columns: cols, Unique: s.Unique}}, nil
}

func (b *Binder) bindDropIndex(s *pg_query.DropStmt) (plan.Statement, error) {
	x, err := b.ext()
	if err != nil {
		return nil, err
	}
	out := &plan.DropIndex{}
	tables := map[string]*catalog.Table{}
	for _, obj := range s.Objects {
		rv := rangeVarOf(obj.GetList().GetItems())
		if err := b.checkSchema(rv); err != nil {
			return nil, err
		}
		tn, err := x.IndexTable(b.ctx, rv.Relname)
		if err != nil {
			return nil, err
		}
		if tn == "" {
			if s.MissingOk {
				continue
			}
			return nil, sqlerr.New(sqlerr.CodeUndefinedObject, "index %q does not exist", rv.Relname)
		}
		t := tables[tn]
		if t == nil {
			if t, err = b.cat.Table(b.ctx, tn); err != nil {
				return nil, err
			}
			if t == nil {
				return nil, sqlerr.New(sqlerr.CodeUndefinedObject, "index %q does not exist", rv.Relname)
			}
			tables[tn] = t
		}
		if ix := t.IndexByName(rv.Relname); ix != nil && ix.Constraint && s.Behavior != pg_query.DropBehavior_DROP_CASCADE {
			e := sqlerr.New(sqlerr.CodeDependentObjectsStillExist, "cannot drop index %s because constraint %s on table %s requires it", rv.Relname, rv.Relname, t.Name)
			return nil, e.WithHint("You can drop constraint " + rv.Relname + " on table " + t.Name + " instead.")
		}
		out.Tables = append(out.Tables, t)
		out.Names = append(out.Names, rv.Relname)
	}
	return out, nil
}

func (b *Binder) bindTruncate(s *pg_query.TruncateStmt) (plan.Statement, error) {
	out := &plan.Truncate{}
	names := map[string]bool{}
	for _, n := range s.Relations {
		t, err := b.table(n.GetRangeVar())
		if err != nil {
			return nil, err
		}
		if !names[t.Name] {
			names[t.Name] = true
			out.Tables = append(out.Tables, t)
		}
	}
	for _, t := range out.Tables {
		for _, child := range t.ReferencedBy {
			if !names[child] && child != t.Name {
				e := sqlerr.New(sqlerr.CodeFeatureNotSupported, "cannot truncate a table referenced in a foreign key constraint")
				e.Detail = "Table \"" + child + "\" references \"" + t.Name + "\"."
				return nil, e.WithHint("Truncate table \"" + child + "\" at the same time, or use TRUNCATE ... CASCADE.")
			}
		}
	}
	if s.RestartSeqs {
		return nil, sqlerr.NotSupported("TRUNCATE ... RESTART IDENTITY")
	}
	return out, nil
}

// bindAnalyze binds ANALYZE and VACUUM. VACUUM has nothing to do here
// (old versions are collected by the page servers' GC), so it only
// checks its tables exist; VACUUM ANALYZE runs the ANALYZE part.
func (b *Binder) bindAnalyze(s *pg_query.VacuumStmt) (plan.Statement, error) {
	out := &plan.Analyze{Vacuum: s.IsVacuumcmd}
	if s.IsVacuumcmd {
		analyze := false
		for _, o := range s.Options {
			if d := o.GetDefElem(); d != nil && d.Defname == "analyze" {
				analyze = d.Arg == nil || !isFalse(constText(d.Arg))
			}
		}
		for _, r := range s.Rels {
			t, err := b.table(r.GetVacuumRelation().Relation)
			if err != nil {
				return nil, err
			}
			if analyze {
				out.Tables = append(out.Tables, t)
			}
		}
		if analyze && len(s.Rels) == 0 {
			return b.analyzeAll(out)
		}
		return out, nil
	}
	if len(s.Rels) == 0 {
		return b.analyzeAll(out)
	}
	for _, r := range s.Rels {
		vr := r.GetVacuumRelation()
		t, err := b.table(vr.Relation)
		if err != nil {
			return nil, err
		}
		out.Tables = append(out.Tables, t)
	}
	return out, nil
}

// analyzeAll makes out analyze every table of the database, in name order,
// as ANALYZE without a table name does.
func (b *Binder) analyzeAll(out *plan.Analyze) (plan.Statement, error) {
	l, ok := b.cat.(Lister)
	if !ok {
		return nil, sqlerr.NotSupported("ANALYZE without a table name")
	}
	tables, err := l.Tables(b.ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
	out.Tables = tables
	return out, nil
}

func (b *Binder) bindExplain(s *pg_query.ExplainStmt) (plan.Statement, error) {
	out := &plan.Explain{}
	for _, o := range s.Options {
		d := o.GetDefElem()
		switch d.Defname {
		case "analyze":
			out.Analyze = d.Arg == nil || constText(d.Arg) != "false" && constText(d.Arg) != "off"
		case "verbose", "costs", "buffers", "timing", "summary", "settings", "wal":
		case "format":
			if strings.ToLower(constText(d.Arg)) != "text" {
				return nil, sqlerr.NotSupported("EXPLAIN FORMAT " + constText(d.Arg))
			}
		default:
			return nil, sqlerr.New(sqlerr.CodeSyntaxError, "unrecognized EXPLAIN option %q", d.Defname)
		}
	}
	st, err := b.Bind(s.Query)
	if err != nil {
		return nil, err
	}
	switch st.(type) {
	case *plan.Query, *plan.Insert, *plan.Update, *plan.Delete:
	default:
		return nil, sqlerr.NotSupported("EXPLAIN of this statement")
	}
	out.Stmt = st
	return out, nil
}

// constText returns the text of a constant (string, integer or boolean).
func constText(n *pg_query.Node) string {
	if n == nil {
		return ""
	}
	if s := n.GetString_(); s != nil {
		return s.Sval
	}
	if c := n.GetAConst(); c != nil {
		switch v := c.Val.(type) {
		case *pg_query.A_Const_Sval:
			return v.Sval.Sval
		case *pg_query.A_Const_Ival:
			return types.FormatText(int64(v.Ival.Ival))
		case *pg_query.A_Const_Boolval:
			if v.Boolval.Boolval {
				return "true"
			}
			return "false"
		}
	}
	if i := n.GetInteger(); i != nil {
		return types.FormatText(int64(i.Ival))
	}
	if bv := n.GetBoolean(); bv != nil {
		if bv.Boolval {
			return "true"
		}
		return "false"
	}
	return ""
}

// constInt returns an integer option value.
func constInt(n *pg_query.Node) (int64, bool) {
	if n == nil {
		return 0, false
	}
	if i := n.GetInteger(); i != nil {
		return int64(i.Ival), true
	}
	if f := n.GetFloat(); f != nil {
		v, err := types.ParseText(types.Int8, f.Fval)
		if err == nil {
			return v.(int64), true
		}
	}
	if c := n.GetAConst(); c != nil {
		if iv, ok := c.Val.(*pg_query.A_Const_Ival); ok {
			return int64(iv.Ival.Ival), true
		}
	}
	if tc := n.GetTypeCast(); tc != nil {
		return constInt(tc.Arg)
	}
	return 0, false
}

func (b *Binder) bindCreateSequence(s *pg_query.CreateSeqStmt) (plan.Statement, error) {
	if err := b.checkSchema(s.Sequence); err != nil {
		return nil, err
	}
	if ok, err := b.relationExists(s.Sequence.Relname); err != nil {
		return nil, err
	} else if ok {
		if s.IfNotExists {
			return &plan.CreateSequence{Exists: true}, nil
		}
		return nil, b.errAt(sqlerr.New(sqlerr.CodeDuplicateTable, "relation %q already exists", s.Sequence.Relname), s.Sequence.Location)
	}
	seq := catalog.Sequence{Name: s.Sequence.Relname, Increment: 1, Max: math.MaxInt64}
	var minSet, maxSet, startSet bool
	for _, o := range s.Options {
		d := o.GetDefElem()
		switch d.Defname {
		case "increment", "start", "minvalue", "maxvalue", "cache":
			if d.Arg == nil {
				if d.Defname == "minvalue" || d.Defname == "maxvalue" {
					continue // NO MINVALUE / NO MAXVALUE
				}
			}
			v, ok := constInt(d.Arg)
			if !ok {
				return nil, sqlerr.New(sqlerr.CodeSyntaxError, "%s needs an integer", strings.ToUpper(d.Defname))
			}
			switch d.Defname {
			case "increment":
				if v == 0 {
					return nil, sqlerr.New(sqlerr.CodeInvalidParameterValue, "INCREMENT must not be zero")
				}
				seq.Increment = v
			case "start":
				seq.Start, startSet = v, true
			case "minvalue":
				seq.Min, minSet = v, true
			case "maxvalue":
				seq.Max, maxSet = v, true
			}
		case "cycle":
			seq.Cycle = constText(d.Arg) != "false"
		case "as":
			tn := d.Arg.GetTypeName()
			t, err := b.typeFromName(tn)
			if err != nil {
				return nil, err
			}
			switch t {
			case types.Int4:
				if !maxSet {
					seq.Max = math.MaxInt32
				}
			case types.Int8:
			default:
				return nil, sqlerr.New(sqlerr.CodeInvalidParameterValue, "sequence type must be smallint, integer, or bigint")
			}
		default:
			return nil, sqlerr.NotSupported("sequence option " + d.Defname)
		}
	}
	if seq.Increment < 0 {
		if !maxSet {
			seq.Max = -1
		}
		if !minSet {
			seq.Min = math.MinInt64
		}
		if !startSet {
			seq.Start = seq.Max
		}
	} else {
		if !minSet {
			seq.Min = 1
		}
		if !startSet {
			seq.Start = seq.Min
		}
	}
	if seq.Min >= seq.Max {
		return nil, sqlerr.New(sqlerr.CodeInvalidParameterValue, "MINVALUE (%d) must be less than MAXVALUE (%d)", seq.Min, seq.Max)
	}
	if seq.Start < seq.Min {
		return nil, sqlerr.New(sqlerr.CodeInvalidParameterValue, "START value (%d) cannot be less than MINVALUE (%d)", seq.Start, seq.Min)
	}
	if seq.Start > seq.Max {
		return nil, sqlerr.New(sqlerr.CodeInvalidParameterValue, "START value (%d) cannot be greater than MAXVALUE (%d)", seq.Start, seq.Max)
	}
	return &plan.CreateSequence{Seq: seq}, nil
}

func (b *Binder) bindDropSequence(s *pg_query.DropStmt) (plan.Statement, error) {
	x, err := b.ext()
	if err != nil {
		return nil, err
	}
	out := &plan.DropSequence{}
	for _, obj := range s.Objects {
		rv := rangeVarOf(obj.GetList().GetItems())
		if err := b.checkSchema(rv); err != nil {
			return nil, err
		}
		seq, err := x.Sequence(b.ctx, rv.Relname)
		if err != nil {
			return nil, err
		}
		if seq == nil {
			if s.MissingOk {
				continue
			}
			return nil, sqlerr.New(sqlerr.CodeUndefinedTable, "sequence %q does not exist", rv.Relname)
		}
		if seq.OwnedBy != "" && s.Behavior != pg_query.DropBehavior_DROP_CASCADE {
			if t, err := b.cat.Table(b.ctx, seq.OwnedBy); err == nil && t != nil {
				e := sqlerr.New(sqlerr.CodeDependentObjectsStillExist, "cannot drop sequence %s because other objects depend on it", seq.Name)
				return nil, e.WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
			}
		}
		out.Seqs = append(out.Seqs, seq)
	}
	return out, nil
}

// seqFunc binds nextval/currval/setval; ok is false for other functions.
func (b *Binder) seqFunc(fc *pg_query.FuncCall, ec *exprCtx) (plan.Expr, bool, error) {
	name := opName(fc.Funcname)
	name = strings.TrimPrefix(name, "pg_catalog.")
	var want int
	switch name {
	case "nextval", "currval":
		want = 1
	case "setval":
		want = 2
	default:
		return nil, false, nil
	}
	if len(fc.Args) != want && !(name == "setval" && len(fc.Args) == 3) {
		return nil, true, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function %s() with %d arguments does not exist", name, len(fc.Args)), fc.Location)
	}
	arg := fc.Args[0]
	if tc := arg.GetTypeCast(); tc != nil {
		arg = tc.Arg
	}
	c := arg.GetAConst()
	sv, ok := c.GetVal().(*pg_query.A_Const_Sval)
	if c == nil || !ok {
		return nil, true, b.errAt(sqlerr.NotSupported(name+"() with a non-constant sequence name"), fc.Location)
	}
	seqName := strings.ToLower(sv.Sval.Sval)
	x, err := b.ext()
	if err != nil {
		return nil, true, err
	}
	seq, err := x.Sequence(b.ctx, seqName)
	if err != nil {
		return nil, true, err
	}
	if seq == nil {
		return nil, true, b.errAt(sqlerr.New(sqlerr.CodeUndefinedTable, "relation %q does not exist", seqName), exprLocation(arg))
	}
	rt := b.seqs
	if rt == nil {
		rt = noSequences{} // describing a statement: bound, never run
	}
	call := &plan.SeqCall{Func: name, Seq: seqName}
	switch name {
	case "nextval":
		call.Do = func([]any) (int64, error) { return rt.Nextval(seq) }
	case "currval":
		call.Do = func([]any) (int64, error) { return rt.Currval(seqName) }
	case "setval":
		v, err := b.expr(fc.Args[1], ec)
		if err != nil {
			return nil, true, err
		}
		if v, err = b.coerce(v, types.Int8); err == nil {
			v, err = castTo(v, types.Int8)
		}
		if err != nil {
			return nil, true, err
		}
		call.Args = append(call.Args, v)
		if len(fc.Args) == 3 {
			called, err := b.expr(fc.Args[2], ec)
			if err != nil {
				return nil, true, err
			}
			if called, err = b.coerce(called, types.Bool); err != nil {
				return nil, true, err
			}
			call.Args = append(call.Args, called)
		}
		call.Do = func(args []any) (int64, error) {
			called := true
			if len(args) > 1 {
				called = args[1].(bool)
			}
			return rt.Setval(seq, args[0].(int64), called)
		}
	}
	return call, true, nil
}

var _ = slices.Contains[[]string]

// noSequences answers every sequence function with 0A000; binders without a
// session (Describe) use it.
type noSequences struct{}

func (noSequences) Nextval(*catalog.Sequence) (int64, error) { return 0, errNoSeq() }
func (noSequences) Currval(string) (int64, error)            { return 0, errNoSeq() }
func (noSequences) Setval(*catalog.Sequence, int64, bool) (int64, error) {
	return 0, errNoSeq()
}

func errNoSeq() error { return sqlerr.NotSupported("sequence functions outside a session") }

// isFalse reports whether a boolean option's text is false.
func isFalse(v string) bool {
	switch v {
	case "false", "off", "0", "f", "no", "n":
		return true
	}
	return false
}
