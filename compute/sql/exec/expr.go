package exec

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
)

// Evaluator is an expression compiled once per statement and evaluated once
// per batch, producing one array of the expression's type.
type Evaluator struct {
	eval   func(b arrow.RecordBatch) (arrow.Array, error)
	consts []*constCache
}

// constCache keeps the materialized array of a constant for the last batch
// length, so a constant costs one allocation per distinct batch size.
type constCache struct {
	arr arrow.Array
}

// Eval evaluates the expression over b. The caller releases the result.
func (e *Evaluator) Eval(b arrow.RecordBatch) (arrow.Array, error) { return e.eval(b) }

// Release frees cached constant arrays.
func (e *Evaluator) Release() {
	for _, c := range e.consts {
		if c.arr != nil {
			c.arr.Release()
			c.arr = nil
		}
	}
}

// Compile compiles a bound expression.
func Compile(mem memory.Allocator, e plan.Expr) (*Evaluator, error) {
	ev := &Evaluator{}
	fn, err := ev.compile(mem, e)
	if err != nil {
		ev.Release()
		return nil, err
	}
	ev.eval = fn
	return ev, nil
}

type evalFn = func(b arrow.RecordBatch) (arrow.Array, error)

func (ev *Evaluator) compile(mem memory.Allocator, e plan.Expr) (evalFn, error) {
	if fn, ok, err := ev.compileExt(mem, e); ok {
		return fn, err
	}
	switch x := e.(type) {
	case *plan.ColRef:
		idx := x.Idx
		return func(b arrow.RecordBatch) (arrow.Array, error) {
			c := b.Column(idx)
			c.Retain()
			return c, nil
		}, nil
	case *plan.Const:
		cc := &constCache{}
		ev.consts = append(ev.consts, cc)
		return func(b arrow.RecordBatch) (arrow.Array, error) {
			// Built once at the largest length seen and sliced for shorter
			// batches: a filter's output batches all differ in length, and
			// rebuilding the array each batch (a NUMERIC constant formats
			// through math/big per row) was a tenth of TPC-H Q1's CPU.
			n := int(b.NumRows())
			if cc.arr == nil || cc.arr.Len() < n {
				if cc.arr != nil {
					cc.arr.Release()
				}
				cc.arr = constArray(mem, x.T, x.Value, n)
			}
			if cc.arr.Len() == n {
				cc.arr.Retain()
				return cc.arr, nil
			}
			return array.NewSlice(cc.arr, 0, int64(n)), nil
		}, nil
	case *plan.Arith:
		return ev.binary(mem, x.L, x.R, func(l, r arrow.Array) (arrow.Array, error) {
			return arith(mem, x.Op, x.T, l, r)
		})
	case *plan.Cmp:
		return ev.binary(mem, x.L, x.R, func(l, r arrow.Array) (arrow.Array, error) {
			return compare(mem, x.Op, l, r), nil
		})
	case *plan.And:
		return ev.binary(mem, x.L, x.R, func(l, r arrow.Array) (arrow.Array, error) {
			return logic(mem, true, l, r), nil
		})
	case *plan.Or:
		return ev.binary(mem, x.L, x.R, func(l, r arrow.Array) (arrow.Array, error) {
			return logic(mem, false, l, r), nil
		})
	case *plan.Not:
		return ev.unary(mem, x.X, func(a arrow.Array) (arrow.Array, error) { return not(mem, a), nil })
	case *plan.IsNull:
		return ev.unary(mem, x.X, func(a arrow.Array) (arrow.Array, error) { return isNull(mem, a, x.Negate), nil })
	case *plan.Cast:
		return ev.unary(mem, x.X, func(a arrow.Array) (arrow.Array, error) { return cast(mem, a, x.T) })
	}
	if x, ok := e.(*plan.SeqCall); ok {
		return ev.seqCall(mem, x)
	}
	return ev.compileRel(mem, e)
}

func (ev *Evaluator) unary(mem memory.Allocator, x plan.Expr, k func(arrow.Array) (arrow.Array, error)) (evalFn, error) {
	xf, err := ev.compile(mem, x)
	if err != nil {
		return nil, err
	}
	return func(b arrow.RecordBatch) (arrow.Array, error) {
		a, err := xf(b)
		if err != nil {
			return nil, err
		}
		defer a.Release()
		return k(a)
	}, nil
}

func (ev *Evaluator) binary(mem memory.Allocator, l, r plan.Expr, k func(l, r arrow.Array) (arrow.Array, error)) (evalFn, error) {
	lf, err := ev.compile(mem, l)
	if err != nil {
		return nil, err
	}
	rf, err := ev.compile(mem, r)
	if err != nil {
		return nil, err
	}
	return func(b arrow.RecordBatch) (arrow.Array, error) {
		la, err := lf(b)
		if err != nil {
			return nil, err
		}
		defer la.Release()
		ra, err := rf(b)
		if err != nil {
			return nil, err
		}
		defer ra.Release()
		return k(la, ra)
	}, nil
}
