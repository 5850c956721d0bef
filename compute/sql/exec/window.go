package exec

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// compileRel compiles the expressions the relational binder adds.
func (ev *Evaluator) compileRel(mem memory.Allocator, e plan.Expr) (evalFn, error) {
	x, ok := e.(*plan.FirstNotNull)
	if !ok {
		return nil, fmt.Errorf("exec: cannot compile expression %T", e)
	}
	fns := make([]evalFn, len(x.Xs))
	for i, a := range x.Xs {
		f, err := ev.compile(mem, a)
		if err != nil {
			return nil, err
		}
		fns[i] = f
	}
	return func(b arrow.RecordBatch) (arrow.Array, error) {
		arrs := make([]arrow.Array, len(fns))
		defer releaseAll(arrs)
		for i, f := range fns {
			var err error
			if arrs[i], err = f(b); err != nil {
				return nil, err
			}
		}
		bld := array.NewBuilder(mem, x.T.Arrow())
		defer bld.Release()
		n := int(b.NumRows())
		bld.Reserve(n)
		for r := range n {
			var v any
			for _, a := range arrs {
				if v = valueAt(a, r); v != nil {
					break
				}
			}
			appendValue(bld, v)
		}
		return bld.NewArray(), nil
	}, nil
}

// windowOp materializes its input, then computes each window function
// per partition over the rows sorted by (partition keys, order keys) and
// appends the results, in input order, to the input columns.
type windowOp struct {
	env    *Env
	in     Operator
	n      *plan.Window
	args   [][]*Evaluator
	schema *arrow.Schema
	inSch  *arrow.Schema
	out    arrow.RecordBatch
	pos    int64
	done   bool
}

func newWindow(env *Env, n *plan.Window) (Operator, error) {
	in, err := Build(env, n.Input)
	if err != nil {
		return nil, err
	}
	op := &windowOp{env: env, in: in, n: n, schema: schemaOf(n.Cols), inSch: schemaOf(n.Input.Columns())}
	for _, f := range n.Funcs {
		var evs []*Evaluator
		for _, a := range f.Args {
			ev, err := Compile(env.Mem, a)
			if err != nil {
				op.args = append(op.args, evs)
				op.Close()
				return nil, err
			}
			evs = append(evs, ev)
		}
		op.args = append(op.args, evs)
	}
	return op, nil
}

func (w *windowOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if w.done {
		return nil, nil
	}
	if w.out == nil {
		if err := w.compute(ctx); err != nil {
			return nil, err
		}
		if w.out == nil {
			w.done = true
			return nil, nil
		}
	}
	n := w.out.NumRows()
	end := min(w.pos+int64(w.env.batchRows()), n)
	b := w.out.NewSlice(w.pos, end)
	w.pos = end
	if w.pos >= n {
		w.done = true
	}
	return b, nil
}

func (w *windowOp) compute(ctx context.Context) error {
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	total := 0
	limit := w.env.maxJoinRows()
	for {
		b, err := w.in.Next(ctx)
		if err != nil {
			return err
		}
		if b == nil {
			break
		}
		batches = append(batches, b)
		if total += int(b.NumRows()); total > limit {
			return errTooManyRows("window input", limit)
		}
	}
	if total == 0 {
		return nil
	}
	mem := memOr(w.env.Mem)
	all, err := concatBatches(mem, w.inSch, batches, total)
	if err != nil {
		return fmt.Errorf("exec: window: %w", err)
	}
	defer all.Release()
	cols := append([]arrow.Array(nil), all.Columns()...)
	for _, c := range cols {
		c.Retain()
	}
	for i, f := range w.n.Funcs {
		arr, err := w.function(mem, all, f, w.args[i])
		if err != nil {
			releaseAll(cols)
			return err
		}
		cols = append(cols, arr)
	}
	w.out = newBatch(w.schema, cols, total)
	return nil
}

// function computes one window function over every row of all.
func (w *windowOp) function(mem memory.Allocator, all arrow.RecordBatch, f plan.WindowExpr, evs []*Evaluator) (arrow.Array, error) {
	n := int(all.NumRows())
	args, err := evalAll(evs, all)
	if err != nil {
		return nil, err
	}
	defer releaseAll(args)
	// Sort row ids by partition then order keys.
	var cmps []func(i, j int32) int
	for _, p := range f.Partition {
		cmps = append(cmps, keyComparator(all.Column(p), plan.SortKey{Col: p}))
	}
	part := len(cmps)
	for _, k := range f.Order {
		cmps = append(cmps, keyComparator(all.Column(k.Col), k))
	}
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	cmpRange := func(i, j int32, from, to int) int {
		for _, c := range cmps[from:to] {
			if r := c(i, j); r != 0 {
				return r
			}
		}
		return 0
	}
	slices.SortStableFunc(idx, func(i, j int32) int { return cmpRange(i, j, 0, len(cmps)) })
	res := make([]any, n)
	for start := 0; start < n; {
		end := start + 1
		for end < n && cmpRange(idx[start], idx[end], 0, part) == 0 {
			end++
		}
		rows := idx[start:end]
		peer := func(a, b int) bool { return cmpRange(rows[a], rows[b], part, len(cmps)) == 0 }
		if err := windowPartition(f, rows, args, peer, res); err != nil {
			return nil, err
		}
		start = end
	}
	bld := array.NewBuilder(mem, f.T.Arrow())
	defer bld.Release()
	bld.Reserve(n)
	for _, v := range res {
		appendValue(bld, v)
	}
	return bld.NewArray(), nil
}

// windowPartition computes f for the rows of one partition (row ids in
// window order) into res (indexed by row id). peer reports whether two
// positions are peers under the window's ORDER BY.
func windowPartition(f plan.WindowExpr, rows []int32, args []arrow.Array, peer func(a, b int) bool, res []any) error {
	n := len(rows)
	// peerEnd[i] is one past the last peer of position i.
	peerEnd := make([]int, n)
	for i := n - 1; i >= 0; i-- {
		if i+1 < n && peer(i, i+1) {
			peerEnd[i] = peerEnd[i+1]
		} else {
			peerEnd[i] = i + 1
		}
	}
	switch f.Func {
	case plan.WinRowNumber:
		for i, r := range rows {
			res[r] = int64(i + 1)
		}
		return nil
	case plan.WinRank, plan.WinDenseRank:
		rank, dense := int64(1), int64(1)
		for i, r := range rows {
			if i > 0 && !peer(i-1, i) {
				rank, dense = int64(i+1), dense+1
			}
			if f.Func == plan.WinRank {
				res[r] = rank
			} else {
				res[r] = dense
			}
		}
		return nil
	case plan.WinLag, plan.WinLead:
		for i, r := range rows {
			off := int64(1)
			if len(args) > 1 {
				v := valueAt(args[1], int(r))
				if v == nil {
					res[r] = nil
					continue
				}
				off = toInt64(v)
			}
			if f.Func == plan.WinLag {
				off = -off
			}
			j := int64(i) + off
			switch {
			case j >= 0 && j < int64(n):
				res[r] = valueAt(args[0], int(rows[j]))
			case len(args) > 2:
				res[r] = valueAt(args[2], int(r))
			default:
				res[r] = nil
			}
		}
		return nil
	}
	ordered := len(f.Order) > 0
	frame := func(i int) (int, int) { // [lo, hi)
		if !f.Frame.Rows {
			if !ordered {
				return 0, n
			}
			return 0, peerEnd[i]
		}
		lo, hi := 0, n
		switch b := f.Frame.Start; {
		case b.Unbounded:
			lo = 0
		case b.Current:
			lo = i
		default:
			lo = i + int(b.Offset)
		}
		switch b := f.Frame.End; {
		case b.Unbounded:
			hi = n
		case b.Current:
			hi = i + 1
		default:
			hi = i + int(b.Offset) + 1
		}
		return max(lo, 0), min(hi, n)
	}
	for i, r := range rows {
		lo, hi := frame(i)
		if lo >= hi {
			res[r] = nil
			if f.Func == plan.WinAgg && (f.Agg == plan.Count || f.Agg == plan.CountStar) {
				res[r] = int64(0)
			}
			continue
		}
		switch f.Func {
		case plan.WinFirstValue:
			res[r] = valueAt(args[0], int(rows[lo]))
		case plan.WinLastValue:
			res[r] = valueAt(args[0], int(rows[hi-1]))
		case plan.WinAgg:
			v, err := frameAgg(f, rows[lo:hi], args)
			if err != nil {
				return err
			}
			res[r] = v
		}
	}
	return nil
}

// frameAgg computes an aggregate over the rows of a frame. It is O(frame)
// per row: window aggregates over large frames are quadratic.
func frameAgg(f plan.WindowExpr, rows []int32, args []arrow.Array) (any, error) {
	if f.Agg == plan.CountStar {
		return int64(len(rows)), nil
	}
	a := args[0]
	var (
		count int64
		isum  big.Int
		fsum  float64
		best  any
	)
	for _, r := range rows {
		v := valueAt(a, int(r))
		if v == nil {
			continue
		}
		count++
		switch f.Agg {
		case plan.Sum, plan.Avg:
			switch x := v.(type) {
			case int32:
				isum.Add(&isum, big.NewInt(int64(x)))
				fsum += float64(x)
			case int64:
				isum.Add(&isum, big.NewInt(x))
				fsum += float64(x)
			case float64:
				fsum += x
			}
		case plan.Min, plan.Max:
			if best == nil {
				best = v
				continue
			}
			c := compareValues(v, best)
			if (f.Agg == plan.Min && c <= 0) || (f.Agg == plan.Max && c >= 0) {
				best = v
			}
		}
	}
	switch f.Agg {
	case plan.Count:
		return count, nil
	case plan.Min, plan.Max:
		return best, nil
	}
	if count == 0 {
		return nil, nil
	}
	if f.Agg == plan.Avg {
		return fsum / float64(count), nil
	}
	if f.T == types.Float8 {
		if math.IsInf(fsum, 0) {
			return nil, errFloatOver()
		}
		return fsum, nil
	}
	if !isum.IsInt64() {
		return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "bigint out of range")
	}
	return isum.Int64(), nil
}

func (w *windowOp) Close() {
	for _, evs := range w.args {
		for _, ev := range evs {
			ev.Release()
		}
	}
	if w.out != nil {
		w.out.Release()
		w.out = nil
	}
	w.in.Close()
}
