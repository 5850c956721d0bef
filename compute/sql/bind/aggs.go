package bind

import (
	"strconv"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// listAgg binds string_agg(text, delimiter [ORDER BY ...]) and
// array_agg(x [ORDER BY ...]). The delimiter must be a constant (PostgreSQL
// allows any expression); DISTINCT is allowed, FILTER is not.
func (b *Binder) listAgg(fc *pg_query.FuncCall, ec *exprCtx, name string, fn plan.AggFunc) (plan.Expr, error) {
	switch {
	case fc.AggFilter != nil || fc.AggWithinGroup:
		return nil, b.errAt(sqlerr.NotSupported("aggregate FILTER"), fc.Location)
	case fc.FuncVariadic:
		return nil, b.errAt(sqlerr.NotSupported("VARIADIC"), fc.Location)
	case ec.noAggClause != "":
		return nil, b.errAt(sqlerr.New(sqlerr.CodeGroupingError, "aggregate functions are not allowed in %s", ec.noAggClause), fc.Location)
	case ec.aggs == nil:
		return nil, b.errAt(sqlerr.New(sqlerr.CodeGroupingError, "aggregate function calls cannot be nested"), fc.Location)
	}
	want := 1
	if fn == plan.StringAgg {
		want = 2
	}
	if fc.AggStar || len(fc.Args) != want {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function %s with %d arguments does not exist", name, len(fc.Args)).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts."), fc.Location)
	}
	inner := &exprCtx{sc: ec.sc}
	arg, err := b.expr(fc.Args[0], inner)
	if err != nil {
		return nil, err
	}
	agg := plan.Agg{Func: fn, Distinct: fc.AggDistinct}
	if fn == plan.StringAgg {
		if arg, err = b.coerce(arg, types.Text); err != nil {
			return nil, err
		}
		if arg.Type() != types.Text {
			// string_agg(text, text) and (bytea, bytea) only, as in
			// PostgreSQL; bytea is not supported here.
			return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function string_agg(%s, unknown) does not exist", arg.Type().SQLName()).
				WithHint("No function matches the given name and argument types. You might need to add explicit type casts."), fc.Location)
		}
		sep, err := b.expr(fc.Args[1], inner)
		if err != nil {
			return nil, err
		}
		if sep, err = b.argAs(sep, types.Text, fc.Location); err != nil {
			return nil, err
		}
		c, ok := sep.(*plan.Const)
		if !ok {
			return nil, b.errAt(sqlerr.NotSupported("string_agg with a delimiter that is not a constant"), fc.Location)
		}
		if c.Value != nil {
			agg.Sep = c.Value.(string)
		}
		agg.T = types.Text
	} else {
		if arg, err = b.finalize(arg); err != nil {
			return nil, err
		}
		if arg.Type().IsArray() {
			return nil, b.errAt(sqlerr.NotSupported("array_agg of arrays (multidimensional arrays)"), fc.Location)
		}
		agg.T = types.ArrayOf(arg.Type())
	}
	agg.Arg = arg
	for _, sn := range fc.AggOrder {
		sb := sn.GetSortBy()
		if sb == nil {
			continue
		}
		if sb.UseOp != nil {
			return nil, b.errAt(sqlerr.NotSupported("ORDER BY ... USING"), fc.Location)
		}
		k, err := b.expr(sb.Node, inner)
		if err != nil {
			return nil, err
		}
		if k, err = b.finalize(k); err != nil {
			return nil, err
		}
		desc := sb.SortbyDir == pg_query.SortByDir_SORTBY_DESC
		nullsFirst := desc
		switch sb.SortbyNulls {
		case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
			nullsFirst = true
		case pg_query.SortByNulls_SORTBY_NULLS_LAST:
			nullsFirst = false
		}
		agg.OrderBy = append(agg.OrderBy, plan.AggOrder{Expr: k, Desc: desc, NullsFirst: nullsFirst})
	}
	if agg.Distinct && len(agg.OrderBy) > 0 {
		if len(agg.OrderBy) != 1 || agg.OrderBy[0].Expr.String() != agg.Arg.String() {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeInvalidColumnReference, "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list"), fc.Location)
		}
	}
	sig := aggSig(agg)
	for i, a := range *ec.aggs {
		if a.Func == agg.Func && aggSig(a) == sig {
			return &aggRef{idx: i, name: name, t: agg.T}, nil
		}
	}
	*ec.aggs = append(*ec.aggs, agg)
	return &aggRef{idx: len(*ec.aggs) - 1, name: name, t: agg.T}, nil
}

// aggSig identifies an aggregate call for reuse.
func aggSig(a plan.Agg) string {
	s := a.Func.String() + "|" + strconv.FormatBool(a.Distinct) + "|" + strconv.Quote(a.Sep) + "|"
	if a.Arg != nil {
		s += a.Arg.String()
	}
	for _, o := range a.OrderBy {
		s += "|" + o.Expr.String() + strconv.FormatBool(o.Desc) + strconv.FormatBool(o.NullsFirst)
	}
	return s
}
