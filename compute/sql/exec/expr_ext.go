package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// isExt reports whether t is one of the types evaluated row by row
// through their carriers (everything but bool, int4, int8, float8, text).
func isExt(t types.T) bool { return t >= types.Int2 }

// compileExt compiles the expressions the vectorized kernels do not cover:
// functions, CASE, COALESCE, and arithmetic, comparisons and casts that
// involve the later types. ok is false for everything else.
func (ev *Evaluator) compileExt(mem memory.Allocator, e plan.Expr) (fn evalFn, ok bool, err error) {
	switch x := e.(type) {
	case *plan.Arith:
		lt, rt := x.L.Type(), x.R.Type()
		if !isExt(lt) && !isExt(rt) && !isExt(x.T) && lt == rt && lt == x.T {
			return nil, false, nil
		}
		if lt == types.Numeric && rt == types.Numeric && x.T == types.Numeric &&
			(x.Op == plan.Add || x.Op == plan.Sub || x.Op == plan.Mul) {
			fn, err = ev.binary(mem, x.L, x.R, func(l, r arrow.Array) (arrow.Array, error) {
				return numericArith(mem, x.Op, l.(*array.String), r.(*array.String))
			})
			return fn, true, err
		}
		op := x.Op.String()
		fn, err = ev.rows(mem, []plan.Expr{x.L, x.R}, x.T, true, func(v []any) (any, error) {
			return types.Arith(op, v[0], v[1])
		})
		return fn, true, err
	case *plan.Cmp:
		if !isExt(x.L.Type()) && !isExt(x.R.Type()) {
			return nil, false, nil
		}
		op := x.Op
		if t := x.L.Type(); t == x.R.Type() && hasFastCompare(t) {
			fn, err = ev.binary(mem, x.L, x.R, func(l, r arrow.Array) (arrow.Array, error) {
				out, _ := fastCompare(mem, op, t, l, r)
				return out, nil
			})
			return fn, true, err
		}
		fn, err = ev.rows(mem, []plan.Expr{x.L, x.R}, types.Bool, true, func(v []any) (any, error) {
			return op.Holds(types.Compare(v[0], v[1])), nil
		})
		return fn, true, err
	case *plan.Cast:
		if !isExt(x.X.Type()) && !isExt(x.T) {
			return nil, false, nil
		}
		t, from := x.T, x.X.Type()
		slow := func(a arrow.Array) (arrow.Array, error) { return castRows(mem, from, t, a) }
		fn, err = ev.unary(mem, x.X, func(a arrow.Array) (arrow.Array, error) {
			if out, ok := fastCast(mem, from, t, a); ok {
				return out, nil
			}
			return slow(a)
		})
		return fn, true, err
	case *plan.Func:
		fn, err = ev.rows(mem, x.Args, x.T, x.Strict, x.Eval)
		return fn, true, err
	case *plan.Case:
		fn, err = ev.caseExpr(mem, x)
		return fn, true, err
	case *plan.Coalesce:
		whens := make([]plan.When, 0, len(x.Args))
		for _, a := range x.Args[:len(x.Args)-1] {
			whens = append(whens, plan.When{Cond: &plan.IsNull{X: a, Negate: true}, Then: a})
		}
		fn, err = ev.caseExpr(mem, &plan.Case{Whens: whens, Else: x.Args[len(x.Args)-1], T: x.T})
		return fn, true, err
	}
	return nil, false, nil
}

// rows compiles args and evaluates fn once per row over their carrier
// values; strict skips rows with a NULL argument (result NULL).
func (ev *Evaluator) rows(mem memory.Allocator, args []plan.Expr, t types.T, strict bool, fn func([]any) (any, error)) (evalFn, error) {
	fns := make([]evalFn, len(args))
	argT := make([]types.T, len(args))
	for i, a := range args {
		f, err := ev.compile(mem, a)
		if err != nil {
			return nil, err
		}
		fns[i] = f
		argT[i] = a.Type()
	}
	return func(b arrow.RecordBatch) (arrow.Array, error) {
		arrs := make([]arrow.Array, len(fns))
		defer releaseAll(arrs)
		for i, f := range fns {
			a, err := f(b)
			if err != nil {
				return nil, err
			}
			arrs[i] = a
		}
		n := int(b.NumRows())
		bld := array.NewBuilder(mem, t.Arrow())
		defer bld.Release()
		bld.Reserve(n)
		vals := make([]any, len(arrs))
	row:
		for r := range n {
			for i, a := range arrs {
				vals[i] = types.ValueAt(argT[i], a, r)
				if strict && vals[i] == nil {
					bld.AppendNull()
					continue row
				}
			}
			out, err := fn(vals)
			if err != nil {
				return nil, err
			}
			types.Append(bld, out)
		}
		return bld.NewArray(), nil
	}, nil
}

// castRows casts every row of a (of type from) to t over carriers.
func castRows(mem memory.Allocator, from, t types.T, a arrow.Array) (arrow.Array, error) {
	n := a.Len()
	bld := array.NewBuilder(mem, t.Arrow())
	defer bld.Release()
	bld.Reserve(n)
	for r := range n {
		v := types.ValueAt(from, a, r)
		if v == nil {
			bld.AppendNull()
			continue
		}
		out, err := types.Cast(v, t)
		if err != nil {
			return nil, err
		}
		types.Append(bld, out)
	}
	return bld.NewArray(), nil
}

// caseExpr evaluates a searched CASE lazily: each arm's condition over
// the rows no earlier arm took, each result over the rows its arm took.
func (ev *Evaluator) caseExpr(mem memory.Allocator, c *plan.Case) (evalFn, error) {
	type arm struct{ cond, then evalFn }
	arms := make([]arm, len(c.Whens))
	for i, w := range c.Whens {
		cf, err := ev.compile(mem, w.Cond)
		if err != nil {
			return nil, err
		}
		tf, err := ev.compile(mem, w.Then)
		if err != nil {
			return nil, err
		}
		arms[i] = arm{cf, tf}
	}
	var elseFn evalFn
	if c.Else != nil {
		f, err := ev.compile(mem, c.Else)
		if err != nil {
			return nil, err
		}
		elseFn = f
	}
	t := c.T
	return func(b arrow.RecordBatch) (arrow.Array, error) {
		n := int(b.NumRows())
		choice := make([]int, n) // arm index, len(arms) for ELSE
		pending := make([]int, n)
		for i := range pending {
			pending[i] = i
		}
		results := make([]arrow.Array, len(arms)+1)
		defer releaseAll(results)
		for ai, a := range arms {
			if len(pending) == 0 {
				break
			}
			sub, err := takeRows(mem, b, pending)
			if err != nil {
				return nil, err
			}
			cond, err := a.cond(sub)
			if err != nil {
				sub.Release()
				return nil, err
			}
			cb := cond.(*array.Boolean)
			var taken, rest []int
			for j, r := range pending {
				if cb.IsValid(j) && cb.Value(j) {
					taken = append(taken, r)
					choice[r] = ai
				} else {
					rest = append(rest, r)
				}
			}
			cond.Release()
			sub.Release()
			if len(taken) > 0 {
				ts, err := takeRows(mem, b, taken)
				if err != nil {
					return nil, err
				}
				res, err := a.then(ts)
				ts.Release()
				if err != nil {
					return nil, err
				}
				results[ai] = res
			}
			pending = rest
		}
		if len(pending) > 0 {
			for _, r := range pending {
				choice[r] = len(arms)
			}
			if elseFn != nil {
				es, err := takeRows(mem, b, pending)
				if err != nil {
					return nil, err
				}
				res, err := elseFn(es)
				es.Release()
				if err != nil {
					return nil, err
				}
				results[len(arms)] = res
			}
		}
		bld := array.NewBuilder(mem, t.Arrow())
		defer bld.Release()
		bld.Reserve(n)
		next := make([]int, len(results))
		for r := range n {
			k := choice[r]
			res := results[k]
			if res == nil {
				bld.AppendNull()
				continue
			}
			types.Append(bld, types.ValueAt(t, res, next[k]))
			next[k]++
		}
		return bld.NewArray(), nil
	}, nil
}

// takeRows returns the batch of the given rows of b (retained b itself
// when that is every row).
func takeRows(mem memory.Allocator, b arrow.RecordBatch, rows []int) (arrow.RecordBatch, error) {
	if len(rows) == int(b.NumRows()) {
		b.Retain()
		return b, nil
	}
	ib := array.NewInt32Builder(mem)
	for _, r := range rows {
		ib.Append(int32(r))
	}
	idx := ib.NewArray()
	ib.Release()
	defer idx.Release()
	ctx := compute.WithAllocator(context.Background(), mem)
	cols := make([]arrow.Array, b.NumCols())
	for i := range cols {
		c, err := takeArray(ctx, mem, b.Column(i), idx)
		if err != nil {
			releaseAll(cols)
			return nil, err
		}
		cols[i] = c
	}
	return newBatch(b.Schema(), cols, len(rows)), nil
}

// takeArray is compute.TakeArray, with a row-by-row fallback for the Arrow
// types its kernels lack (month-day-nano intervals).
func takeArray(ctx context.Context, mem memory.Allocator, a, idx arrow.Array) (arrow.Array, error) {
	if a.DataType().ID() != arrow.INTERVAL_MONTH_DAY_NANO {
		return compute.TakeArray(ctx, a, idx)
	}
	src := a.(*array.MonthDayNanoInterval)
	b := array.NewMonthDayNanoIntervalBuilder(mem)
	defer b.Release()
	ix, ok := idx.(*array.Int32)
	if !ok {
		return nil, fmt.Errorf("exec: take with %s indices", idx.DataType())
	}
	for i := range ix.Len() {
		r := int(ix.Value(i))
		if src.IsNull(r) {
			b.AppendNull()
		} else {
			b.Append(src.Value(r))
		}
	}
	return b.NewArray(), nil
}

// filterBatch is compute.FilterRecordBatch, through takeRows when a column
// has an Arrow type the filter kernels lack (month-day-nano intervals).
// filterLiveColumns filters the columns of b that hold values with
// Arrow's filter kernel and replaces the all-NULL ones — the columns a scan
// did not decode because nothing reads them (prune.go) — with NULL arrays
// of the selected length, without running a kernel over them.
func filterLiveColumns(ctx context.Context, mem memory.Allocator, b arrow.RecordBatch, mask arrow.Array, nulls *nullColumns) (arrow.RecordBatch, error) {
	var live []int
	for i, c := range b.Columns() {
		if c.Len() == 0 || c.NullN() < c.Len() {
			live = append(live, i)
		}
	}
	switch len(live) {
	case int(b.NumCols()):
		return compute.FilterRecordBatch(ctx, b, mask, compute.DefaultFilterOptions())
	case 0:
		n := countTrue(mask)
		cols := make([]arrow.Array, b.NumCols())
		for i, c := range b.Columns() {
			cols[i] = nulls.get(mem, c.DataType(), n)
		}
		return newBatch(b.Schema(), cols, n), nil
	}
	fields := make([]arrow.Field, len(live))
	in := make([]arrow.Array, len(live))
	for j, i := range live {
		fields[j], in[j] = b.Schema().Field(i), b.Column(i)
	}
	sub := array.NewRecordBatch(arrow.NewSchema(fields, nil), in, b.NumRows())
	defer sub.Release()
	out, err := compute.FilterRecordBatch(ctx, sub, mask, compute.DefaultFilterOptions())
	if err != nil {
		return nil, err
	}
	defer out.Release()
	n := int(out.NumRows())
	cols := make([]arrow.Array, b.NumCols())
	for j, i := range live {
		cols[i] = out.Column(j)
		cols[i].Retain()
	}
	for i, c := range cols {
		if c == nil {
			cols[i] = nulls.get(mem, b.Column(i).DataType(), n)
		}
	}
	return newBatch(b.Schema(), cols, n), nil
}

func filterBatch(ctx context.Context, mem memory.Allocator, b arrow.RecordBatch, mask arrow.Array, nulls *nullColumns) (arrow.RecordBatch, error) {
	special := false
	for _, c := range b.Columns() {
		if c.DataType().ID() == arrow.INTERVAL_MONTH_DAY_NANO {
			special = true
		}
	}
	if !special {
		return filterLiveColumns(ctx, mem, b, mask, nulls)
	}
	m := mask.(*array.Boolean)
	var rows []int
	for i := range m.Len() {
		if m.IsValid(i) && m.Value(i) {
			rows = append(rows, i)
		}
	}
	return takeRows(mem, b, rows)
}
