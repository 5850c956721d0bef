package bind

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/builtins"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Arrays in expressions: ARRAY[...], subscripts, x op ANY/ALL (array),
// ||, @> <@ &&, and the array functions (polymorphic, so typed here;
// implementations in builtins/array.go). See types/array.go for the
// representation.

const codeIndeterminateDatatype = "42P18"

// arrayExpr binds ARRAY[e, ...]; elem is the element type the context
// asks for (Unknown: the elements' common type).
func (b *Binder) arrayExpr(a *pg_query.A_ArrayExpr, elem types.T, ec *exprCtx) (plan.Expr, error) {
	es, err := b.exprs(a.Elements, ec)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		if e.Type().IsArray() {
			return nil, b.errAt(sqlerr.NotSupported("multidimensional arrays"), a.Location)
		}
	}
	t := elem
	if t == types.Unknown {
		if len(es) == 0 {
			return nil, b.errAt(sqlerr.New(codeIndeterminateDatatype, "cannot determine type of empty array").
				WithHint("Explicitly cast to the desired type, for example ARRAY[]::integer[]."), a.Location)
		}
		if es, t, err = b.commonType(es, "ARRAY", a.Location); err != nil {
			return nil, err
		}
	} else {
		for i, e := range es {
			if es[i], err = b.argAs(e, t, a.Location); err != nil {
				return nil, err
			}
		}
	}
	e, _, err := b.fold(&plan.Func{Name: "array", Args: es, T: types.ArrayOf(t), Eval: func(v []any) (any, error) {
		return types.ArrayValue{Elem: t, Elems: append([]any{}, v...)}, nil
	}}, a.Location)
	return e, err
}

// arrayArg resolves an argument that must be an array: an unknown literal
// becomes hint (text[] when hint is Unknown).
func (b *Binder) arrayArg(e plan.Expr, hint types.T, loc int32) (plan.Expr, error) {
	if e.Type() == types.Unknown {
		if hint == types.Unknown {
			hint = types.ArrayOf(types.Text)
		}
		return b.coerce(e, hint)
	}
	if !e.Type().IsArray() {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function argument of type %s is not an array", e.Type().SQLName()).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts."), loc)
	}
	return e, nil
}

// arrayFunc binds the array functions; ok is false for other names.
func (b *Binder) arrayFunc(name string, args []plan.Expr, loc int32) (plan.Expr, bool, error) {
	n := len(args)
	arrayFirst := func() (plan.Expr, error) { return b.arrayArg(args[0], types.Unknown, loc) }
	switch name {
	case "array_to_string":
		if n != 2 && n != 3 {
			return nil, false, nil
		}
		a, err := arrayFirst()
		if err != nil {
			return nil, true, err
		}
		ts := []types.T{a.Type(), types.Text, types.Text}[:n]
		e, err := b.call(name, append([]plan.Expr{a}, args[1:]...), ts, types.Text, false, loc, func(v []any) (any, error) {
			if v[0] == nil || v[1] == nil {
				return nil, nil
			}
			var null *string
			if n == 3 && v[2] != nil {
				s := v[2].(string)
				null = &s
			}
			return builtins.ArrayToString(v[0].(types.ArrayValue), v[1].(string), null), nil
		})
		return e, true, err
	case "array_length", "array_upper", "array_lower":
		if n != 2 {
			return nil, false, nil
		}
		a, err := arrayFirst()
		if err != nil {
			return nil, true, err
		}
		lower := name == "array_lower"
		e, err := b.call(name, []plan.Expr{a, args[1]}, []types.T{a.Type(), types.Int4}, types.Int4, true, loc, func(v []any) (any, error) {
			if lower {
				return builtins.ArrayLower(v[0].(types.ArrayValue), v[1].(int32)), nil
			}
			return builtins.ArrayLength(v[0].(types.ArrayValue), v[1].(int32)), nil
		})
		return e, true, err
	case "cardinality":
		if n != 1 {
			return nil, false, nil
		}
		a, err := arrayFirst()
		if err != nil {
			return nil, true, err
		}
		e, err := b.call(name, []plan.Expr{a}, []types.T{a.Type()}, types.Int4, true, loc, func(v []any) (any, error) {
			return int32(len(v[0].(types.ArrayValue).Elems)), nil
		})
		return e, true, err
	case "array_cat":
		if n != 2 {
			return nil, false, nil
		}
		e, err := b.arrayConcat(args[0], args[1], loc)
		return e, true, err
	case "array_append", "array_prepend", "array_position":
		if n != 2 {
			return nil, false, nil
		}
		ai, xi := 0, 1
		if name == "array_prepend" {
			ai, xi = 1, 0
		}
		a, err := b.arrayArg(args[ai], types.Unknown, loc)
		if err != nil {
			return nil, true, err
		}
		elem := a.Type().Elem()
		if name == "array_position" {
			e, err := b.call(name, []plan.Expr{a, args[xi]}, []types.T{a.Type(), elem}, types.Int4, false, loc, func(v []any) (any, error) {
				if v[0] == nil {
					return nil, nil
				}
				return builtins.ArrayPosition(v[0].(types.ArrayValue), v[1]), nil
			})
			return e, true, err
		}
		x, err := b.argAs(args[xi], elem, loc)
		if err != nil {
			return nil, true, err
		}
		if name == "array_prepend" {
			e, err := b.arrayConcat(x, a, loc)
			return e, true, err
		}
		e, err := b.arrayConcat(a, x, loc)
		return e, true, err
	}
	return nil, false, nil
}

// arrayConcat binds || with an array operand: array || array, array ||
// element, element || array (NULL arrays count as empty, as in
// PostgreSQL).
func (b *Binder) arrayConcat(l, r plan.Expr, loc int32) (plan.Expr, error) {
	lt, rt := l.Type(), r.Type()
	var err error
	switch {
	case lt.IsArray() && rt == types.Unknown:
		r, err = b.coerce(r, lt) // '{...}' literal, as PostgreSQL resolves it
	case rt.IsArray() && lt == types.Unknown:
		l, err = b.coerce(l, rt)
	}
	if err != nil {
		return nil, err
	}
	lt, rt = l.Type(), r.Type()
	toArray := func(v any, t types.T) types.ArrayValue {
		if a, ok := v.(types.ArrayValue); ok {
			return a
		}
		if v == nil && t.IsArray() {
			return types.ArrayValue{Elem: t.Elem()}
		}
		return types.ArrayValue{Elem: t, Elems: []any{v}}
	}
	var t types.T
	switch {
	case lt.IsArray() && rt.IsArray():
		if lt != rt {
			if l, r, err = castBoth(l, r, types.ArrayOf(promote(lt.Elem(), rt.Elem()))); err != nil || !lt.Elem().IsNumeric() || !rt.Elem().IsNumeric() {
				return nil, b.noOperator("||", l, r, loc)
			}
		}
		t = l.Type()
	case lt.IsArray():
		if r, err = b.argAs(r, lt.Elem(), loc); err != nil {
			return nil, err
		}
		t = lt
	default:
		if l, err = b.argAs(l, rt.Elem(), loc); err != nil {
			return nil, err
		}
		t = rt
	}
	ltt, rtt := l.Type(), r.Type()
	e, _, err := b.fold(&plan.Func{Name: "||", Args: []plan.Expr{l, r}, T: t, Eval: func(v []any) (any, error) {
		if v[0] == nil && v[1] == nil && ltt.IsArray() && rtt.IsArray() {
			return nil, nil
		}
		return builtins.ArrayCat(toArray(v[0], ltt), toArray(v[1], rtt)), nil
	}}, loc)
	return e, err
}

// arrayContains binds @>, <@ and && over two arrays of one element type.
func (b *Binder) arrayContains(op string, l, r plan.Expr, loc int32) (plan.Expr, error) {
	l, r, err := b.unify(l, r)
	if err != nil {
		return nil, err
	}
	if l.Type() != r.Type() || !l.Type().IsArray() {
		return nil, b.noOperator(op, l, r, loc)
	}
	e, _, err := b.fold(&plan.Func{Name: op, Args: []plan.Expr{l, r}, T: types.Bool, Strict: true, Eval: func(v []any) (any, error) {
		return builtins.ArrayOp(op, v[0].(types.ArrayValue), v[1].(types.ArrayValue))
	}}, loc)
	return e, err
}

// subscript binds a[i] (one subscript, no slices).
func (b *Binder) subscript(ind *pg_query.A_Indirection, ec *exprCtx) (plan.Expr, error) {
	x, err := b.expr(ind.Arg, ec)
	if err != nil {
		return nil, err
	}
	loc := exprLocation(ind.Arg)
	for _, in := range ind.Indirection {
		idx := in.GetAIndices()
		if idx == nil {
			return nil, b.errAt(sqlerr.NotSupported("field selection"), loc)
		}
		if idx.IsSlice {
			return nil, b.errAt(sqlerr.NotSupported("array slices"), loc)
		}
		if !x.Type().IsArray() {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeDatatypeMismatch, "cannot subscript type %s because it does not support subscripting", x.Type().SQLName()), loc)
		}
		i, err := b.expr(idx.Uidx, ec)
		if err != nil {
			return nil, err
		}
		if i, err = b.argAs(i, types.Int8, loc); err != nil {
			return nil, err
		}
		elem := x.Type().Elem()
		var done bool
		if x, done, err = b.fold(&plan.Func{Name: "subscript", Args: []plan.Expr{x, i}, T: elem, Strict: true, Eval: func(v []any) (any, error) {
			return builtins.Subscript(v[0].(types.ArrayValue), v[1].(int64)), nil
		}}, loc); err != nil || !done {
			return nil, err
		}
	}
	return x, nil
}

// anyArray binds x op ANY (array) and x op ALL (array) over an array
// value (ANY over a list or ARRAY[...] constructor is bound as IN).
func (b *Binder) anyArray(a *pg_query.A_Expr, ec *exprCtx) (plan.Expr, error) {
	op := opName(a.Name)
	ops := map[string]plan.CmpOp{"=": plan.EQ, "<>": plan.NE, "!=": plan.NE, "<": plan.LT, "<=": plan.LE, ">": plan.GT, ">=": plan.GE}
	cmpOp, ok := ops[op]
	if !ok {
		return nil, b.errAt(sqlerr.NotSupported("ANY/ALL with operator "+op), a.Location)
	}
	x, err := b.expr(a.Lexpr, ec)
	if err != nil {
		return nil, err
	}
	arr, err := b.expr(a.Rexpr, ec)
	if err != nil {
		return nil, err
	}
	if arr.Type() == types.Unknown {
		hint := types.ArrayOf(types.Text)
		if x.Type() != types.Unknown {
			hint = types.ArrayOf(x.Type())
		}
		if arr, err = b.coerce(arr, hint); err != nil {
			return nil, err
		}
	}
	if !arr.Type().IsArray() {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeDatatypeMismatch, "op ANY/ALL (array) requires array on right side"), a.Location)
	}
	elem := arr.Type().Elem()
	if x.Type() != elem && x.Type().IsNumeric() && elem.IsNumeric() {
		wide := promote(x.Type(), elem)
		if x, err = castTo(x, wide); err != nil {
			return nil, b.errAt(sqlerr.As(err), a.Location)
		}
		if arr, err = castTo(arr, types.ArrayOf(wide)); err != nil {
			return nil, b.errAt(sqlerr.As(err), a.Location)
		}
		elem = wide
	}
	if x, err = b.argAs(x, elem, a.Location); err != nil {
		return nil, err
	}
	all := a.Kind == pg_query.A_Expr_Kind_AEXPR_OP_ALL
	name := "any"
	if all {
		name = "all"
	}
	e, _, err := b.fold(&plan.Func{Name: op + " " + name, Args: []plan.Expr{x, arr}, T: types.Bool, Eval: func(v []any) (any, error) {
		if v[1] == nil {
			return nil, nil
		}
		return builtins.Quantified(v[0], v[1].(types.ArrayValue), all, cmpOp.Holds), nil
	}}, a.Location)
	return e, err
}

// castableArray reports whether an array cast exists: between arrays
// whose element types cast, and from or to text.
func castableArray(from, to types.T) bool {
	switch {
	case from.IsArray() && to.IsArray():
		return castable(from.Elem(), to.Elem())
	case from == types.Text || to == types.Text:
		return true
	}
	return false
}

// arrayTypeName resolves elem[] (one dimension; bounds are ignored, as
// PostgreSQL ignores them).
func (b *Binder) arrayTypeName(tn *pg_query.TypeName) (types.T, types.Mod, error) {
	c := &pg_query.TypeName{Names: tn.Names, Typmods: tn.Typmods, Location: tn.Location}
	elem, _, err := b.typeAndMod(c)
	if err != nil {
		return 0, 0, err
	}
	if elem.IsArray() {
		return 0, 0, b.errAt(sqlerr.NotSupported("multidimensional arrays"), tn.Location)
	}
	return types.ArrayOf(elem), 0, nil
}

// typedArg binds the operand of a cast to t: ARRAY[...] takes t's element
// type, so ARRAY[]::int[] and ARRAY['1']::int[] work as in PostgreSQL.
func (b *Binder) typedArg(n *pg_query.Node, t types.T, ec *exprCtx) (plan.Expr, error) {
	if ae := n.GetAArrayExpr(); ae != nil && t.IsArray() {
		return b.arrayExpr(ae, t.Elem(), ec)
	}
	return b.expr(n, ec)
}
