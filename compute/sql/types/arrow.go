package types

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/internal/keys"
)

// ValueAt returns row i of a column of type t as the type's carrier value
// (nil for NULL): numeric text becomes a Decimal, jsonb text a JSONBValue,
// Arrow dates and times the datetime carriers.
func ValueAt(t T, a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch x := a.(type) {
	case *array.Boolean:
		return x.Value(i)
	case *array.Int16:
		return x.Value(i)
	case *array.Int32:
		return x.Value(i)
	case *array.Int64:
		return x.Value(i)
	case *array.Float32:
		return x.Value(i)
	case *array.Float64:
		return x.Value(i)
	case *array.String:
		switch t {
		case Numeric:
			d, err := ParseDecimal(x.Value(i))
			if err != nil {
				panic(fmt.Sprintf("types: corrupt numeric %q", x.Value(i)))
			}
			return d
		case JSONB:
			return JSONBValue(x.Value(i))
		}
		if t.IsArray() {
			a, err := ParseArray(t.Elem(), x.Value(i))
			if err != nil {
				panic(fmt.Sprintf("types: corrupt array %q", x.Value(i)))
			}
			return a
		}
		return x.Value(i)
	case *array.Date32:
		return DateValue(x.Value(i))
	case *array.Time64:
		return TimeValue(x.Value(i))
	case *array.Timestamp:
		if t == TimestampTZ {
			return TimestampTZValue(x.Value(i))
		}
		return TimestampValue(x.Value(i))
	case *array.MonthDayNanoInterval:
		v := x.Value(i)
		return IntervalValue{Months: v.Months, Days: v.Days, Micros: v.Nanoseconds / 1000}
	case *array.FixedSizeBinary:
		var u UUIDValue
		copy(u[:], x.Value(i))
		return u
	case *array.Binary:
		return bytes.Clone(x.Value(i))
	}
	panic(fmt.Sprintf("types: unsupported array type %s", a.DataType()))
}

// Append appends a carrier value (nil for NULL) to a builder of its type's
// Arrow type.
func Append(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch x := b.(type) {
	case *array.BooleanBuilder:
		x.Append(v.(bool))
	case *array.Int16Builder:
		x.Append(v.(int16))
	case *array.Int32Builder:
		x.Append(v.(int32))
	case *array.Int64Builder:
		x.Append(v.(int64))
	case *array.Float32Builder:
		x.Append(v.(float32))
	case *array.Float64Builder:
		x.Append(v.(float64))
	case *array.StringBuilder:
		switch y := v.(type) {
		case string:
			x.Append(y)
		case Decimal:
			x.Append(y.String())
		case JSONBValue:
			x.Append(string(y))
		case ArrayValue:
			x.Append(y.String())
		default:
			panic(fmt.Sprintf("types: %T into a string builder", v))
		}
	case *array.Date32Builder:
		x.Append(arrow.Date32(v.(DateValue)))
	case *array.Time64Builder:
		x.Append(arrow.Time64(v.(TimeValue)))
	case *array.TimestampBuilder:
		switch y := v.(type) {
		case TimestampValue:
			x.Append(arrow.Timestamp(y))
		case TimestampTZValue:
			x.Append(arrow.Timestamp(y))
		}
	case *array.MonthDayNanoIntervalBuilder:
		iv := v.(IntervalValue)
		x.Append(arrow.MonthDayNanoInterval{Months: iv.Months, Days: iv.Days, Nanoseconds: iv.Micros * 1000})
	case *array.FixedSizeBinaryBuilder:
		u := v.(UUIDValue)
		x.Append(u[:])
	case *array.BinaryBuilder:
		x.Append(v.([]byte))
	default:
		panic(fmt.Sprintf("types: unsupported builder %T", b))
	}
}

// Compare orders two non-NULL carrier values of the same type as
// PostgreSQL's btree operators do (NaN after every float, numerics by
// value, intervals by span, text by bytes).
func Compare(a, b any) int {
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case int16:
		return cmp.Compare(x, b.(int16))
	case int32:
		return cmp.Compare(x, b.(int32))
	case int64:
		return cmp.Compare(x, b.(int64))
	case float32:
		return cmpFloat(float64(x), float64(b.(float32)))
	case float64:
		return cmpFloat(x, b.(float64))
	case string:
		return strings.Compare(x, b.(string))
	case Decimal:
		return x.Cmp(b.(Decimal))
	case DateValue:
		return cmp.Compare(x, b.(DateValue))
	case TimeValue:
		return cmp.Compare(x, b.(TimeValue))
	case TimestampValue:
		return cmp.Compare(x, b.(TimestampValue))
	case TimestampTZValue:
		return cmp.Compare(x, b.(TimestampTZValue))
	case IntervalValue:
		return x.Cmp(b.(IntervalValue))
	case UUIDValue:
		y := b.(UUIDValue)
		return bytes.Compare(x[:], y[:])
	case []byte:
		return bytes.Compare(x, b.([]byte))
	case JSONBValue:
		return strings.Compare(string(x), string(b.(JSONBValue)))
	case ArrayValue:
		return compareArrays(x, b.(ArrayValue))
	}
	panic(fmt.Sprintf("types: cannot compare %T", a))
}

func cmpFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return cmp.Compare(a, b)
}

// AppendKey appends the order-preserving key encoding of a non-NULL
// carrier value (internal/keys): integers and datetimes as ints, floats as
// floats, numerics and interval spans as decimals, uuid and bytea as bytes.
func AppendKey(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case bool:
		return keys.AppendBool(b, x), nil
	case int16:
		return keys.AppendInt(b, int64(x)), nil
	case int32:
		return keys.AppendInt(b, int64(x)), nil
	case int64:
		return keys.AppendInt(b, x), nil
	case float32:
		return keys.AppendFloat(b, float64(x)), nil
	case float64:
		return keys.AppendFloat(b, x), nil
	case string:
		return keys.AppendString(b, x), nil
	case Decimal:
		return appendDecimalKey(b, x), nil
	case DateValue:
		return keys.AppendInt(b, int64(x)), nil
	case TimeValue:
		return keys.AppendInt(b, int64(x)), nil
	case TimestampValue:
		return keys.AppendInt(b, int64(x)), nil
	case TimestampTZValue:
		return keys.AppendInt(b, int64(x)), nil
	case IntervalValue:
		return appendDecimalKey(b, Decimal{u: x.span()}), nil
	case UUIDValue:
		return keys.AppendBytes(b, x[:]), nil
	case []byte:
		return keys.AppendBytes(b, x), nil
	case JSONBValue:
		return keys.AppendString(b, string(x)), nil // normalized text: equal documents encode equally
	case ArrayValue:
		return appendArrayKey(b, x)
	}
	return nil, fmt.Errorf("types: %s cannot be a key", TypeOfValue(v).SQLName())
}

func appendDecimalKey(b []byte, d Decimal) []byte {
	u := d.bi()
	digits := strings.TrimPrefix(u.String(), "-")
	if u.Sign() == 0 {
		return keys.AppendDecimal(b, false, "", 0)
	}
	return keys.AppendDecimal(b, u.Sign() < 0, digits, int32(len(digits))-d.scale)
}
