package exec

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
)

// seqCall compiles a sequence function: it runs once per row, in row order.
func (ev *Evaluator) seqCall(mem memory.Allocator, x *plan.SeqCall) (evalFn, error) {
	args := make([]evalFn, len(x.Args))
	for i, a := range x.Args {
		f, err := ev.compile(mem, a)
		if err != nil {
			return nil, err
		}
		args[i] = f
	}
	return func(b arrow.RecordBatch) (arrow.Array, error) {
		arrs := make([]arrow.Array, len(args))
		defer releaseAll(arrs)
		for i, f := range args {
			a, err := f(b)
			if err != nil {
				return nil, err
			}
			arrs[i] = a
		}
		bld := array.NewInt64Builder(memOr(mem))
		defer bld.Release()
		vals := make([]any, len(arrs))
		for r := range int(b.NumRows()) {
			null := false
			for i, a := range arrs {
				vals[i] = valueAt(a, r)
				null = null || vals[i] == nil
			}
			if null {
				bld.AppendNull() // strict functions: NULL in, NULL out
				continue
			}
			v, err := x.Do(vals)
			if err != nil {
				return nil, err
			}
			bld.Append(v)
		}
		return bld.NewArray(), nil
	}, nil
}
