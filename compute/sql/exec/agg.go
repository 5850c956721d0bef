package exec

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/plan"
)

// aggregateOp computes whole-input aggregates (count(*), count(x)) and
// emits one row.
type aggregateOp struct {
	env    *Env
	in     Operator
	aggs   []plan.Agg
	args   []*Evaluator // nil for count(*)
	schema *arrow.Schema
	done   bool
}

func newAggregate(env *Env, a *plan.Aggregate) (Operator, error) {
	in, err := Build(env, a.Input)
	if err != nil {
		return nil, err
	}
	op := &aggregateOp{env: env, in: in, aggs: a.Aggs, args: make([]*Evaluator, len(a.Aggs)), schema: schemaOf(a.Cols)}
	for i, agg := range a.Aggs {
		if agg.Func == plan.Count {
			if op.args[i], err = Compile(env.Mem, agg.Arg); err != nil {
				op.Close()
				return nil, err
			}
		}
	}
	return op, nil
}

func (a *aggregateOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if a.done {
		return nil, nil
	}
	a.done = true
	counts := make([]int64, len(a.aggs))
	for {
		b, err := a.in.Next(ctx)
		if err != nil {
			return nil, err
		}
		if b == nil {
			break
		}
		for i, ev := range a.args {
			if ev == nil {
				counts[i] += b.NumRows()
				continue
			}
			arr, err := ev.Eval(b)
			if err != nil {
				b.Release()
				return nil, err
			}
			counts[i] += int64(arr.Len() - arr.NullN())
			arr.Release()
		}
		b.Release()
	}
	cols := make([]arrow.Array, len(counts))
	for i, c := range counts {
		bld := array.NewInt64Builder(memOr(a.env.Mem))
		bld.Append(c)
		cols[i] = bld.NewArray()
		bld.Release()
	}
	return newBatch(a.schema, cols, 1), nil
}

func (a *aggregateOp) Close() {
	for _, ev := range a.args {
		if ev != nil {
			ev.Release()
		}
	}
	a.in.Close()
}
