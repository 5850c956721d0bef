// Package rowcodec owns the value encoding of a table row (the KV value under
// a row key) and its fast decoding straight into Arrow column builders.
//
// # Format (version 1)
//
//	byte      version (1)
//	uvarint   n, the number of columns encoded
//	[(n+7)/8] null bitmap, bit i (LSB first) set when column i is NULL
//	values    for each non-NULL column in column order:
//	            bool    1 byte (0 or 1)
//	            int32   4 bytes little-endian
//	            int64   8 bytes little-endian
//	            float64 8 bytes little-endian IEEE-754 bits
//	            string  uvarint length, then the bytes
//
// Every column of the table is encoded, primary-key columns included, so a
// row decodes from its value alone. A row with fewer columns than the reader
// expects (a column added later) decodes the missing trailing columns as NULL.
// The package lives in internal/ because page servers will decode rows too,
// for filter pushdown.
package rowcodec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Version is the format version written by this package.
const Version = 1

// ErrCorrupt is wrapped by decode errors on malformed values.
var ErrCorrupt = errors.New("rowcodec: corrupt row")

// Kind is the physical type of a column.
type Kind uint8

// Column kinds and the Arrow types they decode to.
const (
	KindBool    Kind = iota + 1 // arrow.Boolean
	KindInt32                   // arrow.Int32
	KindInt64                   // arrow.Int64
	KindFloat64                 // arrow.Float64
	KindString                  // arrow.String
)

// ArrowType returns the Arrow type k decodes to.
func (k Kind) ArrowType() arrow.DataType {
	switch k {
	case KindBool:
		return arrow.FixedWidthTypes.Boolean
	case KindInt32:
		return arrow.PrimitiveTypes.Int32
	case KindInt64:
		return arrow.PrimitiveTypes.Int64
	case KindFloat64:
		return arrow.PrimitiveTypes.Float64
	case KindString:
		return arrow.BinaryTypes.String
	}
	panic(fmt.Sprintf("rowcodec: unknown kind %d", k))
}

// KindOf returns the Kind of an Arrow type, or false when there is none.
func KindOf(dt arrow.DataType) (Kind, bool) {
	switch dt.ID() {
	case arrow.BOOL:
		return KindBool, true
	case arrow.INT32:
		return KindInt32, true
	case arrow.INT64:
		return KindInt64, true
	case arrow.FLOAT64:
		return KindFloat64, true
	case arrow.STRING:
		return KindString, true
	}
	return 0, false
}

func appendHeader(dst []byte, n int) ([]byte, int) {
	dst = append(dst, Version)
	dst = binary.AppendUvarint(dst, uint64(n))
	bm := len(dst)
	for range (n + 7) / 8 {
		dst = append(dst, 0)
	}
	return dst, bm
}

// AppendArrays appends the encoding of row `row` of cols (one array per
// column, of the Arrow types of the Kinds) to dst.
func AppendArrays(dst []byte, cols []arrow.Array, row int) ([]byte, error) {
	dst, bm := appendHeader(dst, len(cols))
	for i, col := range cols {
		if col.IsNull(row) {
			dst[bm+i/8] |= 1 << (i % 8)
			continue
		}
		switch c := col.(type) {
		case *array.Boolean:
			if c.Value(row) {
				dst = append(dst, 1)
			} else {
				dst = append(dst, 0)
			}
		case *array.Int32:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(c.Value(row)))
		case *array.Int64:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(c.Value(row)))
		case *array.Float64:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(c.Value(row)))
		case *array.String:
			s := c.Value(row)
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		default:
			return nil, fmt.Errorf("rowcodec: unsupported column type %s", col.DataType())
		}
	}
	return dst, nil
}

// AppendValues appends the encoding of one row given as Go values (nil, bool,
// int32, int64, float64, string) matching kinds. It exists for tests and
// tools; the engine encodes from Arrow arrays.
func AppendValues(dst []byte, kinds []Kind, vals []any) ([]byte, error) {
	if len(kinds) != len(vals) {
		return nil, fmt.Errorf("rowcodec: %d kinds for %d values", len(kinds), len(vals))
	}
	dst, bm := appendHeader(dst, len(vals))
	for i, v := range vals {
		if v == nil {
			dst[bm+i/8] |= 1 << (i % 8)
			continue
		}
		ok := true
		switch kinds[i] {
		case KindBool:
			var b bool
			if b, ok = v.(bool); ok {
				if b {
					dst = append(dst, 1)
				} else {
					dst = append(dst, 0)
				}
			}
		case KindInt32:
			var x int32
			if x, ok = v.(int32); ok {
				dst = binary.LittleEndian.AppendUint32(dst, uint32(x))
			}
		case KindInt64:
			var x int64
			if x, ok = v.(int64); ok {
				dst = binary.LittleEndian.AppendUint64(dst, uint64(x))
			}
		case KindFloat64:
			var x float64
			if x, ok = v.(float64); ok {
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(x))
			}
		case KindString:
			var s string
			if s, ok = v.(string); ok {
				dst = binary.AppendUvarint(dst, uint64(len(s)))
				dst = append(dst, s...)
			}
		default:
			ok = false
		}
		if !ok {
			return nil, fmt.Errorf("rowcodec: value %T does not match kind %d of column %d", v, kinds[i], i)
		}
	}
	return dst, nil
}

// Decoder decodes rows into one Arrow builder per column. It is not safe for
// concurrent use.
type Decoder struct {
	kinds    []Kind
	builders []array.Builder
	bools    []*array.BooleanBuilder
	i32      []*array.Int32Builder
	i64      []*array.Int64Builder
	f64      []*array.Float64Builder
	str      []*array.StringBuilder
	rows     int
}

// NewDecoder returns a Decoder for rows of the given column kinds whose
// builders allocate from mem.
func NewDecoder(mem memory.Allocator, kinds []Kind) *Decoder {
	n := len(kinds)
	d := &Decoder{
		kinds:    kinds,
		builders: make([]array.Builder, n),
		bools:    make([]*array.BooleanBuilder, n),
		i32:      make([]*array.Int32Builder, n),
		i64:      make([]*array.Int64Builder, n),
		f64:      make([]*array.Float64Builder, n),
		str:      make([]*array.StringBuilder, n),
	}
	for i, k := range kinds {
		b := array.NewBuilder(mem, k.ArrowType())
		d.builders[i] = b
		switch k {
		case KindBool:
			d.bools[i] = b.(*array.BooleanBuilder)
		case KindInt32:
			d.i32[i] = b.(*array.Int32Builder)
		case KindInt64:
			d.i64[i] = b.(*array.Int64Builder)
		case KindFloat64:
			d.f64[i] = b.(*array.Float64Builder)
		case KindString:
			d.str[i] = b.(*array.StringBuilder)
		}
	}
	return d
}

// Reserve makes room for n more rows in every builder.
func (d *Decoder) Reserve(n int) {
	for _, b := range d.builders {
		b.Reserve(n)
	}
}

// Rows returns the number of rows appended since the last NewArrays.
func (d *Decoder) Rows() int { return d.rows }

// Append decodes one row and appends it to the builders. On error no builder
// is left half-appended.
func (d *Decoder) Append(value []byte) error {
	if err := d.validate(value); err != nil {
		return err
	}
	n, sz := binary.Uvarint(value[1:])
	p := 1 + sz
	bm := value[p : p+int(n+7)/8]
	p += int(n+7) / 8
	for i, k := range d.kinds {
		if uint64(i) >= n || bm[i/8]&(1<<(i%8)) != 0 {
			d.builders[i].AppendNull()
			continue
		}
		switch k {
		case KindBool:
			d.bools[i].Append(value[p] != 0)
			p++
		case KindInt32:
			d.i32[i].Append(int32(binary.LittleEndian.Uint32(value[p:])))
			p += 4
		case KindInt64:
			d.i64[i].Append(int64(binary.LittleEndian.Uint64(value[p:])))
			p += 8
		case KindFloat64:
			d.f64[i].Append(math.Float64frombits(binary.LittleEndian.Uint64(value[p:])))
			p += 8
		case KindString:
			l, sz := binary.Uvarint(value[p:])
			p += sz
			d.str[i].BinaryBuilder.Append(value[p : p+int(l)])
			p += int(l)
		}
	}
	d.rows++
	return nil
}

// validate checks that value holds at least the columns the decoder reads,
// so Append never panics on corrupt input.
func (d *Decoder) validate(value []byte) error {
	if len(value) < 2 || value[0] != Version {
		return fmt.Errorf("%w: bad header", ErrCorrupt)
	}
	n, sz := binary.Uvarint(value[1:])
	if sz <= 0 || n > uint64(len(value))*8 {
		return fmt.Errorf("%w: bad column count", ErrCorrupt)
	}
	p := 1 + sz
	if len(value) < p+int(n+7)/8 {
		return fmt.Errorf("%w: short null bitmap", ErrCorrupt)
	}
	bm := value[p : p+int(n+7)/8]
	p += int(n+7) / 8
	for i, k := range d.kinds {
		if uint64(i) >= n {
			break
		}
		if bm[i/8]&(1<<(i%8)) != 0 {
			continue
		}
		var w int
		switch k {
		case KindBool:
			w = 1
		case KindInt32:
			w = 4
		case KindInt64, KindFloat64:
			w = 8
		case KindString:
			if p > len(value) {
				return fmt.Errorf("%w: truncated column %d", ErrCorrupt, i)
			}
			l, sz := binary.Uvarint(value[p:])
			if sz <= 0 || l > uint64(len(value)) {
				return fmt.Errorf("%w: bad string length in column %d", ErrCorrupt, i)
			}
			p += sz
			w = int(l)
		}
		if p+w > len(value) {
			return fmt.Errorf("%w: truncated column %d", ErrCorrupt, i)
		}
		p += w
	}
	return nil
}

// NewArrays returns the decoded columns and resets the builders. The caller
// owns (and must release) the arrays.
func (d *Decoder) NewArrays() []arrow.Array {
	out := make([]arrow.Array, len(d.builders))
	for i, b := range d.builders {
		out[i] = b.NewArray()
	}
	d.rows = 0
	return out
}

// Release releases the builders.
func (d *Decoder) Release() {
	for _, b := range d.builders {
		b.Release()
	}
}
