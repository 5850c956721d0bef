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
//	            int16   2 bytes little-endian
//	            float32 4 bytes little-endian IEEE-754 bits
//	            date32  4 bytes little-endian (days since 1970-01-01)
//	            time64, timestamp, timestamptz
//	                    8 bytes little-endian (microseconds)
//	            interval 4 bytes months, 4 bytes days, 8 bytes microseconds,
//	                    little-endian
//	            uuid    16 bytes
//	            binary  uvarint length, then the bytes
//
// Kinds added later (int16 onwards) only add payload shapes, so rows
// written before them decode unchanged and the version stays 1.
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
	KindBool        Kind = iota + 1 // arrow.Boolean
	KindInt32                       // arrow.Int32
	KindInt64                       // arrow.Int64
	KindFloat64                     // arrow.Float64
	KindString                      // arrow.String
	KindInt16                       // arrow.Int16
	KindFloat32                     // arrow.Float32
	KindDate32                      // arrow.Date32
	KindTime64                      // arrow.Time64 (microseconds)
	KindTimestamp                   // arrow.Timestamp (microseconds, no zone)
	KindTimestampTZ                 // arrow.Timestamp (microseconds, UTC)
	KindInterval                    // arrow.MonthDayNanoInterval (whole microseconds)
	KindUUID                        // arrow.FixedSizeBinary(16)
	KindBinary                      // arrow.Binary
)

// Arrow types of the kinds that need parameters.
var (
	timestampType   = &arrow.TimestampType{Unit: arrow.Microsecond}
	timestampTZType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	uuidType        = &arrow.FixedSizeBinaryType{ByteWidth: 16}
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
	case KindInt16:
		return arrow.PrimitiveTypes.Int16
	case KindFloat32:
		return arrow.PrimitiveTypes.Float32
	case KindDate32:
		return arrow.FixedWidthTypes.Date32
	case KindTime64:
		return arrow.FixedWidthTypes.Time64us
	case KindTimestamp:
		return timestampType
	case KindTimestampTZ:
		return timestampTZType
	case KindInterval:
		return arrow.FixedWidthTypes.MonthDayNanoInterval
	case KindUUID:
		return uuidType
	case KindBinary:
		return arrow.BinaryTypes.Binary
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
	case arrow.INT16:
		return KindInt16, true
	case arrow.FLOAT32:
		return KindFloat32, true
	case arrow.DATE32:
		return KindDate32, true
	case arrow.TIME64:
		return KindTime64, true
	case arrow.TIMESTAMP:
		if dt.(*arrow.TimestampType).TimeZone != "" {
			return KindTimestampTZ, true
		}
		return KindTimestamp, true
	case arrow.INTERVAL_MONTH_DAY_NANO:
		return KindInterval, true
	case arrow.FIXED_SIZE_BINARY:
		if dt.(*arrow.FixedSizeBinaryType).ByteWidth == 16 {
			return KindUUID, true
		}
	case arrow.BINARY:
		return KindBinary, true
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
		case *array.Int16:
			dst = binary.LittleEndian.AppendUint16(dst, uint16(c.Value(row)))
		case *array.Float32:
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(c.Value(row)))
		case *array.Date32:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(c.Value(row)))
		case *array.Time64:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(c.Value(row)))
		case *array.Timestamp:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(c.Value(row)))
		case *array.MonthDayNanoInterval:
			dst = appendInterval(dst, c.Value(row))
		case *array.FixedSizeBinary:
			dst = append(dst, c.Value(row)...)
		case *array.Binary:
			v := c.Value(row)
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			dst = append(dst, v...)
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
			dst, ok = appendExtValue(dst, kinds[i], v)
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
	mem      memory.Allocator
	kinds    []Kind
	skip     []bool        // nil: decode every column
	nulls    []arrow.Array // the last all-NULL array of each skipped column
	builders []array.Builder
	bools    []*array.BooleanBuilder
	i32      []*array.Int32Builder
	i64      []*array.Int64Builder
	f64      []*array.Float64Builder
	str      []*array.StringBuilder
	rows     int
}

// appendInterval encodes a month-day-nano interval holding whole
// microseconds.
func appendInterval(dst []byte, v arrow.MonthDayNanoInterval) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(v.Months))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(v.Days))
	return binary.LittleEndian.AppendUint64(dst, uint64(v.Nanoseconds/1000))
}

// appendExtValue encodes a Go value of one of the later kinds: int16,
// float32, int32 (date32), int64 (time64, timestamp, timestamptz),
// arrow.MonthDayNanoInterval, [16]byte (uuid) or []byte (binary).
func appendExtValue(dst []byte, k Kind, v any) ([]byte, bool) {
	switch k {
	case KindInt16:
		if x, ok := v.(int16); ok {
			return binary.LittleEndian.AppendUint16(dst, uint16(x)), true
		}
	case KindFloat32:
		if x, ok := v.(float32); ok {
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(x)), true
		}
	case KindDate32:
		if x, ok := v.(int32); ok {
			return binary.LittleEndian.AppendUint32(dst, uint32(x)), true
		}
	case KindTime64, KindTimestamp, KindTimestampTZ:
		if x, ok := v.(int64); ok {
			return binary.LittleEndian.AppendUint64(dst, uint64(x)), true
		}
	case KindInterval:
		if x, ok := v.(arrow.MonthDayNanoInterval); ok {
			return appendInterval(dst, x), true
		}
	case KindUUID:
		if x, ok := v.([16]byte); ok {
			return append(dst, x[:]...), true
		}
	case KindBinary:
		if x, ok := v.([]byte); ok {
			dst = binary.AppendUvarint(dst, uint64(len(x)))
			return append(dst, x...), true
		}
	}
	return dst, false
}

// NewDecoder returns a Decoder for rows of the given column kinds whose
// builders allocate from mem.
func NewDecoder(mem memory.Allocator, kinds []Kind) *Decoder {
	n := len(kinds)
	d := &Decoder{
		mem:      mem,
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
	for i, b := range d.builders {
		if d.skip == nil || !d.skip[i] {
			b.Reserve(n)
		}
	}
}

// Skip makes the decoder pass over the columns i with skip[i] set: their
// values are not decoded and NewArrays answers them as all-NULL arrays of
// the column's type (projection pushdown: a scan decodes only the columns
// its query reads). Call it before the first Append.
func (d *Decoder) Skip(skip []bool) {
	if len(skip) != len(d.kinds) {
		return
	}
	d.skip = append([]bool(nil), skip...)
	d.nulls = make([]arrow.Array, len(skip))
}

// skipValue returns the position after the value of kind k at value[p:]
// (validate has checked the length).
func skipValue(k Kind, value []byte, p int) int {
	switch k {
	case KindBool:
		return p + 1
	case KindInt16:
		return p + 2
	case KindInt32, KindFloat32, KindDate32:
		return p + 4
	case KindInt64, KindFloat64, KindTime64, KindTimestamp, KindTimestampTZ:
		return p + 8
	case KindInterval, KindUUID:
		return p + 16
	case KindString, KindBinary:
		l, sz := binary.Uvarint(value[p:])
		return p + sz + int(l)
	}
	panic(fmt.Sprintf("rowcodec: unknown kind %d", k))
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
			if d.skip == nil || !d.skip[i] {
				d.builders[i].AppendNull()
			}
			continue
		}
		if d.skip != nil && d.skip[i] {
			p = skipValue(k, value, p)
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
		default:
			p = appendExt(d.builders[i], k, value, p)
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
		case KindInt16:
			w = 2
		case KindFloat32, KindDate32:
			w = 4
		case KindTime64, KindTimestamp, KindTimestampTZ:
			w = 8
		case KindInterval, KindUUID:
			w = 16
		case KindString, KindBinary:
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
		if d.skip != nil && d.skip[i] {
			// Arrays are immutable: batches of the same length share one
			// all-NULL array per skipped column.
			if c := d.nulls[i]; c == nil || c.Len() != d.rows {
				if c != nil {
					c.Release()
				}
				d.nulls[i] = array.MakeArrayOfNull(d.mem, d.kinds[i].ArrowType(), d.rows)
			}
			d.nulls[i].Retain()
			out[i] = d.nulls[i]
			continue
		}
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
	for i, c := range d.nulls {
		if c != nil {
			c.Release()
			d.nulls[i] = nil
		}
	}
}

// appendExt decodes one value of a later kind at value[p:] into b and
// returns the position after it (validate has checked the length).
func appendExt(b array.Builder, k Kind, value []byte, p int) int {
	switch k {
	case KindInt16:
		b.(*array.Int16Builder).Append(int16(binary.LittleEndian.Uint16(value[p:])))
		return p + 2
	case KindFloat32:
		b.(*array.Float32Builder).Append(math.Float32frombits(binary.LittleEndian.Uint32(value[p:])))
		return p + 4
	case KindDate32:
		b.(*array.Date32Builder).Append(arrow.Date32(int32(binary.LittleEndian.Uint32(value[p:]))))
		return p + 4
	case KindTime64:
		b.(*array.Time64Builder).Append(arrow.Time64(int64(binary.LittleEndian.Uint64(value[p:]))))
		return p + 8
	case KindTimestamp, KindTimestampTZ:
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(int64(binary.LittleEndian.Uint64(value[p:]))))
		return p + 8
	case KindInterval:
		b.(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{
			Months:      int32(binary.LittleEndian.Uint32(value[p:])),
			Days:        int32(binary.LittleEndian.Uint32(value[p+4:])),
			Nanoseconds: int64(binary.LittleEndian.Uint64(value[p+8:])) * 1000,
		})
		return p + 16
	case KindUUID:
		b.(*array.FixedSizeBinaryBuilder).Append(value[p : p+16])
		return p + 16
	case KindBinary:
		l, sz := binary.Uvarint(value[p:])
		p += sz
		b.(*array.BinaryBuilder).Append(value[p : p+int(l)])
		return p + int(l)
	}
	panic(fmt.Sprintf("rowcodec: unknown kind %d", k))
}
