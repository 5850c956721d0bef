package exec

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
)

// dmlJoinOp runs plan.DMLJoin as a nested loop: the right input is
// materialized, and for each left batch the predicate is evaluated
// vectorized once per right row. It is the join of UPDATE ... FROM and
// DELETE ... USING until the general join operators take over.
type dmlJoinOp struct {
	env    *Env
	left   Operator
	right  []arrow.RecordBatch
	pred   *Evaluator
	schema *arrow.Schema
	nLeft  int
}

func newDMLJoin(env *Env, j *plan.DMLJoin) (Operator, error) {
	right, err := Build(env, j.Right)
	if err != nil {
		return nil, err
	}
	op := &dmlJoinOp{env: env, schema: schemaOf(j.Columns()), nLeft: len(j.Left.Columns())}
	err = Drain(context.Background(), right, func(b arrow.RecordBatch) error {
		b.Retain()
		op.right = append(op.right, b)
		return nil
	})
	if err != nil {
		op.Close()
		return nil, err
	}
	if op.pred, err = Compile(env.Mem, j.Pred); err != nil {
		op.Close()
		return nil, err
	}
	if op.left, err = Build(env, j.Left); err != nil {
		op.Close()
		return nil, err
	}
	return op, nil
}

func (o *dmlJoinOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		lb, err := o.left.Next(ctx)
		if err != nil || lb == nil {
			return nil, err
		}
		out, err := o.join(lb)
		lb.Release()
		if err != nil || out != nil {
			return out, err
		}
	}
}

// join matches one left batch; nil when no left row matched.
func (o *dmlJoinOp) join(lb arrow.RecordBatch) (arrow.RecordBatch, error) {
	n := int(lb.NumRows())
	type ref struct{ b, r int }
	match := make([]ref, n)
	for i := range match {
		match[i] = ref{-1, -1}
	}
	left := n
	mem := memOr(o.env.Mem)
	for bi, rb := range o.right {
		for r := range int(rb.NumRows()) {
			if left == 0 {
				break
			}
			cols := append([]arrow.Array(nil), lb.Columns()...)
			for _, c := range rb.Columns() {
				cols = append(cols, constArrayOf(mem, c, r, n))
			}
			wide := array.NewRecordBatch(o.schema, cols, int64(n))
			for _, c := range cols[o.nLeft:] {
				c.Release()
			}
			mask, err := o.pred.Eval(wide)
			wide.Release()
			if err != nil {
				return nil, err
			}
			m := mask.(*array.Boolean)
			for i := range n {
				if match[i].b < 0 && m.IsValid(i) && m.Value(i) {
					match[i] = ref{bi, r}
					left--
				}
			}
			mask.Release()
		}
	}
	var rows []int
	for i, m := range match {
		if m.b >= 0 {
			rows = append(rows, i)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	fields := o.schema.Fields()
	cols := make([]arrow.Array, len(fields))
	for c := range fields {
		bld := array.NewBuilder(mem, fields[c].Type)
		for _, i := range rows {
			if c < o.nLeft {
				appendValue(bld, valueAt(lb.Column(c), i))
			} else {
				m := match[i]
				appendValue(bld, valueAt(o.right[m.b].Column(c-o.nLeft), m.r))
			}
		}
		cols[c] = bld.NewArray()
		bld.Release()
	}
	return newBatch(o.schema, cols, len(rows)), nil
}

// constArrayOf repeats row r of col n times.
func constArrayOf(mem memory.Allocator, col arrow.Array, r, n int) arrow.Array {
	bld := array.NewBuilder(mem, col.DataType())
	defer bld.Release()
	v := valueAt(col, r)
	for range n {
		appendValue(bld, v)
	}
	return bld.NewArray()
}

func (o *dmlJoinOp) Close() {
	for _, b := range o.right {
		b.Release()
	}
	o.right = nil
	if o.pred != nil {
		o.pred.Release()
		o.pred = nil
	}
	if o.left != nil {
		o.left.Close()
		o.left = nil
	}
}
