package exec

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// sortOp materializes its input, computes a stable permutation over the
// sort keys and emits the permuted rows (compute.Take) in batches.
type sortOp struct {
	env    *Env
	in     Operator
	keys   []plan.SortKey
	schema *arrow.Schema
	// colTypes are the SQL types of the columns (keys of the later types
	// compare their carrier values).
	colTypes []types.T

	sorted arrow.RecordBatch // nil until the input is consumed
	pos    int64
	done   bool
}

func (s *sortOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if s.done {
		return nil, nil
	}
	if s.sorted == nil {
		if err := s.materialize(ctx); err != nil {
			return nil, err
		}
		if s.sorted == nil {
			s.done = true
			return nil, nil
		}
	}
	n := s.sorted.NumRows()
	if s.pos >= n {
		s.done = true
		return nil, nil
	}
	end := min(s.pos+int64(s.env.batchRows()), n)
	out := s.sorted.NewSlice(s.pos, end)
	s.pos = end
	return out, nil
}

func (s *sortOp) materialize(ctx context.Context) error {
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	total := 0
	for {
		b, err := s.in.Next(ctx)
		if err != nil {
			return err
		}
		if b == nil {
			break
		}
		batches = append(batches, b)
		total += int(b.NumRows())
	}
	if total == 0 {
		return nil
	}
	mem := memOr(s.env.Mem)
	ncols := len(s.schema.Fields())
	cols := make([]arrow.Array, ncols)
	defer releaseAll(cols)
	for c := range ncols {
		parts := make([]arrow.Array, len(batches))
		for i, b := range batches {
			parts[i] = b.Column(c)
		}
		var err error
		if cols[c], err = array.Concatenate(parts, mem); err != nil {
			return fmt.Errorf("exec: sort: concatenate: %w", err)
		}
	}
	idx := make([]int32, total)
	for i := range idx {
		idx[i] = int32(i)
	}
	cmps := make([]func(i, j int32) int, len(s.keys))
	for k, key := range s.keys {
		cmps[k] = typedKeyComparator(s.colType(key.Col), cols[key.Col], key)
	}
	slices.SortStableFunc(idx, func(i, j int32) int {
		for _, c := range cmps {
			if r := c(i, j); r != 0 {
				return r
			}
		}
		return 0
	})
	ib := array.NewInt32Builder(mem)
	ib.AppendValues(idx, nil)
	indices := ib.NewArray()
	ib.Release()
	defer indices.Release()
	cctx := compute.WithAllocator(ctx, mem)
	out := make([]arrow.Array, ncols)
	for c := range ncols {
		taken, err := takeArray(cctx, mem, cols[c], indices)
		if err != nil {
			releaseAll(out)
			return fmt.Errorf("exec: sort: take: %w", err)
		}
		out[c] = taken
	}
	s.sorted = newBatch(s.schema, out, total)
	return nil
}

// keyComparator compares two rows of one column under a sort key: NULLs
// first or last as asked, then values ascending or descending.
func keyComparator(col arrow.Array, key plan.SortKey) func(i, j int32) int {
	var values func(i, j int) int
	switch c := col.(type) {
	case *array.Int32:
		v := c.Int32Values()
		values = func(i, j int) int { return compareOrdered(v[i], v[j]) }
	case *array.Int64:
		v := c.Int64Values()
		values = func(i, j int) int { return compareOrdered(v[i], v[j]) }
	case *array.Float64:
		v := c.Float64Values()
		values = func(i, j int) int { return cmpFloat(v[i], v[j]) }
	case *array.String:
		values = func(i, j int) int { return strings.Compare(c.Value(i), c.Value(j)) }
	case *array.Boolean:
		values = func(i, j int) int { return cmpBool(c.Value(i), c.Value(j)) }
	default:
		values = func(int, int) int { return 0 }
	}
	hasNulls := col.NullN() > 0
	return func(i, j int32) int {
		if hasNulls {
			ni, nj := col.IsNull(int(i)), col.IsNull(int(j))
			switch {
			case ni && nj:
				return 0
			case ni:
				if key.NullsFirst {
					return -1
				}
				return 1
			case nj:
				if key.NullsFirst {
					return 1
				}
				return -1
			}
		}
		r := values(int(i), int(j))
		if key.Desc {
			return -r
		}
		return r
	}
}

func compareOrdered[T int32 | int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *sortOp) Close() {
	if s.sorted != nil {
		s.sorted.Release()
		s.sorted = nil
	}
	s.in.Close()
}
