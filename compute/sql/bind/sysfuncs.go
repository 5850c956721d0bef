package bind

import (
	"regexp"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// This file binds what psql's \d commands and common drivers call besides
// the system relations: the pg_catalog functions that read the catalog
// (pg_get_indexdef, pg_table_is_visible, ...), the reg* casts, the regular
// expression operators, COLLATE, and the type names of the system
// columns (oid, name, "char", ...).

// serverVersion is what version() reports (pgwire reports server_version
// 15.0 too).
const serverVersion = "PostgreSQL 15.0 (Phantom-DB) on x86_64-pc-linux-gnu, compiled by Go, 64-bit"

// sysTypeName maps the type names of system columns to engine types: oid
// and the reg* types are int8, name and "char" text, int2vector and
// oidvector arrays. ok is false for other names.
func sysTypeName(name string) (types.T, bool) {
	switch name {
	case "oid", "regclass", "regtype", "regproc", "regprocedure", "regnamespace", "regrole", "xid", "cid", "regoper":
		return types.Int8, true
	case "name", `"char"`:
		return types.Text, true
	case "int2vector":
		return types.ArrayOf(types.Int2), true
	case "oidvector":
		return types.ArrayOf(types.Int8), true
	case "pg_node_tree":
		return types.Text, true
	}
	return types.Unknown, false
}

// argAs resolves an argument to type t (unknown literals parsed, other
// types cast).
func (b *Binder) argAs(e plan.Expr, t types.T, loc int32) (plan.Expr, error) {
	e, err := b.coerce(e, t)
	if err != nil {
		return nil, err
	}
	if e.Type() == t {
		return e, nil
	}
	if !castable(e.Type(), t) {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "cannot use an argument of type %s where %s is expected", e.Type().SQLName(), t.SQLName()), loc)
	}
	out, err := castTo(e, t)
	if err != nil {
		return nil, b.errAt(sqlerr.As(err), loc)
	}
	return out, nil
}

// call builds a function call over args resolved to argTypes, folded when
// every argument is constant.
func (b *Binder) call(name string, args []plan.Expr, argTypes []types.T, ret types.T, strict bool, loc int32, fn func([]any) (any, error)) (plan.Expr, error) {
	if len(args) != len(argTypes) {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function %s with %d arguments does not exist", name, len(args)), loc)
	}
	out := make([]plan.Expr, len(args))
	for i, a := range args {
		e, err := b.argAs(a, argTypes[i], loc)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	e, _, err := b.fold(&plan.Func{Name: name, Args: out, T: ret, Strict: strict, Eval: fn}, loc)
	return e, err
}

func oidArg(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	}
	return 0
}

// sysFunc binds the catalog functions; ok is false for other names.
func (b *Binder) sysFunc(name string, args []plan.Expr, loc int32) (plan.Expr, bool, error) {
	if e, ok, err := b.arrayFunc(name, args, loc); ok {
		return e, true, err
	}
	n := len(args)
	oid, text, boolT, i4 := types.Int8, types.Text, types.Bool, types.Int4
	nullText := func(int) (plan.Expr, bool, error) { return &plan.Const{T: text}, true, nil }
	switch name {
	case "pg_get_triggerdef", "pg_get_ruledef":
		if n < 1 || n > 2 {
			return nil, false, nil
		}
		return nullText(n) // there are no triggers or rules
	case "obj_description", "shobj_description", "col_description", "pg_get_statisticsobjdef_columns":
		if n < 1 || n > 2 {
			return nil, false, nil
		}
		return nullText(n) // Phantom-DB stores no comments (COMMENT ON is not supported)
	case "current_schema":
		if n == 0 {
			return &plan.Const{Value: schemaPublic, T: text}, true, nil
		}
	case "current_database":
		if n == 0 {
			return &plan.Const{Value: databaseName, T: text}, true, nil
		}
	case "version":
		if n == 0 {
			return &plan.Const{Value: serverVersion, T: text}, true, nil
		}
	case "current_schemas":
		if n == 1 {
			e, err := b.call(name, args, []types.T{boolT}, types.ArrayOf(text), true, loc, func(a []any) (any, error) {
				if a[0].(bool) {
					return types.ArrayValue{Elem: text, Elems: []any{schemaCatalog, schemaPublic}}, nil
				}
				return types.ArrayValue{Elem: text, Elems: []any{schemaPublic}}, nil
			})
			return e, true, err
		}
	case "pg_encoding_to_char":
		if n == 1 {
			e, err := b.call(name, args, []types.T{i4}, text, true, loc, func(a []any) (any, error) {
				if a[0].(int32) == 6 {
					return "UTF8", nil
				}
				return "", nil
			})
			return e, true, err
		}
	case "has_table_privilege", "has_schema_privilege", "has_database_privilege", "has_column_privilege",
		"has_sequence_privilege", "has_function_privilege", "pg_has_role":
		// Every SQL role has every right on its databases (see ARCHITECTURE.md).
		e, err := b.call(name, args, anyTypes(args), boolT, true, loc, func([]any) (any, error) { return true, nil })
		return e, true, err
	case "quote_ident":
		if n == 1 {
			e, err := b.call(name, args, []types.T{text}, text, true, loc, func(a []any) (any, error) { return quoteIdent(a[0].(string)), nil })
			return e, true, err
		}
	case "format_type":
		if n == 2 {
			e, err := b.call(name, args, []types.T{oid, i4}, text, false, loc, func(a []any) (any, error) {
				if a[0] == nil {
					return nil, nil
				}
				mod := int32(-1)
				if a[1] != nil {
					mod = a[1].(int32)
				}
				if s, ok := types.FormatType(oidArg(a[0]), mod); ok {
					return s, nil
				}
				return "???", nil
			})
			return e, true, err
		}
	case "pg_get_userbyid":
		if n == 1 {
			e, err := b.call(name, args, []types.T{oid}, text, true, loc, func(a []any) (any, error) {
				if o := oidArg(a[0]); o != catalog.OIDBootstrapRole {
					return "unknown (OID=" + strconv.FormatInt(o, 10) + ")", nil
				}
				return ownerName, nil
			})
			return e, true, err
		}
	case "pg_get_expr":
		if n == 2 || n == 3 {
			ts := []types.T{text, oid, boolT}[:n]
			e, err := b.call(name, args, ts, text, false, loc, func(a []any) (any, error) { return a[0], nil })
			return e, true, err
		}
	}
	// The functions below read the catalog.
	lookup := func(m func(si *sysInfo) map[int64]string, ts []types.T) (plan.Expr, bool, error) {
		si, err := b.sysInfo()
		if err != nil {
			return nil, true, err
		}
		mm := m(si)
		e, err := b.call(name, args, ts, text, true, loc, func(a []any) (any, error) {
			if s, ok := mm[oidArg(a[0])]; ok {
				return s, nil
			}
			return nil, nil
		})
		return e, true, err
	}
	switch name {
	case "pg_get_indexdef":
		if n == 1 {
			return lookup(func(si *sysInfo) map[int64]string { return si.idxDef }, []types.T{oid})
		}
		if n == 3 {
			si, err := b.sysInfo()
			if err != nil {
				return nil, true, err
			}
			e, err := b.call(name, args, []types.T{oid, i4, boolT}, text, true, loc, func(a []any) (any, error) {
				def, ok := si.idxDef[oidArg(a[0])]
				if !ok {
					return nil, nil
				}
				col := a[1].(int32)
				if col == 0 {
					if a[2] == true {
						// Pretty-printed, relations on the search path are not qualified.
						def = strings.Replace(def, " ON public.", " ON ", 1)
					}
					return def, nil
				}
				open := strings.LastIndexByte(def, '(')
				cols := strings.Split(strings.TrimSuffix(def[open+1:], ")"), ", ")
				if int(col) > len(cols) {
					return "", nil
				}
				return cols[col-1], nil
			})
			return e, true, err
		}
	case "pg_get_constraintdef":
		if n == 1 || n == 2 {
			si, err := b.sysInfo()
			if err != nil {
				return nil, true, err
			}
			e, err := b.call(name, args, []types.T{oid, boolT}[:n], text, false, loc, func(a []any) (any, error) {
				def, ok := si.conDef[oidArg(a[0])]
				if !ok || a[0] == nil {
					return nil, nil
				}
				if n == 2 && a[1] == true && strings.HasPrefix(def, "CHECK ((") {
					// Pretty-printed, PostgreSQL drops the expression's own parentheses.
					def = "CHECK (" + strings.TrimSuffix(strings.TrimPrefix(def, "CHECK (("), "))") + ")"
				}
				return def, nil
			})
			return e, true, err
		}
	case "pg_get_viewdef":
		if n == 1 || n == 2 {
			if args[0].Type() == types.Text || isUnknownText(args[0]) {
				si, err := b.sysInfo()
				if err != nil {
					return nil, true, err
				}
				e, err := b.call(name, args, []types.T{text, boolT}[:n], text, true, loc, func(a []any) (any, error) {
					if t := si.byName[a[0].(string)]; t != nil && t.ViewQuery != "" {
						return t.ViewQuery, nil
					}
					return nil, nil
				})
				return e, true, err
			}
			return lookup(func(si *sysInfo) map[int64]string { return si.views }, []types.T{oid, boolT}[:n])
		}
	case "pg_table_is_visible", "pg_relation_is_publishable":
		if n == 1 {
			si, err := b.sysInfo()
			if err != nil {
				return nil, true, err
			}
			publishable := name == "pg_relation_is_publishable"
			e, err := b.call(name, args, []types.T{oid}, boolT, true, loc, func(a []any) (any, error) {
				o := oidArg(a[0])
				rel, ok := si.relName[o]
				if !ok {
					return nil, nil
				}
				if publishable {
					return si.relKind[o] == "r" && rel[0] == schemaPublic, nil
				}
				return rel[0] != schemaInfo, nil // information_schema is not on the search path
			})
			return e, true, err
		}
	case "pg_type_is_visible":
		if n == 1 {
			e, err := b.call(name, args, []types.T{oid}, boolT, true, loc, func(a []any) (any, error) {
				return types.PGTypeByOID(oidArg(a[0])) != nil, nil
			})
			return e, true, err
		}
	case "pg_get_serial_sequence":
		if n == 2 {
			si, err := b.sysInfo()
			if err != nil {
				return nil, true, err
			}
			e, err := b.call(name, args, []types.T{text, text}, text, true, loc, func(a []any) (any, error) {
				t := si.byName[strings.TrimPrefix(a[0].(string), "public.")]
				if t == nil {
					return nil, sqlerr.New(sqlerr.CodeUndefinedTable, "relation %q does not exist", a[0])
				}
				i := t.ColumnIndex(a[1].(string))
				if i < 0 {
					return nil, sqlerr.New(sqlerr.CodeUndefinedColumn, "column %q of relation %q does not exist", a[1], t.Name)
				}
				d := t.Columns[i].Default
				if strings.HasPrefix(d, "nextval('") {
					seq := strings.TrimSuffix(strings.TrimPrefix(d, "nextval('"), "')")
					return "public." + seq, nil
				}
				return nil, nil
			})
			return e, true, err
		}
	}
	return nil, false, nil
}

func isUnknownText(e plan.Expr) bool {
	u, ok := e.(*unknownLit)
	return ok && !u.isNull && !u.isParam
}

// anyTypes returns the argument types as they are (unknown as text).
func anyTypes(args []plan.Expr) []types.T {
	out := make([]types.T, len(args))
	for i, a := range args {
		out[i] = a.Type()
		if out[i] == types.Unknown {
			out[i] = types.Text
		}
	}
	return out
}

// regCast binds a cast to one of the reg* types; ok is false for other
// casts. A name (text) cast to regclass is looked up and becomes the
// relation's OID (an int8, 42P01 when missing); an OID cast to regclass,
// regtype or regnamespace becomes the object's name as text, as
// PostgreSQL prints a reg* value (a number when no object has it). So
// 't'::regclass compares with oid columns and oid::regclass::text names
// the relation; unlike PostgreSQL, 't'::regclass itself prints as the
// number.
func (b *Binder) regCast(tc *pg_query.TypeCast, ec *exprCtx) (plan.Expr, bool, error) {
	var parts []string
	for _, n := range tc.TypeName.Names {
		parts = append(parts, n.GetString_().GetSval())
	}
	kind := parts[len(parts)-1]
	switch kind {
	case "regclass", "regtype", "regnamespace", "regproc", "regrole":
	default:
		return nil, false, nil
	}
	if len(tc.TypeName.ArrayBounds) > 0 {
		return nil, false, nil
	}
	x, err := b.expr(tc.Arg, ec)
	if err != nil {
		return nil, true, err
	}
	si, err := b.sysInfo()
	if err != nil {
		return nil, true, err
	}
	names := map[int64]string{}
	switch kind {
	case "regclass":
		for o, r := range si.relName {
			names[o] = r[1]
			if r[0] == schemaInfo {
				names[o] = r[0] + "." + r[1]
			}
		}
	case "regtype":
		for _, p := range types.PGTypes {
			names[p.OID] = p.SQL
		}
	case "regnamespace":
		for _, ns := range []string{schemaCatalog, schemaPublic, schemaInfo} {
			names[nsOID(ns)] = ns
		}
	case "regrole":
		names[catalog.OIDBootstrapRole] = ownerName
	}
	byName := map[string]int64{}
	for o, n := range names {
		byName[n] = o
	}
	if kind == "regtype" {
		for _, p := range types.PGTypes {
			byName[p.Name] = p.OID
		}
	}
	loc := tc.Location
	if x.Type() == types.Text || isUnknownText(x) {
		e, err := b.call("to"+kind, []plan.Expr{x}, []types.T{types.Text}, types.Int8, true, loc, func(a []any) (any, error) {
			s := strings.TrimSpace(a[0].(string))
			if o, err := strconv.ParseInt(s, 10, 64); err == nil {
				return o, nil
			}
			key := strings.Trim(strings.TrimPrefix(strings.TrimPrefix(s, "public."), "pg_catalog."), `"`)
			if kind != "regclass" {
				key = strings.TrimPrefix(s, "pg_catalog.")
			}
			if o, ok := byName[key]; ok {
				return o, nil
			}
			if kind == "regclass" {
				return nil, sqlerr.New(sqlerr.CodeUndefinedTable, "relation %q does not exist", s)
			}
			return nil, sqlerr.New(sqlerr.CodeUndefinedObject, "%s %q does not exist", strings.TrimPrefix(kind, "reg"), s)
		})
		return e, true, err
	}
	if x.Type() == types.Unknown {
		return &plan.Const{T: types.Int8}, true, nil // NULL::regclass
	}
	e, err := b.call(kind+"out", []plan.Expr{x}, []types.T{types.Int8}, types.Text, true, loc, func(a []any) (any, error) {
		o := oidArg(a[0])
		if n, ok := names[o]; ok {
			return n, nil
		}
		if o == 0 {
			return "-", nil
		}
		return strconv.FormatInt(o, 10), nil
	})
	return e, true, err
}

// regexOp binds the POSIX regular-expression operators ~, ~*, !~ and !~*
// over text. Patterns run on Go's regexp (RE2): PostgreSQL's advanced
// regular expressions differ in back references and lookahead (not
// supported: 2201B), the \m \M \y word-boundary escapes and [[:<:]]
// (not supported), and embedded options other than (?i); the common
// subset (anchors, classes, alternation, quantifiers, [[:alpha:]]) means
// the same. A constant pattern is compiled once at bind time.
func (b *Binder) regexOp(op string, l, r plan.Expr, loc int32) (plan.Expr, error) {
	fold := strings.HasSuffix(op, "*")
	negate := strings.HasPrefix(op, "!")
	compile := func(p string) (*regexp.Regexp, error) {
		if fold {
			p = "(?i)" + p
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, sqlerr.New("2201B", "invalid regular expression: %v", err)
		}
		return re, nil
	}
	var fixed *regexp.Regexp
	l, err := b.argAs(l, types.Text, loc)
	if err != nil {
		return nil, err
	}
	if r, err = b.argAs(r, types.Text, loc); err != nil {
		return nil, err
	}
	if c, ok := r.(*plan.Const); ok && c.Value != nil {
		if fixed, err = compile(c.Value.(string)); err != nil {
			return nil, b.errAt(sqlerr.As(err), loc)
		}
	}
	e, _, err := b.fold(&plan.Func{Name: op, Args: []plan.Expr{l, r}, T: types.Bool, Strict: true, Eval: func(a []any) (any, error) {
		re := fixed
		if re == nil {
			var err error
			if re, err = compile(a[1].(string)); err != nil {
				return nil, err
			}
		}
		return re.MatchString(a[0].(string)) != negate, nil
	}}, loc)
	return e, err
}

// opCatalog binds the operators this file and array.go add; ok is false
// for other operators.
func (b *Binder) opCatalog(op string, l, r plan.Expr, loc int32) (plan.Expr, bool, error) {
	switch op {
	case "~", "~*", "!~", "!~*":
		e, err := b.regexOp(op, l, r, loc)
		return e, true, err
	case "||":
		if l.Type().IsArray() || r.Type().IsArray() {
			e, err := b.arrayConcat(l, r, loc)
			return e, true, err
		}
	case "@>", "<@", "&&":
		if l.Type().IsArray() || r.Type().IsArray() {
			e, err := b.arrayContains(op, l, r, loc)
			return e, true, err
		}
	}
	return nil, false, nil
}

// exprCatalog binds the expression nodes this file and array.go add; ok is
// false for others.
func (b *Binder) exprCatalog(n *pg_query.Node, ec *exprCtx) (plan.Expr, bool, error) {
	switch x := n.Node.(type) {
	case *pg_query.Node_CollateClause:
		cc := x.CollateClause
		var parts []string
		for _, p := range cc.Collname {
			parts = append(parts, p.GetString_().GetSval())
		}
		coll := parts[len(parts)-1]
		if (len(parts) > 1 && parts[0] != schemaCatalog) || (coll != "default" && coll != "C" && coll != "POSIX") {
			return nil, true, b.errAt(sqlerr.NotSupported("collation "+strings.Join(parts, ".")+" (only the default byte-order collation exists)"), cc.Location)
		}
		e, err := b.expr(cc.Arg, ec)
		return e, true, err
	case *pg_query.Node_AArrayExpr:
		e, err := b.arrayExpr(x.AArrayExpr, types.Unknown, ec)
		return e, true, err
	case *pg_query.Node_AIndirection:
		e, err := b.subscript(x.AIndirection, ec)
		return e, true, err
	}
	return nil, false, nil
}
