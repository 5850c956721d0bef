// Package types owns the SQL types of the engine, their Arrow and row-codec
// representations, and the conversions between SQL text, Go values from
// clients and typed values.
//
// A typed value is held as a Go value of the type's carrier: bool, int32
// (int4), int64 (int8), float64 (float8) or string (text); nil is NULL.
package types

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/internal/rowcodec"
)

// T is a SQL type.
type T uint8

// The SQL types. Unknown is the type of an untyped literal ('abc', NULL or a
// parameter) until the context resolves it.
const (
	Unknown T = iota
	Bool
	Int4
	Int8
	Float8
	Text
	// Types added with the value-type work (types_ext.go holds their
	// parsing, printing and casts).
	Int2
	Float4
	Numeric
	Date
	Time
	Timestamp
	TimestampTZ
	Interval
	UUID
	Bytea
	JSONB
)

// String returns the PostgreSQL type name (bool, int4, int8, float8, text).
func (t T) String() string {
	switch t {
	case Bool:
		return "bool"
	case Int4:
		return "int4"
	case Int8:
		return "int8"
	case Float8:
		return "float8"
	case Text:
		return "text"
	}
	if n, ok := extNames[t]; ok {
		return n[0]
	}
	if t.IsArray() {
		return "_" + t.Elem().String()
	}
	return "unknown"
}

// SQLName is the name PostgreSQL uses in error messages.
func (t T) SQLName() string {
	switch t {
	case Bool:
		return "boolean"
	case Int4:
		return "integer"
	case Int8:
		return "bigint"
	case Float8:
		return "double precision"
	case Text:
		return "text"
	}
	if n, ok := extNames[t]; ok {
		return n[1]
	}
	if t.IsArray() {
		return t.Elem().SQLName() + "[]"
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler (catalog descriptors).
func (t T) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *T) UnmarshalText(b []byte) error {
	v, ok := FromName(string(b))
	if !ok {
		return fmt.Errorf("types: unknown type %q", b)
	}
	*t = v
	return nil
}

// FromName maps a PostgreSQL type name (as pg_query spells it, without the
// pg_catalog schema) to a type; varchar and character varying map to Text.
func FromName(name string) (T, bool) {
	switch name {
	case "bool", "boolean":
		return Bool, true
	case "int4", "int", "integer":
		return Int4, true
	case "int8", "bigint":
		return Int8, true
	case "float8", "double precision":
		return Float8, true
	case "text", "varchar", "character varying":
		return Text, true
	}
	return extFromName(name)
}

// IsNumeric reports whether t is an integer or floating-point type.
func (t T) IsNumeric() bool {
	return t == Int4 || t == Int8 || t == Float8 || t == Int2 || t == Float4 || t == Numeric
}

// Arrow returns the Arrow type of t's columns (Unknown is carried as text).
func (t T) Arrow() arrow.DataType { return t.Kind().ArrowType() }

// Kind returns the row-codec kind of t.
func (t T) Kind() rowcodec.Kind {
	switch t {
	case Bool:
		return rowcodec.KindBool
	case Int4:
		return rowcodec.KindInt32
	case Int8:
		return rowcodec.KindInt64
	case Float8:
		return rowcodec.KindFloat64
	}
	return extKind(t)
}

// FromArrow maps an Arrow type back to its SQL type.
func FromArrow(dt arrow.DataType) T {
	switch dt.ID() {
	case arrow.BOOL:
		return Bool
	case arrow.INT32:
		return Int4
	case arrow.INT64:
		return Int8
	case arrow.FLOAT64:
		return Float8
	case arrow.STRING:
		return Text
	}
	return Unknown
}

func invalidText(t T, s string) error {
	return sqlerr.New(sqlerr.CodeInvalidTextRep, "invalid input syntax for type %s: %q", t.SQLName(), s)
}

// OutOfRange returns the 22003 error for a value that does not fit t.
func OutOfRange(t T, s string) error {
	switch t {
	case Int4, Int8:
		return sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "value %q is out of range for type %s", s, t.SQLName())
	}
	return sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "%s out of range", t.SQLName())
}

// ParseText converts the text form of a value to t, as PostgreSQL's type
// input functions do: 22P02 for malformed text, 22003 when out of range.
func ParseText(t T, s string) (any, error) {
	trimmed := strings.TrimSpace(s)
	switch t {
	case Bool:
		switch strings.ToLower(trimmed) {
		case "t", "tr", "tru", "true", "y", "ye", "yes", "on", "1":
			return true, nil
		case "f", "fa", "fal", "fals", "false", "n", "no", "of", "off", "0":
			return false, nil
		}
		return nil, invalidText(t, s)
	case Int4, Int8:
		v, err := strconv.ParseInt(trimmed, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, OutOfRange(t, s)
			}
			return nil, invalidText(t, s)
		}
		if t == Int4 {
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, OutOfRange(t, s)
			}
			return int32(v), nil
		}
		return v, nil
	case Float8:
		switch strings.ToLower(trimmed) {
		case "nan":
			return math.NaN(), nil
		case "infinity", "+infinity", "inf", "+inf":
			return math.Inf(1), nil
		case "-infinity", "-inf":
			return math.Inf(-1), nil
		}
		v, err := strconv.ParseFloat(trimmed, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "%q is out of range for type double precision", s)
			}
			return nil, invalidText(t, s)
		}
		return v, nil
	case Text, Unknown:
		return s, nil
	}
	return parseExt(t, s)
}

// FormatText returns the PostgreSQL text output of a typed value.
func FormatText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN"
		case math.IsInf(x, 1):
			return "Infinity"
		case math.IsInf(x, -1):
			return "-Infinity"
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return x
	}
	return formatExt(v)
}

// InferParam returns the type a client parameter has when the context does
// not say: text for strings and NULL, bool for booleans, int8 for integral
// numbers and float8 for the other numbers.
func InferParam(v any) T {
	switch x := v.(type) {
	case bool:
		return Bool
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return Int8
		}
		return Float8
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return Int8
		}
		return Float8
	case int, int32, int64:
		return Int8
	}
	return Text
}

// CoerceParam converts a client parameter (decoded from JSON: string,
// float64, bool, nil or json.Number; Go integers are accepted too) to t.
// Values that do not fit answer 22P02 (or 22003 when out of range).
func CoerceParam(t T, v any) (any, error) {
	if t == Unknown {
		t = InferParam(v)
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return ParseText(t, x)
	case json.Number:
		return ParseText(t, string(x))
	case bool:
		switch t {
		case Bool:
			return x, nil
		case Text:
			return FormatText(x), nil
		}
		return nil, invalidText(t, FormatText(x))
	case int:
		return CoerceParam(t, json.Number(strconv.Itoa(x)))
	case int32:
		return CoerceParam(t, json.Number(strconv.FormatInt(int64(x), 10)))
	case int64:
		return CoerceParam(t, json.Number(strconv.FormatInt(x, 10)))
	case float64:
		switch t {
		case Float8:
			return x, nil
		case Int4, Int8:
			if x != math.Trunc(x) {
				return nil, invalidText(t, FormatText(x))
			}
			if x < -(1<<63) || x >= 1<<63 {
				return nil, OutOfRange(t, FormatText(x))
			}
			return ParseText(t, strconv.FormatInt(int64(x), 10))
		case Text:
			return FormatText(x), nil
		case Numeric:
			return ParseDecimal(strconv.FormatFloat(x, 'f', -1, 64))
		case Int2, Float4:
			return Cast(x, t)
		}
		return nil, invalidText(t, FormatText(x))
	case *ParamProbe:
		x.T = t
		return nil, nil
	}
	return nil, sqlerr.New(sqlerr.CodeInvalidTextRep, "unsupported parameter value of Go type %T", v)
}

// Cast converts one non-NULL typed value to t with PostgreSQL cast
// semantics: range checks answer 22003, text input 22P02, and floats round
// half to even into integers.
func Cast(v any, t T) (any, error) {
	if out, ok, err := castExt(v, t); ok {
		return out, err
	}
	if t == Text {
		return FormatText(v), nil
	}
	switch x := v.(type) {
	case string:
		return ParseText(t, x)
	case bool:
		if t == Int4 {
			if x {
				return int32(1), nil
			}
			return int32(0), nil
		}
	case int32:
		return castInt(int64(x), t)
	case int64:
		return castInt(x, t)
	case float64:
		if t == Float8 {
			return x, nil
		}
		r := math.RoundToEven(x)
		if math.IsNaN(r) || r < math.MinInt64 || r >= math.MaxInt64 {
			return nil, rangeError(t)
		}
		return castInt(int64(r), t)
	}
	return nil, sqlerr.New(sqlerr.CodeCannotCoerce, "cannot cast %T to %s", v, t.SQLName())
}

func castInt(v int64, t T) (any, error) {
	switch t {
	case Int4:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return nil, rangeError(t)
		}
		return int32(v), nil
	case Int8:
		return v, nil
	case Float8:
		return float64(v), nil
	case Bool:
		return v != 0, nil
	}
	return nil, sqlerr.New(sqlerr.CodeCannotCoerce, "cannot cast integer to %s", t.SQLName())
}

func rangeError(t T) error {
	return sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "%s out of range", t.SQLName())
}
