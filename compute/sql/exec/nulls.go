package exec

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// nullColumns hands out all-NULL arrays — the columns a scan did not
// decode because the query never reads them — as slices of one array per
// type, so the batches a join or sort retains share their NULL columns'
// buffers instead of each holding its own (at SF 1, TPC-H Q21's build
// sides held hundreds of megabytes of them).
type nullColumns struct {
	byType map[arrow.DataType]arrow.Array
}

// get returns an all-NULL array of type dt and length n; the caller
// releases it.
func (c *nullColumns) get(mem memory.Allocator, dt arrow.DataType, n int) arrow.Array {
	if c.byType == nil {
		c.byType = map[arrow.DataType]arrow.Array{}
	}
	a := c.byType[dt]
	if a == nil || a.Len() < n {
		if a != nil {
			a.Release()
		}
		a = array.MakeArrayOfNull(mem, dt, n)
		c.byType[dt] = a
	}
	return array.NewSlice(a, 0, int64(n))
}

// release drops the arrays kept for get (slices handed out keep theirs).
func (c *nullColumns) release() {
	for _, a := range c.byType {
		a.Release()
	}
	c.byType = nil
}

// concatNulls is concatBatches' answer for a column NULL in every batch:
// one all-NULL array of n rows whose validity, offsets and values are
// slices of the single zeroed buffer zero (at least 16*(n+1) bytes, shared
// by every such column), for the fixed-width and binary types the engine
// stores; other types get their own.
func concatNulls(mem memory.Allocator, dt arrow.DataType, n int, zero *memory.Buffer) arrow.Array {
	switch t := dt.(type) {
	case arrow.BinaryDataType:
		return fromBuffers(dt, n, zero, zero, zero)
	case arrow.FixedWidthDataType:
		if t.BitWidth() <= 128 {
			return fromBuffers(dt, n, zero, zero)
		}
	}
	return array.MakeArrayOfNull(mem, dt, n)
}

// fromBuffers makes an all-NULL array of n rows over bufs.
func fromBuffers(dt arrow.DataType, n int, bufs ...*memory.Buffer) arrow.Array {
	d := array.NewData(dt, n, bufs, nil, n, 0)
	defer d.Release()
	return array.MakeFromData(d)
}
