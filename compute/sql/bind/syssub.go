package bind

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// subLinkCatalog binds a subquery expression: ARRAY(SELECT ...) here,
// the others in subquery.go. A subquery that cannot be decorrelated
// (0A000) over a provably empty input binds as a typed NULL instead: it
// would never be evaluated, so the result is the same as PostgreSQL's.
// psql's \d queries need this: they read pg_policy, pg_statistic_ext and
// pg_publication_rel (always empty here) with correlated subqueries the
// decorrelator does not handle. Other errors (unknown columns, type
// errors) still surface.
func (b *Binder) subLinkCatalog(sl *pg_query.SubLink, ec *exprCtx) (plan.Expr, error) {
	var e plan.Expr
	var err error
	if sl.SubLinkType == pg_query.SubLinkType_ARRAY_SUBLINK {
		e, err = b.arraySubLink(sl, ec)
	} else {
		e, err = b.subLink(sl, ec)
	}
	if err == nil {
		return e, nil
	}
	se := sqlerr.As(err)
	if se == nil || se.Code != sqlerr.CodeFeatureNotSupported || ec.att == nil || ec.att.node == nil || !provablyEmpty(*ec.att.node) {
		return nil, err
	}
	switch sl.SubLinkType {
	case pg_query.SubLinkType_EXISTS_SUBLINK, pg_query.SubLinkType_ANY_SUBLINK, pg_query.SubLinkType_ALL_SUBLINK:
		return &plan.Const{T: types.Bool}, nil
	}
	return &unknownLit{isNull: true, text: "NULL", loc: sl.Location}, nil
}

// provablyEmpty reports whether a plan yields no rows whatever the data:
// an empty VALUES (an always-empty system relation) under filters,
// projections, sorts and joins that keep no row without it.
func provablyEmpty(n plan.Node) bool {
	switch x := n.(type) {
	case *plan.Values:
		return len(x.Rows) == 0
	case *plan.Filter:
		return provablyEmpty(x.Input)
	case *plan.Project:
		return provablyEmpty(x.Input)
	case *plan.Sort:
		return provablyEmpty(x.Input)
	case *plan.Limit:
		return provablyEmpty(x.Input)
	case *plan.Join:
		switch x.Kind {
		case plan.InnerJoin, plan.SemiJoin:
			return provablyEmpty(x.Left) || provablyEmpty(x.Right)
		case plan.RightJoin:
			return provablyEmpty(x.Right)
		case plan.FullJoin:
			return provablyEmpty(x.Left) && provablyEmpty(x.Right)
		}
		return provablyEmpty(x.Left)
	}
	return false
}

// arraySubLink binds ARRAY(SELECT x ...) when uncorrelated: array_agg of
// the subquery's column in its order, '{}' when it has no rows.
func (b *Binder) arraySubLink(sl *pg_query.SubLink, ec *exprCtx) (plan.Expr, error) {
	if ec.att == nil {
		return nil, b.errAt(sqlerr.NotSupported("subqueries in this context"), sl.Location)
	}
	sub, err := b.bindSub(sl.Subselect, ec.sc)
	if err != nil {
		return nil, err
	}
	cols := sub.node.Columns()
	if len(sub.pulled) > 0 {
		if provablyEmpty(sub.node) && sub.visible == 1 && !cols[0].T.IsArray() {
			// No row for any outer row: the array is always empty.
			return &plan.Const{Value: types.ArrayValue{Elem: cols[0].T, Elems: []any{}}, T: types.ArrayOf(cols[0].T)}, nil
		}
		return nil, b.errAt(sqlerr.NotSupported("correlated ARRAY(subquery)"), sl.Location)
	}
	if len(cols) != 1 {
		return nil, b.errAt(sqlerr.New(sqlerr.CodeSyntaxError, "subquery must return only one column"), sl.Location)
	}
	if cols[0].T.IsArray() {
		return nil, b.errAt(sqlerr.NotSupported("ARRAY(subquery) of arrays"), sl.Location)
	}
	at := types.ArrayOf(cols[0].T)
	agg := &plan.Aggregate{Input: sub.node, Cols: []plan.Column{{Name: "array", T: at}},
		Aggs: []plan.Agg{{Func: plan.ArrayAgg, Arg: &plan.ColRef{Idx: 0, Name: cols[0].Name, T: cols[0].T}, T: at}}}
	ref, err := b.attachJoin(ec.att, plan.LeftJoin, agg, nil, nil, true, 0, at)
	if err != nil {
		return nil, err
	}
	return &plan.Coalesce{Args: []plan.Expr{ref, &plan.Const{Value: types.ArrayValue{Elem: cols[0].T, Elems: []any{}}, T: at}}, T: at}, nil
}
