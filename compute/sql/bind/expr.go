package bind

import (
	"math"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// scope is the set of columns an expression may reference: the output of
// the FROM clause. A nil scope has no columns (SELECT without FROM, VALUES).
type scope struct {
	table string // table name
	alias string // alias, "" when none
	cols  []plan.Column
	// rels, when not nil, names the FROM items of a multi-item scope
	// (joins, derived tables, views, CTEs) and replaces table/alias; see
	// from.go.
	rels []scopeRel
	// hidden marks columns unqualified names do not reach (the two sides'
	// columns of JOIN ... USING, reached through the merged column).
	hidden []bool
	// star lists the columns * expands to; nil means all.
	star []int
	// outer is the scope of the enclosing query, for the correlated
	// references of a subquery.
	outer *scope
}

// exprCtx carries what an expression may contain where it is bound.
type exprCtx struct {
	sc *scope
	// aggs, when non-nil, collects aggregate calls: the expression is bound
	// above an Aggregate node and column references outside aggregates are
	// errors.
	aggs *[]plan.Agg
	// clause names where aggregates are forbidden ("WHERE", "VALUES"), ""
	// when they are allowed.
	noAggClause string
	// group, when non-nil, holds the GROUP BY keys the expression is bound
	// above (with aggs).
	group *grouping
	// att, when non-nil, is where subqueries join (subquery.go); nil
	// where subqueries are not supported.
	att *attach
	// wins, when non-nil, collects window function calls (window.go).
	wins *[]winCall
}

// unknownLit is an untyped literal ('abc', NULL) or a parameter whose type
// the context decides; see coerce. It never survives binding.
type unknownLit struct {
	text    string
	isNull  bool
	isParam bool
	param   any
	loc     int32
}

func (*unknownLit) Type() types.T    { return types.Unknown }
func (u *unknownLit) String() string { return "'" + u.text + "'" }

// coerce resolves an unknown literal to t; other expressions pass through.
func (b *Binder) coerce(e plan.Expr, t types.T) (plan.Expr, error) {
	u, ok := e.(*unknownLit)
	if !ok {
		return e, nil
	}
	var v any
	var err error
	switch {
	case u.isNull:
		if t == types.Unknown {
			t = types.Text
		}
	case u.isParam:
		if t == types.Unknown {
			t = types.InferParam(u.param)
		}
		v, err = types.CoerceParam(t, u.param)
	default:
		if t == types.Unknown {
			t = types.Text
		}
		v, err = types.ParseText(t, u.text)
	}
	if err != nil {
		if se := sqlerr.As(err); se != nil {
			return nil, b.errAt(se, u.loc)
		}
		return nil, err
	}
	return &plan.Const{Value: v, T: t}, nil
}

// finalize resolves a still-unknown expression to its default type.
func (b *Binder) finalize(e plan.Expr) (plan.Expr, error) {
	return b.coerce(e, types.Unknown)
}

// castTo wraps e in a cast to t unless it already has type t; constants
// are converted at once (so a bad constant fails at bind time, as in
// PostgreSQL, and costs nothing per batch).
func castTo(e plan.Expr, t types.T) (plan.Expr, error) {
	if e.Type() == t {
		return e, nil
	}
	if c, ok := e.(*plan.Const); ok {
		if c.Value == nil {
			return &plan.Const{T: t}, nil
		}
		v, err := types.Cast(c.Value, t)
		if err != nil {
			return nil, err
		}
		return &plan.Const{Value: v, T: t}, nil
	}
	return &plan.Cast{X: e, T: t}, nil
}

// castBoth casts two operands to t.
func castBoth(l, r plan.Expr, t types.T) (plan.Expr, plan.Expr, error) {
	l, err := castTo(l, t)
	if err != nil {
		return nil, nil, err
	}
	r, err = castTo(r, t)
	return l, r, err
}

// promote returns the common numeric type of two numeric types.
func promote(a, b types.T) types.T { return types.Promote(a, b) }

// expr binds a scalar expression.
func (b *Binder) expr(n *pg_query.Node, ec *exprCtx) (plan.Expr, error) {
	switch x := n.Node.(type) {
	case *pg_query.Node_AConst:
		return b.constant(x.AConst)
	case *pg_query.Node_ColumnRef:
		return b.columnRef(x.ColumnRef, ec)
	case *pg_query.Node_ParamRef:
		p := x.ParamRef
		if p.Number < 1 || int(p.Number) > len(b.params) {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedParameter, "there is no parameter $%d", p.Number), p.Location)
		}
		return &unknownLit{isParam: true, param: b.params[p.Number-1], text: "$" + strconv.Itoa(int(p.Number)), loc: p.Location}, nil
	case *pg_query.Node_AExpr:
		return b.aExpr(x.AExpr, ec)
	case *pg_query.Node_BoolExpr:
		return b.boolExpr(x.BoolExpr, ec)
	case *pg_query.Node_NullTest:
		arg, err := b.expr(x.NullTest.Arg, ec)
		if err != nil {
			return nil, err
		}
		if arg, err = b.finalize(arg); err != nil {
			return nil, err
		}
		return &plan.IsNull{X: arg, Negate: x.NullTest.Nulltesttype == pg_query.NullTestType_IS_NOT_NULL}, nil
	case *pg_query.Node_TypeCast:
		return b.typeCast(x.TypeCast, ec)
	case *pg_query.Node_FuncCall:
		return b.funcCall(x.FuncCall, ec)
	case *pg_query.Node_SetToDefault:
		return nil, b.errAt(sqlerr.NotSupported("DEFAULT in this context"), x.SetToDefault.Location)
	case *pg_query.Node_SubLink:
		return b.subLinkCatalog(x.SubLink, ec)
	default:
		return b.exprExt(n, ec)
	}
}

func (b *Binder) constant(c *pg_query.A_Const) (plan.Expr, error) {
	if c.Isnull {
		return &unknownLit{isNull: true, text: "NULL", loc: c.Location}, nil
	}
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Ival:
		return &plan.Const{Value: v.Ival.Ival, T: types.Int4}, nil
	case *pg_query.A_Const_Fval:
		s := v.Fval.Fval
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				if i >= math.MinInt32 && i <= math.MaxInt32 {
					return &plan.Const{Value: int32(i), T: types.Int4}, nil
				}
				return &plan.Const{Value: i, T: types.Int8}, nil
			}
		}
		d, err := types.ParseDecimal(s) // a literal with a point or exponent is numeric
		if err != nil {
			return nil, b.errAt(sqlerr.As(err), c.Location)
		}
		return &plan.Const{Value: d, T: types.Numeric}, nil
	case *pg_query.A_Const_Boolval:
		return &plan.Const{Value: v.Boolval.Boolval, T: types.Bool}, nil
	case *pg_query.A_Const_Sval:
		return &unknownLit{text: v.Sval.Sval, loc: c.Location}, nil
	default:
		return nil, b.errAt(sqlerr.NotSupported("bit-string literals"), c.Location)
	}
}

func (b *Binder) columnRef(cr *pg_query.ColumnRef, ec *exprCtx) (plan.Expr, error) {
	var parts []string
	for _, f := range cr.Fields {
		if _, ok := f.Node.(*pg_query.Node_AStar); ok {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeSyntaxError, "\"*\" is not allowed here"), cr.Location)
		}
		parts = append(parts, f.GetString_().GetSval())
	}
	if len(parts) == 3 && (isSystemSchema(parts[0]) || parts[0] == "public") {
		parts = parts[1:] // schema.table.column: relations are named by table here
	}
	name := parts[len(parts)-1]
	full := strings.Join(parts, ".")
	if len(parts) > 2 {
		return nil, b.errAt(sqlerr.NotSupported("qualified column name "+full), cr.Location)
	}
	qual := ""
	if len(parts) == 2 {
		qual = parts[0]
	}
	e, err := b.resolveColumn(ec.sc, qual, name, full)
	if err != nil {
		return nil, b.errAt(err, cr.Location)
	}
	return e, nil
}

func (s *scope) matches(q string) bool {
	if s.rels != nil {
		return s.rel(q) != nil
	}
	if s.alias != "" {
		return q == s.alias
	}
	return q == s.table
}

func (s *scope) qualified(col string) string {
	if s.rels != nil {
		return s.relQualified(col)
	}
	if s.alias != "" {
		return s.alias + "." + col
	}
	return s.table + "." + col
}

func opName(names []*pg_query.Node) string {
	var parts []string
	for _, n := range names {
		parts = append(parts, n.GetString_().GetSval())
	}
	return strings.Join(parts, ".")
}

func (b *Binder) aExpr(a *pg_query.A_Expr, ec *exprCtx) (plan.Expr, error) {
	if a.Kind != pg_query.A_Expr_Kind_AEXPR_OP {
		return b.aExprExt(a, ec)
	}
	op := strings.TrimPrefix(opName(a.Name), "pg_catalog.") // OPERATOR(pg_catalog.~)
	if a.Lexpr == nil {
		// Prefix operator: only unary minus and plus.
		x, err := b.expr(a.Rexpr, ec)
		if err != nil {
			return nil, err
		}
		switch op {
		case "-":
			if c, ok := x.(*plan.Const); ok && c.Value != nil {
				// Fold negative literals so -2147483648 is an int4.
				switch v := c.Value.(type) {
				case int32:
					if v != math.MinInt32 {
						return &plan.Const{Value: -v, T: types.Int4}, nil
					}
				case int64:
					if v == -math.MinInt32 {
						return &plan.Const{Value: int32(math.MinInt32), T: types.Int4}, nil
					}
					if v != math.MinInt64 {
						return &plan.Const{Value: -v, T: types.Int8}, nil
					}
				case float64:
					return &plan.Const{Value: -v, T: types.Float8}, nil
				case types.Decimal:
					return &plan.Const{Value: v.Neg(), T: types.Numeric}, nil
				}
			}
			if e, ok, err := b.negateExt(x, a.Location); ok {
				return e, err
			}
			return b.arith(plan.Sub, &plan.Const{Value: int32(0), T: types.Int4}, x, "-", a.Location)
		case "+":
			if !x.Type().IsNumeric() {
				return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "operator does not exist: + %s", x.Type().SQLName()), a.Location)
			}
			return x, nil
		}
		return nil, b.errAt(sqlerr.NotSupported("prefix operator "+op), a.Location)
	}
	l, err := b.expr(a.Lexpr, ec)
	if err != nil {
		return nil, err
	}
	r, err := b.expr(a.Rexpr, ec)
	if err != nil {
		return nil, err
	}
	switch op {
	case "+":
		return b.arith(plan.Add, l, r, op, a.Location)
	case "-":
		return b.arith(plan.Sub, l, r, op, a.Location)
	case "*":
		return b.arith(plan.Mul, l, r, op, a.Location)
	case "/":
		return b.arith(plan.Div, l, r, op, a.Location)
	case "=":
		return b.compare(plan.EQ, l, r, op, a.Location)
	case "<>", "!=":
		return b.compare(plan.NE, l, r, op, a.Location)
	case "<":
		return b.compare(plan.LT, l, r, op, a.Location)
	case "<=":
		return b.compare(plan.LE, l, r, op, a.Location)
	case ">":
		return b.compare(plan.GT, l, r, op, a.Location)
	case ">=":
		return b.compare(plan.GE, l, r, op, a.Location)
	}
	if e, ok, err := b.opExt(op, l, r, a.Location); ok {
		return e, err
	}
	return nil, b.errAt(sqlerr.NotSupported("operator "+op), a.Location)
}

// unify resolves unknown operands from the other side (text when both are
// unknown) so that binary operators see two typed operands.
func (b *Binder) unify(l, r plan.Expr) (plan.Expr, plan.Expr, error) {
	var err error
	if l.Type() == types.Unknown && r.Type() == types.Unknown {
		if l, err = b.finalize(l); err != nil {
			return nil, nil, err
		}
	}
	if l, err = b.coerce(l, r.Type()); err != nil {
		return nil, nil, err
	}
	if r, err = b.coerce(r, l.Type()); err != nil {
		return nil, nil, err
	}
	return l, r, nil
}

func (b *Binder) noOperator(op string, l, r plan.Expr, loc int32) error {
	return b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "operator does not exist: %s %s %s",
		l.Type().SQLName(), op, r.Type().SQLName()).
		WithHint("No operator matches the given name and argument types. You might need to add explicit type casts."), loc)
}

func (b *Binder) arith(op plan.ArithOp, l, r plan.Expr, name string, loc int32) (plan.Expr, error) {
	if e, ok, err := b.arithExt(op, l, r, name, loc); ok {
		return e, err
	}
	l, r, err := b.unify(l, r)
	if err != nil {
		return nil, err
	}
	if !l.Type().IsNumeric() || !r.Type().IsNumeric() {
		return nil, b.noOperator(name, l, r, loc)
	}
	t := promote(l.Type(), r.Type())
	if l, r, err = castBoth(l, r, t); err != nil {
		return nil, b.errAt(sqlerr.As(err), loc)
	}
	return &plan.Arith{Op: op, L: l, R: r, T: t}, nil
}

func (b *Binder) compare(op plan.CmpOp, l, r plan.Expr, name string, loc int32) (plan.Expr, error) {
	l, r, err := b.unify(l, r)
	if err != nil {
		return nil, err
	}
	lt, rt := l.Type(), r.Type()
	switch {
	case lt == rt:
	case lt.IsNumeric() && rt.IsNumeric():
		if l, r, err = castBoth(l, r, promote(lt, rt)); err != nil {
			return nil, b.errAt(sqlerr.As(err), loc)
		}
	case datetimeCommon(lt, rt) != types.Unknown:
		if l, r, err = castBoth(l, r, datetimeCommon(lt, rt)); err != nil {
			return nil, b.errAt(sqlerr.As(err), loc)
		}
	default:
		return nil, b.noOperator(name, l, r, loc)
	}
	return &plan.Cmp{Op: op, L: l, R: r}, nil
}

// boolArg binds an argument that must be boolean (AND, OR, NOT, WHERE).
func (b *Binder) boolArg(n *pg_query.Node, ec *exprCtx, what string) (plan.Expr, error) {
	e, err := b.expr(n, ec)
	if err != nil {
		return nil, err
	}
	if e, err = b.coerce(e, types.Bool); err != nil {
		return nil, err
	}
	if e.Type() != types.Bool {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeDatatypeMismatch, "argument of %s must be type boolean, not type %s",
			what, e.Type().SQLName()), exprLocation(n))
	}
	return e, nil
}

func (b *Binder) boolExpr(be *pg_query.BoolExpr, ec *exprCtx) (plan.Expr, error) {
	what := map[pg_query.BoolExprType]string{
		pg_query.BoolExprType_AND_EXPR: "AND", pg_query.BoolExprType_OR_EXPR: "OR", pg_query.BoolExprType_NOT_EXPR: "NOT",
	}[be.Boolop]
	var out plan.Expr
	for _, a := range be.Args {
		e, err := b.boolArg(a, ec, what)
		if err != nil {
			return nil, err
		}
		switch {
		case be.Boolop == pg_query.BoolExprType_NOT_EXPR:
			return &plan.Not{X: e}, nil
		case out == nil:
			out = e
		case be.Boolop == pg_query.BoolExprType_AND_EXPR:
			out = &plan.And{L: out, R: e}
		default:
			out = &plan.Or{L: out, R: e}
		}
	}
	return out, nil
}

// castable reports whether PostgreSQL has a cast from one type to another
// among the supported types.
func castable(from, to types.T) bool {
	if from >= types.Int2 || to >= types.Int2 {
		return castableExt(from, to)
	}
	switch {
	case from == to, from == types.Text, to == types.Text:
		return true
	case from.IsNumeric() && to.IsNumeric():
		return true
	case from == types.Bool && to == types.Int4, from == types.Int4 && to == types.Bool:
		return true
	}
	return false
}

func (b *Binder) typeCast(tc *pg_query.TypeCast, ec *exprCtx) (plan.Expr, error) {
	if e, ok, err := b.regCast(tc, ec); ok {
		return e, err
	}
	t, mod, err := b.typeAndMod(tc.TypeName)
	if err != nil {
		return nil, err
	}
	x, err := b.typedArg(tc.Arg, t, ec)
	if err != nil {
		return nil, err
	}
	if t == types.Interval {
		intervalFieldUnit(x, tc.TypeName)
	}
	var out plan.Expr
	if x.Type() == types.Unknown {
		if out, err = b.coerce(x, t); err != nil {
			return nil, err
		}
	} else {
		if !castable(x.Type(), t) {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeCannotCoerce, "cannot cast type %s to %s", x.Type().SQLName(), t.SQLName()), tc.Location)
		}
		if out, err = castTo(x, t); err != nil {
			return nil, b.errAt(sqlerr.As(err), tc.Location)
		}
	}
	if out, err = withMod(out, t, mod, true); err != nil {
		return nil, b.errAt(sqlerr.As(err), tc.Location)
	}
	return out, nil
}

// aggFuncs maps aggregate function names to plan functions.
var aggFuncs = map[string]plan.AggFunc{
	"count": plan.Count, "sum": plan.Sum, "avg": plan.Avg, "min": plan.Min, "max": plan.Max,
	"bool_and": plan.BoolAnd, "bool_or": plan.BoolOr, "every": plan.BoolAnd,
	"string_agg": plan.StringAgg, "array_agg": plan.ArrayAgg,
}

// aggName returns the aggregate a function name calls, ok false when it is
// not an aggregate.
func aggName(names []*pg_query.Node) (string, plan.AggFunc, bool) {
	name := strings.TrimPrefix(opName(names), "pg_catalog.")
	f, ok := aggFuncs[name]
	return name, f, ok
}

func (b *Binder) funcCall(fc *pg_query.FuncCall, ec *exprCtx) (plan.Expr, error) {
	if e, ok, err := b.callCatalog(fc, ec); ok {
		return e, err
	}
	if e, ok, err := b.seqFunc(fc, ec); ok {
		return e, err
	}
	if fc.Over != nil {
		return b.windowCall(fc, ec)
	}
	name, fn, ok := aggName(fc.Funcname)
	if !ok {
		return b.scalarFunc(fc, ec)
	}
	if fn == plan.StringAgg || fn == plan.ArrayAgg {
		return b.listAgg(fc, ec, name, fn)
	}
	switch {
	case fc.Over != nil:
		return nil, b.errAt(sqlerr.NotSupported("window functions"), fc.Location)
	case fc.AggFilter != nil || len(fc.AggOrder) > 0 || fc.AggWithinGroup:
		return nil, b.errAt(sqlerr.NotSupported("aggregate FILTER/ORDER BY"), fc.Location)
	case fc.FuncVariadic:
		return nil, b.errAt(sqlerr.NotSupported("VARIADIC"), fc.Location)
	case ec.noAggClause != "":
		return nil, b.errAt(sqlerr.New(sqlerr.CodeGroupingError, "aggregate functions are not allowed in %s", ec.noAggClause), fc.Location)
	case ec.aggs == nil:
		return nil, b.errAt(sqlerr.New(sqlerr.CodeGroupingError, "aggregate function calls cannot be nested"), fc.Location)
	}
	agg := plan.Agg{Func: plan.CountStar, T: types.Int8}
	if !fc.AggStar {
		if len(fc.Args) != 1 {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function %s() with %d arguments does not exist", name, len(fc.Args)), fc.Location)
		}
		inner := &exprCtx{sc: ec.sc, noAggClause: ""}
		arg, err := b.expr(fc.Args[0], inner)
		if err != nil {
			return nil, err
		}
		if fn == plan.BoolAnd || fn == plan.BoolOr {
			arg, err = b.coerce(arg, types.Bool)
		} else {
			arg, err = b.finalize(arg)
		}
		if err != nil {
			return nil, err
		}
		if fn == plan.Sum && arg.Type() == types.Int2 {
			arg = &plan.Cast{X: arg, T: types.Int4} // summed as int4, into int8
		}
		agg = plan.Agg{Func: fn, Arg: arg, Distinct: fc.AggDistinct}
		if agg.T, ok = aggType(fn, arg.Type()); !ok {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function %s(%s) does not exist", name, arg.Type().SQLName()).
				WithHint("No function matches the given name and argument types. You might need to add explicit type casts."), fc.Location)
		}
	} else if name != "count" {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function %s() does not exist", name).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts."), fc.Location)
	}
	// The same aggregate twice (in the select list and ORDER BY, say) is
	// computed once.
	for i, a := range *ec.aggs {
		if a.Func == agg.Func && a.Distinct == agg.Distinct && (a.Arg == nil) == (agg.Arg == nil) &&
			(a.Arg == nil || a.Arg.String() == agg.Arg.String()) {
			return &aggRef{idx: i, name: name, t: agg.T}, nil
		}
	}
	*ec.aggs = append(*ec.aggs, agg)
	return &aggRef{idx: len(*ec.aggs) - 1, name: name, t: agg.T}, nil
}

// aggType is the result type of an aggregate over an argument of type t
// (PostgreSQL's, except that sum(int8) is int8 rather than numeric and
// avg of integers float8 rather than numeric); ok false when there is no
// such aggregate.
func aggType(fn plan.AggFunc, t types.T) (types.T, bool) {
	if rt, ok, decided := aggTypeExt(fn, t); decided {
		return rt, ok
	}
	switch fn {
	case plan.Count:
		return types.Int8, true
	case plan.Sum:
		switch t {
		case types.Int4, types.Int8:
			return types.Int8, true
		case types.Float8:
			return types.Float8, true
		}
	case plan.Avg:
		return types.Float8, t.IsNumeric()
	case plan.Min, plan.Max:
		return t, t.IsNumeric() || t == types.Text
	case plan.BoolAnd, plan.BoolOr:
		return types.Bool, t == types.Bool
	}
	return types.Unknown, false
}

// aggRef stands for the result of aggregate idx while the expressions
// above an Aggregate are bound; ungroup replaces it. It never survives
// binding.
type aggRef struct {
	idx  int
	name string
	t    types.T
}

func (a *aggRef) Type() types.T  { return a.t }
func (a *aggRef) String() string { return "agg#" + strconv.Itoa(a.idx) }

// hasAggregate reports whether an expression tree calls an aggregate.
func hasAggregate(n *pg_query.Node) bool {
	if n == nil {
		return false
	}
	switch x := n.Node.(type) {
	case *pg_query.Node_FuncCall:
		if x.FuncCall.Over != nil {
			for _, a := range x.FuncCall.Args {
				if hasAggregate(a) {
					return true
				}
			}
			return false
		}
		_, _, ok := aggName(x.FuncCall.Funcname)
		return ok || hasAggregateExt(n)
	case *pg_query.Node_ResTarget:
		return hasAggregate(x.ResTarget.Val)
	case *pg_query.Node_AExpr:
		return hasAggregate(x.AExpr.Lexpr) || hasAggregate(x.AExpr.Rexpr)
	case *pg_query.Node_BoolExpr:
		for _, a := range x.BoolExpr.Args {
			if hasAggregate(a) {
				return true
			}
		}
	case *pg_query.Node_NullTest:
		return hasAggregate(x.NullTest.Arg)
	case *pg_query.Node_TypeCast:
		return hasAggregate(x.TypeCast.Arg)
	case *pg_query.Node_SortBy:
		return hasAggregate(x.SortBy.Node)
	default:
		return hasAggregateExt(n)
	}
	return false
}

// exprLocation returns the location of an expression node, -1 if unknown.
func exprLocation(n *pg_query.Node) int32 {
	switch x := n.Node.(type) {
	case *pg_query.Node_AConst:
		return x.AConst.Location
	case *pg_query.Node_ColumnRef:
		return x.ColumnRef.Location
	case *pg_query.Node_ParamRef:
		return x.ParamRef.Location
	case *pg_query.Node_AExpr:
		return x.AExpr.Location
	case *pg_query.Node_BoolExpr:
		return x.BoolExpr.Location
	case *pg_query.Node_NullTest:
		return x.NullTest.Location
	case *pg_query.Node_TypeCast:
		return x.TypeCast.Location
	case *pg_query.Node_FuncCall:
		return x.FuncCall.Location
	}
	return -1
}
