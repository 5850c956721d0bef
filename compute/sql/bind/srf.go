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

// rangeFunction binds unnest(array) and generate_series(start, stop
// [, step]) over integers in FROM when their arguments are constants:
// the rows are computed at bind time into a VALUES node. Other functions,
// and calls whose arguments read columns (LATERAL), answer 0A000.
func (b *Binder) rangeFunction(rf *pg_query.RangeFunction) (plan.Node, *scope, error) {
	if rf.Lateral || rf.Ordinality || rf.IsRowsfrom || len(rf.Functions) != 1 {
		return nil, nil, sqlerr.NotSupported("this function in FROM (LATERAL, WITH ORDINALITY, ROWS FROM)")
	}
	items := rf.Functions[0].GetList().GetItems()
	if len(items) == 0 || items[0].GetFuncCall() == nil {
		return nil, nil, sqlerr.NotSupported("this function in FROM")
	}
	fc := items[0].GetFuncCall()
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
		if len(args) != 2 && len(args) != 3 {
			break
		}
		t := types.Int4
		for _, a := range args {
			if a.Type() == types.Int8 {
				t = types.Int8
			} else if a.Type() != types.Int4 && a.Type() != types.Unknown && a.Type() != types.Int2 {
				return nil, nil, b.errAt(sqlerr.NotSupported("generate_series over "+a.Type().SQLName()), fc.Location)
			}
		}
		vals := make([]int64, 3)
		vals[2] = 1
		for i, a := range args {
			e, err := b.argAs(a, types.Int8, fc.Location)
			if err != nil {
				return nil, nil, err
			}
			c, ok := e.(*plan.Const)
			if !ok {
				return nil, nil, b.errAt(sqlerr.NotSupported("generate_series with arguments that are not constants"), fc.Location)
			}
			if c.Value == nil {
				vals[i] = 0
				return b.srfScope(&plan.Values{Cols: []plan.Column{{Name: "generate_series", T: t}}}, rf)
			}
			vals[i] = c.Value.(int64)
		}
		if vals[2] == 0 {
			return nil, nil, b.errAt(sqlerr.New(sqlerr.CodeInvalidParameterValue, "step size cannot equal zero"), fc.Location)
		}
		out = &plan.Values{Cols: []plan.Column{{Name: "generate_series", T: t}}}
		for v := vals[0]; (vals[2] > 0 && v <= vals[1]) || (vals[2] < 0 && v >= vals[1]); v += vals[2] {
			if len(out.Rows) >= maxSRFRows {
				return nil, nil, b.errAt(sqlerr.New(sqlerr.CodeProgramLimitExceeded, "generate_series in FROM is limited to %d rows", maxSRFRows), fc.Location)
			}
			var val any = v
			if t == types.Int4 {
				val = int32(v)
			}
			out.Rows = append(out.Rows, []plan.Expr{&plan.Const{Value: val, T: t}})
		}
	}
	if out == nil {
		return nil, nil, b.errAt(sqlerr.NotSupported("function "+name+" in FROM"), fc.Location)
	}
	if len(out.Rows) > maxSRFRows {
		return nil, nil, b.errAt(sqlerr.New(sqlerr.CodeProgramLimitExceeded, "%s in FROM is limited to %d rows", name, maxSRFRows), fc.Location)
	}
	return b.srfScope(out, rf)
}

// srfScope names a function's rows: the alias, else the function name.
func (b *Binder) srfScope(v *plan.Values, rf *pg_query.RangeFunction) (plan.Node, *scope, error) {
	name := v.Cols[0].Name
	alias := rf.Alias
	if alias != nil && len(alias.Colnames) == 0 {
		// FROM f(...) AS s: the single column is named s too, as in PostgreSQL.
		alias = &pg_query.Alias{Aliasname: alias.Aliasname, Colnames: []*pg_query.Node{pg_query.MakeStrNode(alias.Aliasname)}}
	}
	sc, err := b.relScope(name, v.Columns(), alias)
	return v, sc, err
}
