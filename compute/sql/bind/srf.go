package bind

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// maxSRFRows bounds the rows a set-returning function in FROM produces
// (they are materialized as a VALUES node at bind time).
const maxSRFRows = 100_000

// rangeFunction binds unnest(array) (over a constant array: its rows are
// computed at bind time into a VALUES node) and generate_series(start,
// stop [, step]) (a streamed Series node, see tablefunc.go) in FROM.
// Other functions, and calls whose arguments read columns (LATERAL),
// answer 0A000.
func (b *Binder) rangeFunction(rf *pg_query.RangeFunction) (plan.Node, *scope, error) {
	if rf.Lateral || rf.Ordinality || rf.IsRowsfrom || len(rf.Functions) != 1 {
		return nil, nil, sqlerr.NotSupported("this function in FROM (LATERAL, WITH ORDINALITY, ROWS FROM)")
	}
	items := rf.Functions[0].GetList().GetItems()
	if len(items) == 0 || items[0].GetFuncCall() == nil {
		return nil, nil, sqlerr.NotSupported("this function in FROM")
	}
	return b.srfCall(items[0].GetFuncCall(), rf.Alias)
}

// isSRF reports whether a function name is a set-returning function
// rangeFunction knows.
func isSRF(fc *pg_query.FuncCall) bool {
	switch strings.TrimPrefix(opName(fc.Funcname), "pg_catalog.") {
	case "unnest", "generate_series", "pg_partition_ancestors":
		return fc.Over == nil
	}
	return false
}

// selectListSRF binds SELECT srf(...) without FROM (one target) as SELECT
// * FROM srf(...): the call becomes a VALUES input and the target reads
// its column (b.srfCols). ok is false for other queries.
func (b *Binder) selectListSRF(s *pg_query.SelectStmt) (plan.Node, *scope, bool, error) {
	if len(s.TargetList) != 1 || len(s.FromClause) != 0 {
		return nil, nil, false, nil
	}
	rt := s.TargetList[0].GetResTarget()
	if rt == nil || rt.Val.GetFuncCall() == nil || !isSRF(rt.Val.GetFuncCall()) {
		return nil, nil, false, nil
	}
	fc := rt.Val.GetFuncCall()
	node, sc, err := b.srfCall(fc, nil)
	if err != nil {
		return nil, nil, true, err
	}
	if b.srfCols == nil {
		b.srfCols = map[*pg_query.FuncCall]bool{}
	}
	b.srfCols[fc] = true
	return node, sc, true, nil
}

// callCatalog binds the calls this package's catalog and array files
// handle before the general function binding: a set-returning call that
// selectListSRF made the query's input, and the refusals (0A000) of
// set-returning functions elsewhere and of string_agg/array_agg as window
// functions. ok is false for every other call.
func (b *Binder) callCatalog(fc *pg_query.FuncCall, ec *exprCtx) (plan.Expr, bool, error) {
	if e, ok := b.srfColumn(fc, ec); ok {
		return e, true, nil
	}
	name := strings.TrimPrefix(opName(fc.Funcname), "pg_catalog.")
	if isSRF(fc) {
		return nil, true, b.errAt(sqlerr.NotSupported("set-returning function "+name+" in this position").
			WithHint("Call it in FROM (SELECT ... FROM "+name+"(...)) or as the only target of a SELECT without FROM."), fc.Location)
	}
	if fc.Over != nil && (name == "string_agg" || name == "array_agg") {
		return nil, true, b.errAt(sqlerr.NotSupported(name+" as a window function"), fc.Location)
	}
	return nil, false, nil
}

// srfColumn binds a call selectListSRF turned into the query's input.
func (b *Binder) srfColumn(fc *pg_query.FuncCall, ec *exprCtx) (plan.Expr, bool) {
	if !b.srfCols[fc] || ec.sc == nil || len(ec.sc.cols) != 1 {
		return nil, false
	}
	return &plan.ColRef{Idx: 0, Name: ec.sc.cols[0].Name, T: ec.sc.cols[0].T}, true
}

// srfCall computes a set-returning function's rows (see rangeFunction).
func (b *Binder) srfCall(fc *pg_query.FuncCall, alias *pg_query.Alias) (plan.Node, *scope, error) {
	name := strings.TrimPrefix(opName(fc.Funcname), "pg_catalog.")
	args, err := b.exprs(fc.Args, &exprCtx{sc: &scope{rels: []scopeRel{}}, noAggClause: "functions in FROM"})
	if err != nil {
		if se := sqlerr.As(err); se != nil && se.Code == sqlerr.CodeUndefinedColumn || se != nil && se.Code == sqlerr.CodeUndefinedTable {
			return nil, nil, b.errAt(sqlerr.NotSupported("functions in FROM whose arguments read columns (LATERAL)"), fc.Location)
		}
		return nil, nil, err
	}
	var out *plan.Values
	switch name {
	case "pg_partition_ancestors":
		// No relation is a partition here, so none has ancestors.
		if len(args) == 1 {
			out = &plan.Values{Cols: []plan.Column{{Name: "relid", T: types.Int8}}}
		}
	case "unnest":
		if len(args) != 1 {
			break
		}
		a, err := b.arrayArg(args[0], types.Unknown, fc.Location)
		if err != nil {
			return nil, nil, err
		}
		c, ok := a.(*plan.Const)
		if !ok {
			return nil, nil, b.errAt(sqlerr.NotSupported("unnest of a non-constant array in FROM"), fc.Location)
		}
		elem := a.Type().Elem()
		out = &plan.Values{Cols: []plan.Column{{Name: "unnest", T: elem}}}
		if c.Value != nil {
			for _, e := range c.Value.(types.ArrayValue).Elems {
				out.Rows = append(out.Rows, []plan.Expr{&plan.Const{Value: e, T: elem}})
			}
		}
	case "generate_series":
		series, err := b.generateSeries(fc, args)
		if err != nil {
			return nil, nil, err
		}
		return b.srfScope(series, alias)
	}
	if out == nil {
		return nil, nil, b.errAt(sqlerr.NotSupported("function "+name+" in FROM"), fc.Location)
	}
	if len(out.Rows) > maxSRFRows {
		return nil, nil, b.errAt(sqlerr.New(sqlerr.CodeProgramLimitExceeded, "%s in FROM is limited to %d rows", name, maxSRFRows), fc.Location)
	}
	return b.srfScope(out, alias)
}

// srfScope names a function's rows: the alias, else the function name.
func (b *Binder) srfScope(v plan.Node, alias *pg_query.Alias) (plan.Node, *scope, error) {
	name := v.Columns()[0].Name
	if alias != nil && len(alias.Colnames) == 0 {
		// FROM f(...) AS s: the single column is named s too, as in PostgreSQL.
		alias = &pg_query.Alias{Aliasname: alias.Aliasname, Colnames: []*pg_query.Node{pg_query.MakeStrNode(alias.Aliasname)}}
	}
	sc, err := b.relScope(name, v.Columns(), alias)
	return v, sc, err
}
