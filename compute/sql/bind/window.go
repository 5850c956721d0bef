package bind

import (
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// winCall is a window function call collected while the select list and
// ORDER BY are bound; its expressions are over the query's input (the
// Aggregate's output when the query aggregates).
type winCall struct {
	w     plan.WindowExpr
	part  []plan.Expr
	order []plan.Expr
}

// winRef stands for the result of window call k until the Window node
// exists; windows replaces it.
type winRef struct {
	k int
	t types.T
}

func (w *winRef) Type() types.T  { return w.t }
func (w *winRef) String() string { return "win#" + strconv.Itoa(w.k) }

// PostgreSQL's frame option bits (nodes/parsenodes.h).
const (
	frameNonDefault        = 0x00001
	frameRange             = 0x00002
	frameRows              = 0x00004
	frameGroups            = 0x00008
	frameStartUnboundedPre = 0x00020
	frameEndUnboundedFol   = 0x00100
	frameStartCurrent      = 0x00200
	frameEndCurrent        = 0x00400
	frameStartOffsetPre    = 0x00800
	frameEndOffsetPre      = 0x01000
	frameStartOffsetFol    = 0x02000
	frameEndOffsetFol      = 0x04000
	frameExclusion         = 0x08000 | 0x10000 | 0x20000
)

var windowFuncs = map[string]plan.WindowFunc{
	"row_number": plan.WinRowNumber, "rank": plan.WinRank, "dense_rank": plan.WinDenseRank,
	"lag": plan.WinLag, "lead": plan.WinLead, "first_value": plan.WinFirstValue, "last_value": plan.WinLastValue,
}

// windowCall binds f(...) OVER (...).
func (b *Binder) windowCall(fc *pg_query.FuncCall, ec *exprCtx) (plan.Expr, error) {
	if ec.wins == nil {
		clause := ec.noAggClause
		if clause == "" {
			clause = "this context"
		}
		return nil, b.errAt(sqlerr.New(codeWindowingError, "window functions are not allowed in %s", clause), fc.Location)
	}
	over := fc.Over
	if over.Name != "" || over.Refname != "" {
		return nil, b.errAt(sqlerr.NotSupported("named windows"), fc.Location)
	}
	if fc.AggDistinct || fc.AggFilter != nil || len(fc.AggOrder) > 0 {
		return nil, b.errAt(sqlerr.NotSupported("DISTINCT, FILTER or ORDER BY in window functions"), fc.Location)
	}
	name := strings.TrimPrefix(opName(fc.Funcname), "pg_catalog.")
	inner := &exprCtx{sc: ec.sc, aggs: ec.aggs, group: ec.group, att: ec.att, noAggClause: ec.noAggClause}
	bindArg := func(n *pg_query.Node) (plan.Expr, error) {
		e, err := b.expr(n, inner)
		if err != nil {
			return nil, err
		}
		if e, err = b.finalize(e); err != nil {
			return nil, err
		}
		if ec.group != nil {
			if e, err = b.ungroup(e, ec.group); err != nil {
				return nil, b.errAt(sqlerr.As(err), exprLocation(n))
			}
		}
		return e, nil
	}
	var call winCall
	fn, isWin := windowFuncs[name]
	_, agg, isAgg := aggName(fc.Funcname)
	noSuch := func() error {
		return b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function %s with %d arguments does not exist", name, len(fc.Args)), fc.Location)
	}
	switch {
	case isWin:
		call.w.Func = fn
		switch fn {
		case plan.WinRowNumber, plan.WinRank, plan.WinDenseRank:
			if len(fc.Args) != 0 {
				return nil, noSuch()
			}
			call.w.T = types.Int8
		case plan.WinLag, plan.WinLead:
			if len(fc.Args) < 1 || len(fc.Args) > 3 {
				return nil, noSuch()
			}
		default:
			if len(fc.Args) != 1 {
				return nil, noSuch()
			}
		}
		for i, a := range fc.Args {
			e, err := bindArg(a)
			if err != nil {
				return nil, err
			}
			switch i {
			case 1:
				if e, err = b.coerce(e, types.Int4); err == nil && e.Type().IsNumeric() && e.Type() != types.Float8 {
					break
				}
				return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function %s(%s, %s) does not exist", name, call.w.Args[0].Type().SQLName(), e.Type().SQLName()), fc.Location)
			case 2:
				t := call.w.Args[0].Type()
				if e.Type() != t {
					if !e.Type().IsNumeric() || !t.IsNumeric() {
						return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function %s(%s, integer, %s) does not exist", name, t.SQLName(), e.Type().SQLName()), fc.Location)
					}
					if e, err = castTo(e, t); err != nil {
						return nil, err
					}
				}
			}
			call.w.Args = append(call.w.Args, e)
		}
		if fn != plan.WinRowNumber && fn != plan.WinRank && fn != plan.WinDenseRank {
			call.w.T = call.w.Args[0].Type()
		}
	case isAgg:
		call.w.Func, call.w.Agg = plan.WinAgg, agg
		if fc.AggStar {
			if name != "count" {
				return nil, noSuch()
			}
			call.w.Agg, call.w.T = plan.CountStar, types.Int8
			break
		}
		if len(fc.Args) != 1 || agg == plan.BoolAnd || agg == plan.BoolOr {
			return nil, b.errAt(sqlerr.NotSupported("window function "+name), fc.Location)
		}
		e, err := bindArg(fc.Args[0])
		if err != nil {
			return nil, err
		}
		t, ok := aggType(agg, e.Type())
		if !ok {
			return nil, b.errAt(sqlerr.New(sqlerr.CodeUndefinedFunction, "function %s(%s) does not exist", name, e.Type().SQLName()), fc.Location)
		}
		call.w.Args, call.w.T = []plan.Expr{e}, t
	default:
		return nil, b.errAt(sqlerr.NotSupported("window function "+name), fc.Location)
	}
	for _, p := range over.PartitionClause {
		e, err := bindArg(p)
		if err != nil {
			return nil, err
		}
		call.part = append(call.part, e)
	}
	for _, o := range over.OrderClause {
		sb := o.GetSortBy()
		e, err := bindArg(sb.Node)
		if err != nil {
			return nil, err
		}
		key := plan.SortKey{Desc: sb.SortbyDir == pg_query.SortByDir_SORTBY_DESC}
		key.NullsFirst = key.Desc
		switch sb.SortbyNulls {
		case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
			key.NullsFirst = true
		case pg_query.SortByNulls_SORTBY_NULLS_LAST:
			key.NullsFirst = false
		}
		call.order = append(call.order, e)
		call.w.Order = append(call.w.Order, key)
	}
	frame, err := b.frame(over)
	if err != nil {
		return nil, b.errAt(sqlerr.As(err), fc.Location)
	}
	call.w.Frame = frame
	*ec.wins = append(*ec.wins, call)
	return &winRef{k: len(*ec.wins) - 1, t: call.w.T}, nil
}

// frame binds a window frame clause.
func (b *Binder) frame(w *pg_query.WindowDef) (plan.Frame, error) {
	opt := w.FrameOptions
	if opt&frameNonDefault == 0 {
		return plan.Frame{}, nil
	}
	if opt&frameGroups != 0 || opt&frameExclusion != 0 {
		return plan.Frame{}, sqlerr.NotSupported("GROUPS frames and frame exclusion")
	}
	if opt&frameRange != 0 {
		switch {
		case opt&frameStartUnboundedPre != 0 && opt&frameEndCurrent != 0:
			return plan.Frame{}, nil
		case opt&frameStartUnboundedPre != 0 && opt&frameEndUnboundedFol != 0:
			return plan.Frame{Rows: true, Start: plan.FrameBound{Unbounded: true}, End: plan.FrameBound{Unbounded: true}}, nil
		}
		return plan.Frame{}, sqlerr.NotSupported("this RANGE frame")
	}
	f := plan.Frame{Rows: true}
	offset := func(n *pg_query.Node, what string) (int64, error) {
		e, err := b.expr(n, &exprCtx{noAggClause: "window frame"})
		if err != nil {
			return 0, err
		}
		if e, err = b.coerce(e, types.Int8); err != nil {
			return 0, err
		}
		c, ok := e.(*plan.Const)
		if !ok || c.Value == nil {
			return 0, sqlerr.NotSupported("non-constant frame offsets")
		}
		var v int64
		switch x := c.Value.(type) {
		case int32:
			v = int64(x)
		case int64:
			v = x
		default:
			return 0, sqlerr.New(sqlerr.CodeDatatypeMismatch, "argument of ROWS must be type bigint, not type %s", c.T.SQLName())
		}
		if v < 0 {
			return 0, sqlerr.New("22013", "frame %s offset must not be negative", what)
		}
		return v, nil
	}
	var err error
	switch {
	case opt&frameStartUnboundedPre != 0:
		f.Start.Unbounded = true
	case opt&frameStartCurrent != 0:
		f.Start.Current = true
	case opt&frameStartOffsetPre != 0:
		if f.Start.Offset, err = offset(w.StartOffset, "starting"); err != nil {
			return f, err
		}
		f.Start.Offset = -f.Start.Offset
	case opt&frameStartOffsetFol != 0:
		if f.Start.Offset, err = offset(w.StartOffset, "starting"); err != nil {
			return f, err
		}
	default:
		return f, sqlerr.NotSupported("this frame start")
	}
	switch {
	case opt&frameEndUnboundedFol != 0:
		f.End.Unbounded = true
	case opt&frameEndCurrent != 0:
		f.End.Current = true
	case opt&frameEndOffsetPre != 0:
		if f.End.Offset, err = offset(w.EndOffset, "ending"); err != nil {
			return f, err
		}
		f.End.Offset = -f.End.Offset
	case opt&frameEndOffsetFol != 0:
		if f.End.Offset, err = offset(w.EndOffset, "ending"); err != nil {
			return f, err
		}
	default:
		f.End.Current = true
	}
	return f, nil
}

// windows puts a Window node over input for the collected calls and
// rewrites the targets' winRefs over its output. A Project first appends
// the partition and order expressions as columns.
func (b *Binder) windows(input plan.Node, wins []winCall, targets []target, subBase int) (plan.Node, []target) {
	cols := input.Columns()
	pre := &plan.Project{Input: input}
	for i, c := range cols {
		pre.Exprs = append(pre.Exprs, &plan.ColRef{Idx: i, Name: c.Name, T: c.T})
		pre.Cols = append(pre.Cols, c)
	}
	add := func(e plan.Expr) int {
		e = resolveSubRefs(e, subBase)
		str := e.String()
		for i, x := range pre.Exprs {
			if x.String() == str {
				return i
			}
		}
		pre.Exprs = append(pre.Exprs, e)
		pre.Cols = append(pre.Cols, plan.Column{Name: "?window?", T: e.Type()})
		return len(pre.Exprs) - 1
	}
	w := &plan.Window{Input: pre}
	for _, c := range wins {
		we := c.w
		for i := range we.Args {
			we.Args[i] = resolveSubRefs(we.Args[i], subBase)
		}
		for _, p := range c.part {
			we.Partition = append(we.Partition, add(p))
		}
		we.Order = append([]plan.SortKey(nil), we.Order...)
		for i, o := range c.order {
			we.Order[i].Col = add(o)
		}
		w.Funcs = append(w.Funcs, we)
	}
	w.Cols = append([]plan.Column(nil), pre.Cols...)
	base := len(pre.Cols)
	for _, c := range wins {
		w.Cols = append(w.Cols, plan.Column{Name: "?window?", T: c.w.T})
	}
	out := make([]target, len(targets))
	for i, t := range targets {
		e, _ := plan.Map(t.expr, func(x plan.Expr) (plan.Expr, error) {
			if r, ok := x.(*winRef); ok {
				return &plan.ColRef{Idx: base + r.k, Name: "?window?", T: r.t}, nil
			}
			return nil, nil
		})
		out[i] = target{name: t.name, expr: e}
	}
	return w, out
}
