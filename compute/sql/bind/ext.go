package bind

import (
	"strconv"
	"strings"
	"time"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/builtins"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// This file binds the expressions added with the value types: CASE,
// COALESCE, NULLIF, GREATEST/LEAST, IN, BETWEEN, LIKE, IS [NOT] DISTINCT
// FROM, scalar function calls, the date/time and jsonb operators, and the
// CURRENT_DATE family.

// typeAndMod resolves a TypeName to a type and its modifier.
func (b *Binder) typeAndMod(tn *pg_query.TypeName) (types.T, types.Mod, error) {
	var parts []string
	for _, n := range tn.Names {
		parts = append(parts, n.GetString_().GetSval())
	}
	name := parts[len(parts)-1]
	if len(parts) > 1 && parts[0] != "pg_catalog" && parts[0] != "public" {
		return 0, 0, b.errAt(sqlerr.New(sqlerr.CodeUndefinedObject, "type %q does not exist", strings.Join(parts, ".")), tn.Location)
	}
	if len(tn.ArrayBounds) > 0 {
		return b.arrayTypeName(tn)
	}
	if t, ok := sysTypeName(name); ok && (len(parts) == 1 || parts[0] == "pg_catalog") {
		return t, 0, nil
	}
	var mods []int64
	for _, m := range tn.Typmods {
		c := m.GetAConst()
		if c == nil || c.GetIval() == nil {
			if name == "interval" {
				continue // INTERVAL '1' DAY field restrictions are ignored
			}
			return 0, 0, b.errAt(sqlerr.New(sqlerr.CodeSyntaxError, "type modifiers must be simple constants or identifiers"), tn.Location)
		}
		mods = append(mods, int64(c.GetIval().Ival))
	}
	t, ok := types.FromName(name)
	if name == "bpchar" || name == "char" {
		t, ok = types.Text, true
	}
	if !ok {
		switch name {
		case "timetz", "json", "bit", "varbit", "money", "inet", "cidr", "xml", "macaddr", "point":
			return 0, 0, b.errAt(sqlerr.NotSupported("type "+name), tn.Location)
		}
		return 0, 0, b.errAt(sqlerr.New(sqlerr.CodeUndefinedObject, "type %q does not exist", name), tn.Location)
	}
	var mod types.Mod
	switch name {
	case "varchar", "character varying":
		if len(mods) > 1 {
			return 0, 0, b.errAt(sqlerr.New(sqlerr.CodeInvalidParameterValue, "invalid type modifier"), tn.Location)
		}
		if len(mods) == 1 {
			if mods[0] < 1 || mods[0] > 10485760 {
				return 0, 0, b.errAt(sqlerr.New(sqlerr.CodeInvalidParameterValue, "length for type varchar must be at least 1"), tn.Location)
			}
			mod = types.VarcharMod(int32(mods[0]))
		}
	case "bpchar", "char":
		n := int64(1)
		if len(mods) == 1 {
			n = mods[0]
		}
		if n < 1 || n > 10485760 || len(mods) > 1 {
			return 0, 0, b.errAt(sqlerr.New(sqlerr.CodeInvalidParameterValue, "length for type char must be at least 1"), tn.Location)
		}
		mod = types.CharMod(int32(n))
	case "numeric", "decimal":
		switch len(mods) {
		case 0:
		case 1, 2:
			p, s := mods[0], int64(0)
			if len(mods) == 2 {
				s = mods[1]
			}
			if p < 1 || p > 1000 {
				return 0, 0, b.errAt(sqlerr.New(sqlerr.CodeInvalidParameterValue, "NUMERIC precision %d must be between 1 and 1000", p), tn.Location)
			}
			if s < 0 || s > p {
				return 0, 0, b.errAt(sqlerr.New(sqlerr.CodeInvalidParameterValue, "NUMERIC scale %d must be between 0 and precision %d", s, p), tn.Location)
			}
			mod = types.NumericMod(int32(p), int32(s))
		default:
			return 0, 0, b.errAt(sqlerr.New(sqlerr.CodeInvalidParameterValue, "invalid NUMERIC type modifier"), tn.Location)
		}
	}
	return t, mod, nil
}

// withMod applies a type modifier to e (an expression of type t).
func withMod(e plan.Expr, t types.T, m types.Mod, explicit bool) (plan.Expr, error) {
	if m == 0 {
		return e, nil
	}
	if c, ok := e.(*plan.Const); ok {
		v, err := types.ApplyMod(c.Value, t, m, explicit)
		if err != nil {
			return nil, err
		}
		return &plan.Const{Value: v, T: t}, nil
	}
	return &plan.Func{Name: m.SQLName(t), Args: []plan.Expr{e}, T: t, Strict: true,
		Eval: func(a []any) (any, error) { return types.ApplyMod(a[0], t, m, explicit) }}, nil
}

// implicitCost is the cost of PostgreSQL's implicit cast from one type to
// another (-1 when there is none): widening to float8, the preferred
// numeric type, costs less than widening to numeric, and timestamptz is
// the preferred datetime type.
func implicitCost(from, to types.T) int {
	if from == to {
		return 0
	}
	switch {
	case from.IsInteger() && to.IsInteger():
		if rank(from) < rank(to) {
			return 1
		}
	case from.IsInteger() && to == types.Float8:
		return 1
	case from.IsInteger() && (to == types.Numeric || to == types.Float4):
		return 2
	case from == types.Numeric && to == types.Float8:
		return 2
	case from == types.Numeric && to == types.Float4:
		return 3
	case from == types.Float4 && to == types.Float8:
		return 1
	case from == types.Date && to == types.TimestampTZ:
		return 1
	case from == types.Date && to == types.Timestamp:
		return 2
	case from == types.Timestamp && to == types.TimestampTZ:
		return 1
	case from == types.Time && to == types.Interval:
		return 1
	}
	return -1
}

func rank(t types.T) int {
	switch t {
	case types.Int2:
		return 1
	case types.Int4:
		return 2
	case types.Int8:
		return 3
	}
	return 0
}

// resolveFunc picks the overload of name for args (PostgreSQL's rules,
// simplified: exact matches, then the cheapest implicit casts), casts the
// arguments and returns the call, folded when every argument is constant.
func (b *Binder) resolveFunc(name string, args []plan.Expr, loc int32) (plan.Expr, error) {
	ovs := builtins.Lookup(name)
	best, bestCost := -1, 1<<30
	for i, o := range ovs {
		if !o.Accepts(len(args)) {
			continue
		}
		cost := 0
		for j, a := range args {
			pt := o.ParamType(j)
			at := a.Type()
			switch {
			case pt == builtins.AnyText || at == types.Unknown:
			default:
				c := implicitCost(at, pt)
				if c < 0 {
					cost = -1
				}
				if cost >= 0 {
					cost += c
				}
			}
			if cost < 0 {
				break
			}
		}
		if cost >= 0 && cost < bestCost {
			best, bestCost = i, cost
		}
	}
	if best < 0 {
		names := make([]string, len(args))
		for i, a := range args {
			names[i] = a.Type().SQLName()
		}
		if len(ovs) == 0 {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function %s(%s) does not exist", name, strings.Join(names, ", ")).
				WithHint("No function matches the given name and argument types. You might need to add explicit type casts."), loc)
		}
		return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function %s(%s) does not exist", name, strings.Join(names, ", ")).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts."), loc)
	}
	o := ovs[best]
	out := make([]plan.Expr, len(args))
	argT := make([]types.T, len(args))
	allConst := true
	for j, a := range args {
		pt := o.ParamType(j)
		if pt == builtins.AnyText {
			pt = a.Type() // passed as is: the function prints it with the type's output function
		}
		e, err := b.coerce(a, pt)
		if err != nil {
			return nil, err
		}
		if e, err = castTo(e, pt); err != nil {
			return nil, b.errAt(sqlerr.As(err), loc)
		}
		out[j] = e
		argT[j] = e.Type()
		if _, ok := e.(*plan.Const); !ok {
			allConst = false
		}
	}
	f := &plan.Func{Name: name, Args: out, T: o.ResultType(argT), Strict: o.Strict, Eval: o.Fn}
	if allConst && !o.Volatile {
		return foldFunc(f, b, loc)
	}
	return f, nil
}

// foldFunc evaluates a call over constants at bind time (errors surface
// then, as PostgreSQL's constant folding does).
func foldFunc(f *plan.Func, b *Binder, loc int32) (plan.Expr, error) {
	vals := make([]any, len(f.Args))
	for i, a := range f.Args {
		vals[i] = a.(*plan.Const).Value
		if vals[i] == nil && f.Strict {
			return &plan.Const{T: f.T}, nil
		}
	}
	v, err := f.Eval(vals)
	if err != nil {
		if se := sqlerr.As(err); se != nil {
			return nil, b.errAt(se, loc)
		}
		return nil, err
	}
	return &plan.Const{Value: v, T: f.T}, nil
}

// scalarFunc binds a call of a non-aggregate function.
func (b *Binder) scalarFunc(fc *pg_query.FuncCall, ec *exprCtx) (plan.Expr, error) {
	name := strings.TrimPrefix(opName(fc.Funcname), "pg_catalog.")
	switch {
	case fc.Over != nil:
		return nil, b.errAt(sqlerr.NotSupported("window functions"), fc.Location)
	case fc.AggStar || fc.AggDistinct || fc.AggFilter != nil || len(fc.AggOrder) > 0:
		return nil, b.errAt(sqlerr.New(sqlerr.CodeWrongObjectType, "%s is not an aggregate function", name), fc.Location)
	case fc.FuncVariadic:
		return nil, b.errAt(sqlerr.NotSupported("VARIADIC"), fc.Location)
	}
	switch name {
	case "now", "current_timestamp", "transaction_timestamp", "statement_timestamp", "clock_timestamp":
		if len(fc.Args) == 0 {
			return &plan.Const{Value: b.now(), T: types.TimestampTZ}, nil
		}
	}
	args := make([]plan.Expr, len(fc.Args))
	for i, a := range fc.Args {
		e, err := b.expr(a, ec)
		if err != nil {
			return nil, err
		}
		args[i] = e
	}
	if e, ok, err := b.sysFunc(name, args, fc.Location); ok {
		return e, err
	}
	if name == "age" && len(args) == 1 {
		midnight := types.TimestampValue(b.now() / 86_400_000_000 * 86_400_000_000)
		args = []plan.Expr{&plan.Const{Value: midnight, T: types.Timestamp}, args[0]}
	}
	return b.resolveFunc(name, args, fc.Location)
}

// now is the statement's timestamp (microseconds since the epoch, UTC).
func (b *Binder) now() types.TimestampTZValue {
	return types.TimestampTZValue(time.Now().UnixMicro())
}

// commonType resolves the type of CASE arms, COALESCE/GREATEST arguments
// and IN lists as PostgreSQL's select_common_type does: unknowns take the
// others' type (text when all are unknown); numbers promote; dates and
// timestamps widen; anything else must match (42804).
func (b *Binder) commonType(es []plan.Expr, what string, loc int32) ([]plan.Expr, types.T, error) {
	t := types.Unknown
	for _, e := range es {
		et := e.Type()
		switch {
		case et == types.Unknown:
		case t == types.Unknown, t == et:
			t = et
		case t.IsNumeric() && et.IsNumeric():
			t = types.Promote(t, et)
		case implicitCost(t, et) > 0:
			t = et
		case implicitCost(et, t) > 0:
		default:
			return nil, 0, b.errAt(sqlerr.New(sqlerr.CodeDatatypeMismatch, "%s types %s and %s cannot be matched", what, t.SQLName(), et.SQLName()), loc)
		}
	}
	if t == types.Unknown {
		t = types.Text
	}
	out := make([]plan.Expr, len(es))
	for i, e := range es {
		c, err := b.coerce(e, t)
		if err != nil {
			return nil, 0, err
		}
		if c, err = castTo(c, t); err != nil {
			return nil, 0, b.errAt(sqlerr.As(err), loc)
		}
		out[i] = c
	}
	return out, t, nil
}

// exprExt binds the expression nodes expr does not know.
func (b *Binder) exprExt(n *pg_query.Node, ec *exprCtx) (plan.Expr, error) {
	switch x := n.Node.(type) {
	case *pg_query.Node_CaseExpr:
		return b.caseExpr(x.CaseExpr, ec)
	case *pg_query.Node_CoalesceExpr:
		args, err := b.exprs(x.CoalesceExpr.Args, ec)
		if err != nil {
			return nil, err
		}
		args, t, err := b.commonType(args, "COALESCE", x.CoalesceExpr.Location)
		if err != nil {
			return nil, err
		}
		return &plan.Coalesce{Args: args, T: t}, nil
	case *pg_query.Node_MinMaxExpr:
		mm := x.MinMaxExpr
		what, greatest := "LEAST", mm.Op == pg_query.MinMaxOp_IS_GREATEST
		if greatest {
			what = "GREATEST"
		}
		args, err := b.exprs(mm.Args, ec)
		if err != nil {
			return nil, err
		}
		args, t, err := b.commonType(args, what, mm.Location)
		if err != nil {
			return nil, err
		}
		return &plan.Func{Name: strings.ToLower(what), Args: args, T: t, Eval: func(a []any) (any, error) {
			var best any
			for _, v := range a {
				if v == nil {
					continue
				}
				if best == nil {
					best = v
					continue
				}
				c := types.Compare(v, best)
				if (greatest && c > 0) || (!greatest && c < 0) {
					best = v
				}
			}
			return best, nil
		}}, nil
	case *pg_query.Node_SqlvalueFunction:
		sv := x.SqlvalueFunction
		now := b.now()
		switch sv.Op {
		case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
			return &plan.Const{Value: types.DateValue(int64(now) / 86_400_000_000), T: types.Date}, nil
		case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
			return &plan.Const{Value: now, T: types.TimestampTZ}, nil
		case pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
			return &plan.Const{Value: types.TimestampValue(now), T: types.Timestamp}, nil
		case pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME_N:
			return &plan.Const{Value: types.TimeValue(int64(now) % 86_400_000_000), T: types.Time}, nil
		}
		return nil, b.errAt(sqlerr.NotSupported("SQL value function "+strings.ToLower(strings.TrimPrefix(sv.Op.String(), "SVFOP_"))), sv.Location)
	case *pg_query.Node_BooleanTest:
		bt := x.BooleanTest
		arg, err := b.boolArg(bt.Arg, ec, "IS TRUE")
		if err != nil {
			return nil, err
		}
		kind := bt.Booltesttype
		return &plan.Func{Name: strings.ToLower(strings.ReplaceAll(kind.String(), "_", " ")), Args: []plan.Expr{arg}, T: types.Bool,
			Eval: func(a []any) (any, error) {
				v, isNull := a[0].(bool)
				isNull = !isNull
				switch kind {
				case pg_query.BoolTestType_IS_TRUE:
					return !isNull && v, nil
				case pg_query.BoolTestType_IS_NOT_TRUE:
					return isNull || !v, nil
				case pg_query.BoolTestType_IS_FALSE:
					return !isNull && !v, nil
				case pg_query.BoolTestType_IS_NOT_FALSE:
					return isNull || v, nil
				case pg_query.BoolTestType_IS_UNKNOWN:
					return isNull, nil
				}
				return !isNull, nil
			}}, nil
	}
	if e, ok, err := b.exprCatalog(n, ec); ok {
		return e, err
	}
	name := strings.TrimPrefix(strings.TrimPrefix(typeName(n), "*pg_query.Node_"), "A")
	return nil, sqlerr.NotSupported("expression " + name)
}

func (b *Binder) exprs(ns []*pg_query.Node, ec *exprCtx) ([]plan.Expr, error) {
	out := make([]plan.Expr, len(ns))
	for i, n := range ns {
		e, err := b.expr(n, ec)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func (b *Binder) caseExpr(c *pg_query.CaseExpr, ec *exprCtx) (plan.Expr, error) {
	var operand plan.Expr
	if c.Arg != nil {
		e, err := b.expr(c.Arg, ec)
		if err != nil {
			return nil, err
		}
		operand = e
	}
	var conds, results []plan.Expr
	for _, w := range c.Args {
		cw := w.GetCaseWhen()
		var cond plan.Expr
		var err error
		if operand != nil {
			r, err := b.expr(cw.Expr, ec)
			if err != nil {
				return nil, err
			}
			if cond, err = b.compare(plan.EQ, operand, r, "=", cw.Location); err != nil {
				return nil, err
			}
		} else if cond, err = b.boolArg(cw.Expr, ec, "CASE/WHEN"); err != nil {
			return nil, err
		}
		res, err := b.expr(cw.Result, ec)
		if err != nil {
			return nil, err
		}
		conds = append(conds, cond)
		results = append(results, res)
	}
	if c.Defresult != nil {
		e, err := b.expr(c.Defresult, ec)
		if err != nil {
			return nil, err
		}
		results = append(results, e)
	}
	results, t, err := b.commonType(results, "CASE", c.Location)
	if err != nil {
		return nil, err
	}
	out := &plan.Case{T: t}
	for i, cond := range conds {
		out.Whens = append(out.Whens, plan.When{Cond: cond, Then: results[i]})
	}
	if c.Defresult != nil {
		out.Else = results[len(results)-1]
	}
	return out, nil
}

// aExprExt binds the A_Expr kinds other than plain operators.
func (b *Binder) aExprExt(a *pg_query.A_Expr, ec *exprCtx) (plan.Expr, error) {
	switch a.Kind {
	case pg_query.A_Expr_Kind_AEXPR_IN, pg_query.A_Expr_Kind_AEXPR_OP_ANY:
		op := opName(a.Name)
		var items []*pg_query.Node
		switch r := a.Rexpr.Node.(type) {
		case *pg_query.Node_List:
			items = r.List.Items
		case *pg_query.Node_AArrayExpr:
			items = r.AArrayExpr.Elements
		default:
			return b.anyArray(a, ec)
		}
		if a.Kind == pg_query.A_Expr_Kind_AEXPR_OP_ANY && op != "=" {
			return nil, b.errAt(sqlerr.NotSupported("ANY with operator "+op), a.Location)
		}
		cmpOp, not := plan.EQ, op == "<>"
		if not {
			cmpOp = plan.NE
		}
		l, err := b.expr(a.Lexpr, ec)
		if err != nil {
			return nil, err
		}
		rs, err := b.exprs(items, ec)
		if err != nil {
			return nil, err
		}
		all, _, err := b.commonType(append([]plan.Expr{l}, rs...), "IN", a.Location)
		if err != nil {
			return nil, err
		}
		var out plan.Expr
		for _, r := range all[1:] {
			c, err := b.compare(cmpOp, all[0], r, op, a.Location)
			if err != nil {
				return nil, err
			}
			switch {
			case out == nil:
				out = c
			case not:
				out = &plan.And{L: out, R: c}
			default:
				out = &plan.Or{L: out, R: c}
			}
		}
		return out, nil
	case pg_query.A_Expr_Kind_AEXPR_OP_ALL:
		return b.anyArray(a, ec)
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN,
		pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		bounds := a.Rexpr.GetList().GetItems()
		x, err := b.expr(a.Lexpr, ec)
		if err != nil {
			return nil, err
		}
		lo, err := b.expr(bounds[0], ec)
		if err != nil {
			return nil, err
		}
		hi, err := b.expr(bounds[1], ec)
		if err != nil {
			return nil, err
		}
		within := func(lo, hi plan.Expr) (plan.Expr, error) {
			ge, err := b.compare(plan.GE, x, lo, ">=", a.Location)
			if err != nil {
				return nil, err
			}
			le, err := b.compare(plan.LE, x, hi, "<=", a.Location)
			if err != nil {
				return nil, err
			}
			return &plan.And{L: ge, R: le}, nil
		}
		in, err := within(lo, hi)
		if err != nil {
			return nil, err
		}
		if a.Kind == pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM || a.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
			rev, err := within(hi, lo)
			if err != nil {
				return nil, err
			}
			in = &plan.Or{L: in, R: rev}
		}
		if a.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN || a.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
			return &plan.Not{X: in}, nil
		}
		return in, nil
	case pg_query.A_Expr_Kind_AEXPR_LIKE, pg_query.A_Expr_Kind_AEXPR_ILIKE:
		op := opName(a.Name)
		name := map[string]string{"~~": "like", "!~~": "notlike", "~~*": "ilike", "!~~*": "notilike"}[op]
		l, err := b.expr(a.Lexpr, ec)
		if err != nil {
			return nil, err
		}
		args := []plan.Expr{l}
		if fc := a.Rexpr.GetFuncCall(); fc != nil && strings.HasSuffix(opName(fc.Funcname), "like_escape") {
			es, err := b.exprs(fc.Args, ec)
			if err != nil {
				return nil, err
			}
			args = append(args, es...)
		} else {
			r, err := b.expr(a.Rexpr, ec)
			if err != nil {
				return nil, err
			}
			args = append(args, r)
		}
		return b.resolveFunc(name, args, a.Location)
	case pg_query.A_Expr_Kind_AEXPR_DISTINCT, pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		l, err := b.expr(a.Lexpr, ec)
		if err != nil {
			return nil, err
		}
		r, err := b.expr(a.Rexpr, ec)
		if err != nil {
			return nil, err
		}
		c, err := b.compare(plan.EQ, l, r, "=", a.Location)
		if err != nil {
			return nil, err
		}
		cmp := c.(*plan.Cmp)
		distinct := a.Kind == pg_query.A_Expr_Kind_AEXPR_DISTINCT
		name := "is not distinct from"
		if distinct {
			name = "is distinct from"
		}
		return &plan.Func{Name: name, Args: []plan.Expr{cmp.L, cmp.R}, T: types.Bool, Eval: func(v []any) (any, error) {
			var same bool
			switch {
			case v[0] == nil && v[1] == nil:
				same = true
			case v[0] == nil || v[1] == nil:
				same = false
			default:
				same = types.Compare(v[0], v[1]) == 0
			}
			return same != distinct, nil
		}}, nil
	case pg_query.A_Expr_Kind_AEXPR_NULLIF:
		l, err := b.expr(a.Lexpr, ec)
		if err != nil {
			return nil, err
		}
		r, err := b.expr(a.Rexpr, ec)
		if err != nil {
			return nil, err
		}
		if l, r, err = b.unify(l, r); err != nil {
			return nil, err
		}
		c, err := b.compare(plan.EQ, l, r, "=", a.Location)
		if err != nil {
			return nil, err
		}
		return &plan.Case{Whens: []plan.When{{Cond: c, Then: &plan.Const{T: l.Type()}}}, Else: l, T: l.Type()}, nil
	}
	feature := strings.TrimPrefix(a.Kind.String(), "AEXPR_")
	return nil, b.errAt(sqlerr.NotSupported(feature), a.Location)
}

// opExt binds the binary operators beyond + - * / and comparisons: %,
// ||, and the jsonb operators; ok is false for other operators.
func (b *Binder) opExt(op string, l, r plan.Expr, loc int32) (plan.Expr, bool, error) {
	if e, ok, err := b.opCatalog(op, l, r, loc); ok {
		return e, true, err
	}
	switch op {
	case "%":
		l, r, err := b.unify(l, r)
		if err != nil {
			return nil, true, err
		}
		if !l.Type().IsNumeric() || !r.Type().IsNumeric() || l.Type().IsFloat() || r.Type().IsFloat() {
			return nil, true, b.noOperator(op, l, r, loc)
		}
		t := types.Promote(l.Type(), r.Type())
		if l, r, err = castBoth(l, r, t); err != nil {
			return nil, true, b.errAt(sqlerr.As(err), loc)
		}
		e, err := b.resolveFunc("mod", []plan.Expr{l, r}, loc)
		return e, true, err
	case "||":
		lt, rt := l.Type(), r.Type()
		if lt == types.Bytea && (rt == types.Bytea || rt == types.Unknown) || rt == types.Bytea && lt == types.Unknown {
			l, r, err := b.unify(l, r)
			if err != nil {
				return nil, true, err
			}
			return b.fold(&plan.Func{Name: "||", Args: []plan.Expr{l, r}, T: types.Bytea, Strict: true, Eval: func(a []any) (any, error) {
				return append(append([]byte{}, a[0].([]byte)...), a[1].([]byte)...), nil
			}}, loc)
		}
		if lt != types.Text && rt != types.Text && lt != types.Unknown && rt != types.Unknown {
			return nil, true, b.noOperator(op, l, r, loc)
		}
		args := []plan.Expr{l, r}
		for i, a := range args {
			a, err := b.coerce(a, types.Text)
			if err != nil {
				return nil, true, err
			}
			if args[i], err = castTo(a, types.Text); err != nil {
				return nil, true, b.errAt(sqlerr.As(err), loc)
			}
		}
		return b.fold(&plan.Func{Name: "||", Args: args, T: types.Text, Strict: true, Eval: func(a []any) (any, error) {
			return a[0].(string) + a[1].(string), nil
		}}, loc)
	case "->", "->>", "@>", "<@", "?":
		e, err := b.resolveFunc(op, []plan.Expr{l, r}, loc)
		return e, true, err
	}
	return nil, false, nil
}

// fold folds a call over constants.
func (b *Binder) fold(f *plan.Func, loc int32) (plan.Expr, bool, error) {
	for _, a := range f.Args {
		if _, ok := a.(*plan.Const); !ok {
			return f, true, nil
		}
	}
	e, err := foldFunc(f, b, loc)
	return e, true, err
}

// arithExt binds + - * / over the date/time types and the arithmetic of
// unknown literals against them; ok is false when plain numeric
// arithmetic applies.
func (b *Binder) arithExt(op plan.ArithOp, l, r plan.Expr, name string, loc int32) (plan.Expr, bool, error) {
	lt, rt := l.Type(), r.Type()
	dt := func(t types.T) bool { return t.IsDatetime() || t == types.Interval }
	if !dt(lt) && !dt(rt) {
		return nil, false, nil
	}
	var err error
	// An unknown literal against a datetime: the same type for "-", an
	// interval otherwise (timestamp + '1 day').
	if lt == types.Unknown || rt == types.Unknown {
		other := rt
		if rt == types.Unknown {
			other = lt
		}
		guess := types.Interval
		if name == "-" && lt != types.Unknown && other != types.Interval {
			guess = other
		}
		if name == "*" || name == "/" {
			guess = types.Float8
		}
		if lt == types.Unknown {
			l, err = b.coerce(l, guess)
		} else {
			r, err = b.coerce(r, guess)
		}
		if err != nil {
			return nil, true, err
		}
		lt, rt = l.Type(), r.Type()
	}
	res, lc, rc, ok := types.DatetimeArith(name, lt, rt)
	if !ok {
		return nil, true, b.noOperator(name, l, r, loc)
	}
	if l, err = castTo(l, lc); err != nil {
		return nil, true, b.errAt(sqlerr.As(err), loc)
	}
	if r, err = castTo(r, rc); err != nil {
		return nil, true, b.errAt(sqlerr.As(err), loc)
	}
	e := &plan.Arith{Op: op, L: l, R: r, T: res}
	lc2, lok := l.(*plan.Const)
	rc2, rok := r.(*plan.Const)
	if lok && rok {
		if lc2.Value == nil || rc2.Value == nil {
			return &plan.Const{T: res}, true, nil
		}
		v, err := types.Arith(name, lc2.Value, rc2.Value)
		if err != nil {
			return nil, true, b.errAt(sqlerr.As(err), loc)
		}
		return &plan.Const{Value: v, T: res}, true, nil
	}
	return e, true, nil
}

// negateExt binds unary minus over int2, float4, numeric and interval.
func (b *Binder) negateExt(x plan.Expr, loc int32) (plan.Expr, bool, error) {
	t := x.Type()
	switch t {
	case types.Int2, types.Float4, types.Numeric, types.Interval:
	default:
		return nil, false, nil
	}
	f := &plan.Func{Name: "-", Args: []plan.Expr{x}, T: t, Strict: true, Eval: func(a []any) (any, error) {
		switch v := a[0].(type) {
		case int16:
			if v == -32768 {
				return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "smallint out of range")
			}
			return -v, nil
		case float32:
			return -v, nil
		case types.Decimal:
			return v.Neg(), nil
		case types.IntervalValue:
			return v.Neg(), nil
		}
		return nil, sqlerr.New(sqlerr.CodeInternalError, "negate %T", a[0])
	}}
	return b.fold(f, loc)
}

// datetimeCommon is the type two different date/time types compare in
// (Unknown when they do not compare).
func datetimeCommon(a, b types.T) types.T {
	switch {
	case implicitCost(a, b) > 0 && b.IsDatetime():
		return b
	case implicitCost(b, a) > 0 && a.IsDatetime():
		return a
	}
	return types.Unknown
}

// castableExt reports whether PostgreSQL has an explicit cast between two
// types, one of them added with the value types.
func castableExt(from, to types.T) bool {
	if from.IsArray() || to.IsArray() {
		return castableArray(from, to)
	}
	switch {
	case from == to, from == types.Text, to == types.Text:
		return true
	case from.IsNumeric() && to.IsNumeric():
		return true
	case from == types.JSONB && (to.IsNumeric() || to == types.Bool):
		return true
	case from == types.Date && (to == types.Timestamp || to == types.TimestampTZ):
		return true
	case (from == types.Timestamp || from == types.TimestampTZ) && (to == types.Date || to == types.Time || to == types.Timestamp || to == types.TimestampTZ):
		return true
	case from == types.Time && to == types.Interval, from == types.Interval && to == types.Time:
		return true
	case from == types.Bool && to == types.Int4, from == types.Int4 && to == types.Bool:
		return true
	}
	return false
}

// assignable reports whether PostgreSQL stores a value of type from into a
// column of type to (an assignment cast).
func assignable(from, to types.T) bool {
	switch {
	case from == to, to == types.Text:
		return true
	case from.IsNumeric() && to.IsNumeric():
		return true
	case from == types.Date && (to == types.Timestamp || to == types.TimestampTZ):
		return true
	case (from == types.Timestamp || from == types.TimestampTZ) && (to == types.Date || to == types.Time || to == types.Timestamp || to == types.TimestampTZ):
		return true
	case from == types.Time && to == types.Interval:
		return true
	}
	return false
}

// aggTypeExt is the result type of the aggregates over the later types
// and of sum/avg over integers (numeric, as in PostgreSQL); ok false
// defers to aggType.
func aggTypeExt(fn plan.AggFunc, t types.T) (types.T, bool, bool) {
	switch fn {
	case plan.Sum:
		switch t {
		case types.Int2:
			return types.Int8, true, true
		case types.Int8, types.Numeric:
			return types.Numeric, true, true
		case types.Float4:
			return types.Float4, true, true
		case types.Interval:
			return types.Interval, true, true
		}
	case plan.Avg:
		switch t {
		case types.Int2, types.Int4, types.Int8, types.Numeric:
			return types.Numeric, true, true
		case types.Float4:
			return types.Float8, true, true
		case types.Interval:
			return types.Interval, true, true
		}
	case plan.Min, plan.Max:
		if t >= types.Int2 {
			return t, t != types.JSONB, true
		}
	}
	return types.Unknown, false, false
}

// hasAggregateExt looks for aggregate calls inside the nodes hasAggregate
// does not walk.
func hasAggregateExt(n *pg_query.Node) bool {
	any := func(ns []*pg_query.Node) bool {
		for _, x := range ns {
			if hasAggregate(x) {
				return true
			}
		}
		return false
	}
	switch x := n.Node.(type) {
	case *pg_query.Node_FuncCall:
		return any(x.FuncCall.Args)
	case *pg_query.Node_CaseExpr:
		if hasAggregate(x.CaseExpr.Arg) || hasAggregate(x.CaseExpr.Defresult) {
			return true
		}
		for _, w := range x.CaseExpr.Args {
			if cw := w.GetCaseWhen(); cw != nil && (hasAggregate(cw.Expr) || hasAggregate(cw.Result)) {
				return true
			}
		}
	case *pg_query.Node_CoalesceExpr:
		return any(x.CoalesceExpr.Args)
	case *pg_query.Node_MinMaxExpr:
		return any(x.MinMaxExpr.Args)
	case *pg_query.Node_List:
		return any(x.List.Items)
	case *pg_query.Node_BooleanTest:
		return hasAggregate(x.BooleanTest.Arg)
	}
	return false
}

// intervalFieldUnit gives a bare number in INTERVAL '90' DAY (and the other
// single-field forms) the field's unit, as PostgreSQL reads it.
func intervalFieldUnit(x plan.Expr, tn *pg_query.TypeName) {
	u, ok := x.(*unknownLit)
	if !ok || u.isNull || u.isParam || len(tn.Typmods) == 0 {
		return
	}
	c := tn.Typmods[0].GetAConst()
	if c == nil || c.GetIval() == nil {
		return
	}
	unit := map[int32]string{1 << 2: "year", 1 << 1: "month", 1 << 3: "day", 1 << 10: "hour", 1 << 11: "minute", 1 << 12: "second"}[c.GetIval().Ival]
	if _, err := strconv.ParseFloat(strings.TrimSpace(u.text), 64); err == nil && unit != "" {
		u.text = strings.TrimSpace(u.text) + " " + unit
	}
}
