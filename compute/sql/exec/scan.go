package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/rowcodec"
)

// scanOp reads a table's key range at the statement snapshot, one KV.Scan
// of at most BatchRows rows per Next, decoding the value column straight
// into typed column builders. It resumes after the last key it saw, so a
// LIMIT above it stops the scan early.
type scanOp struct {
	env    *Env
	schema *arrow.Schema
	dec    *rowcodec.Decoder
	next   []byte // start of the next scan
	end    []byte
	done   bool
}

func newScan(env *Env, s *plan.Scan) *scanOp {
	prefix := keys.TablePrefix(env.DB, s.Table.ID)
	return &scanOp{
		env:    env,
		schema: schemaOf(s.Columns()),
		dec:    rowcodec.NewDecoder(memOr(env.Mem), s.Table.Kinds()),
		next:   prefix,
		end:    keys.PrefixEnd(prefix),
	}
}

func (s *scanOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if s.done {
		return nil, nil
	}
	limit := s.env.batchRows()
	var last []byte
	rows := 0
	s.dec.Reserve(limit)
	err := s.env.KV.Scan(ctx, s.env.Snap, s.next, s.end, limit, func(b arrow.RecordBatch) error {
		ks := b.Column(0).(*array.Binary)
		vs := b.Column(1).(*array.Binary)
		for i := range vs.Len() {
			if err := s.dec.Append(vs.Value(i)); err != nil {
				return fmt.Errorf("exec: decode row %x: %w", ks.Value(i), err)
			}
		}
		if n := ks.Len(); n > 0 {
			last = append(last[:0], ks.Value(n-1)...)
			rows += n
		}
		return nil
	})
	cols := s.dec.NewArrays()
	if err != nil {
		releaseAll(cols)
		return nil, fmt.Errorf("exec: scan: %w", err)
	}
	if rows < limit {
		s.done = true
	} else {
		s.next = keys.Next(last)
	}
	if rows == 0 {
		releaseAll(cols)
		return nil, nil
	}
	return newBatch(s.schema, cols, rows), nil
}

func (s *scanOp) Close() {
	if s.dec != nil {
		s.dec.Release()
		s.dec = nil
	}
}

// valuesOp emits literal rows as one batch.
type valuesOp struct {
	batch arrow.RecordBatch
}

func newValues(env *Env, v *plan.Values) (Operator, error) {
	mem := memOr(env.Mem)
	schema := schemaOf(v.Cols)
	if len(v.Cols) == 0 {
		return &valuesOp{batch: newBatch(schema, nil, len(v.Rows))}, nil
	}
	builders := make([]array.Builder, len(v.Cols))
	for i, c := range v.Cols {
		builders[i] = array.NewBuilder(mem, c.T.Arrow())
		builders[i].Reserve(len(v.Rows))
		defer builders[i].Release()
	}
	// Non-constant cells are evaluated over a one-row batch with no columns.
	one := newBatch(arrow.NewSchema(nil, nil), nil, 1)
	defer one.Release()
	for _, row := range v.Rows {
		for j, e := range row {
			if c, ok := e.(*plan.Const); ok {
				appendValue(builders[j], c.Value)
				continue
			}
			ev, err := Compile(mem, e)
			if err != nil {
				return nil, err
			}
			a, err := ev.Eval(one)
			ev.Release()
			if err != nil {
				return nil, err
			}
			appendValue(builders[j], valueAt(a, 0))
			a.Release()
		}
	}
	cols := make([]arrow.Array, len(builders))
	for i, b := range builders {
		cols[i] = b.NewArray()
	}
	return &valuesOp{batch: newBatch(schema, cols, len(v.Rows))}, nil
}

func (v *valuesOp) Next(context.Context) (arrow.RecordBatch, error) {
	b := v.batch
	v.batch = nil
	if b != nil && b.NumRows() == 0 {
		b.Release()
		return nil, nil
	}
	return b, nil
}

func (v *valuesOp) Close() {
	if v.batch != nil {
		v.batch.Release()
		v.batch = nil
	}
}
