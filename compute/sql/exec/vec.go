package exec

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/types"
)

// fixed is a carrier of fixed-width column values.
type fixed interface{ int32 | int64 | float64 }

// validity returns the validity bitmap of rows valid in every input (nil
// when no input has NULLs) and the number of NULL rows.
func validity(mem memory.Allocator, n int, ins ...arrow.Array) (*memory.Buffer, int) {
	any := false
	for _, a := range ins {
		if a.NullN() > 0 {
			any = true
		}
	}
	if !any {
		return nil, 0
	}
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bm := buf.Bytes()
	clear(bm)
	nulls := 0
	for i := range n {
		ok := true
		for _, a := range ins {
			if a.IsNull(i) {
				ok = false
				break
			}
		}
		if ok {
			bitutil.SetBit(bm, i)
		} else {
			nulls++
		}
	}
	return buf, nulls
}

// isValid reports whether row i is valid under a bitmap from validity.
func isValid(bm *memory.Buffer, i int) bool {
	return bm == nil || bitutil.BitIsSet(bm.Bytes(), i)
}

// newFixedBuf allocates a value buffer of n elements of T.
func newFixedBuf[T fixed](mem memory.Allocator, n int) (*memory.Buffer, []T) {
	var zero T
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * int(sizeOf(zero)))
	return buf, arrow.GetData[T](buf.Bytes())
}

func sizeOf[T fixed](T) uintptr {
	var z T
	switch any(z).(type) {
	case int32:
		return 4
	}
	return 8
}

// newBitmapBuf allocates a zeroed bitmap of n bits.
func newBitmapBuf(mem memory.Allocator, n int) (*memory.Buffer, []byte) {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	b := buf.Bytes()
	clear(b)
	return buf, b
}

// makeArray wraps buffers into an array of dt, taking ownership of them.
func makeArray(dt arrow.DataType, n int, valid, values *memory.Buffer, nulls int) arrow.Array {
	data := array.NewData(dt, n, []*memory.Buffer{valid, values}, nil, nulls, 0)
	arr := array.MakeFromData(data)
	data.Release()
	if valid != nil {
		valid.Release()
	}
	values.Release()
	return arr
}

// fixedValues returns the values slice of a fixed-width array.
func fixedValues[T fixed](a arrow.Array) []T {
	switch x := a.(type) {
	case *array.Int32:
		return any(x.Int32Values()).([]T)
	case *array.Int64:
		return any(x.Int64Values()).([]T)
	case *array.Float64:
		return any(x.Float64Values()).([]T)
	}
	panic(fmt.Sprintf("exec: %s is not a fixed-width array", a.DataType()))
}

// valueAt returns row i of a as a typed Go value (nil for NULL).
func valueAt(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch x := a.(type) {
	case *array.Boolean:
		return x.Value(i)
	case *array.Int32:
		return x.Value(i)
	case *array.Int64:
		return x.Value(i)
	case *array.Float64:
		return x.Value(i)
	case *array.String:
		return x.Value(i)
	}
	return types.ValueAt(types.Unknown, a, i)
}

// appendValue appends a typed Go value (nil for NULL) to a builder.
func appendValue(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch x := b.(type) {
	case *array.BooleanBuilder:
		x.Append(v.(bool))
	case *array.Int32Builder:
		x.Append(v.(int32))
	case *array.Int64Builder:
		x.Append(v.(int64))
	case *array.Float64Builder:
		x.Append(v.(float64))
	case *array.StringBuilder:
		if s, ok := v.(string); ok {
			x.Append(s)
		} else {
			types.Append(b, v)
		}
	default:
		types.Append(b, v)
	}
}

// constArray builds an array of n copies of v of type t.
func constArray(mem memory.Allocator, t types.T, v any, n int) arrow.Array {
	b := array.NewBuilder(mem, t.Arrow())
	defer b.Release()
	if v == nil {
		b.AppendNulls(n)
		return b.NewArray()
	}
	b.Reserve(n)
	for range n {
		appendValue(b, v)
	}
	return b.NewArray()
}

// newBatch assembles a record batch, taking ownership of cols.
func newBatch(schema *arrow.Schema, cols []arrow.Array, n int) arrow.RecordBatch {
	rec := array.NewRecordBatch(schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// releaseAll releases every non-nil array.
func releaseAll(arrs []arrow.Array) {
	for _, a := range arrs {
		if a != nil {
			a.Release()
		}
	}
}
