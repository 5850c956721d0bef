package types

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/internal/rowcodec"
)

// UUIDValue is a UUID's 16 bytes.
type UUIDValue [16]byte

// JSONBValue is a jsonb document in PostgreSQL's normalized text form
// (keys sorted by length then bytes, duplicates removed, ", " and ": "
// separators).
type JSONBValue string

// extNames holds the PostgreSQL type name and the SQL name of every type
// added after the first five.
var extNames = map[T][2]string{
	Int2:        {"int2", "smallint"},
	Float4:      {"float4", "real"},
	Numeric:     {"numeric", "numeric"},
	Date:        {"date", "date"},
	Time:        {"time", "time without time zone"},
	Timestamp:   {"timestamp", "timestamp without time zone"},
	TimestampTZ: {"timestamptz", "timestamp with time zone"},
	Interval:    {"interval", "interval"},
	UUID:        {"uuid", "uuid"},
	Bytea:       {"bytea", "bytea"},
	JSONB:       {"jsonb", "jsonb"},
}

func extFromName(name string) (T, bool) {
	switch name {
	case "int2", "smallint":
		return Int2, true
	case "float4", "real":
		return Float4, true
	case "numeric", "decimal":
		return Numeric, true
	case "date":
		return Date, true
	case "time", "time without time zone":
		return Time, true
	case "timestamp", "timestamp without time zone":
		return Timestamp, true
	case "timestamptz", "timestamp with time zone":
		return TimestampTZ, true
	case "interval":
		return Interval, true
	case "uuid":
		return UUID, true
	case "bytea":
		return Bytea, true
	case "jsonb":
		return JSONB, true
	}
	return arrayFromName(name)
}

func extKind(t T) rowcodec.Kind {
	switch t {
	case Int2:
		return rowcodec.KindInt16
	case Float4:
		return rowcodec.KindFloat32
	case Date:
		return rowcodec.KindDate32
	case Time:
		return rowcodec.KindTime64
	case Timestamp:
		return rowcodec.KindTimestamp
	case TimestampTZ:
		return rowcodec.KindTimestampTZ
	case Interval:
		return rowcodec.KindInterval
	case UUID:
		return rowcodec.KindUUID
	case Bytea:
		return rowcodec.KindBinary
	}
	return rowcodec.KindString // text, numeric (its text), jsonb (normalized text)
}

// IsInteger reports whether t is int2, int4 or int8.
func (t T) IsInteger() bool { return t == Int2 || t == Int4 || t == Int8 }

// IsFloat reports whether t is float4 or float8.
func (t T) IsFloat() bool { return t == Float4 || t == Float8 }

// IsDatetime reports whether t is date, time, timestamp or timestamptz.
func (t T) IsDatetime() bool {
	return t == Date || t == Time || t == Timestamp || t == TimestampTZ
}

func parseExt(t T, s string) (any, error) {
	trimmed := strings.TrimSpace(s)
	switch t {
	case Int2:
		v, err := strconv.ParseInt(trimmed, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, OutOfRange(t, s)
			}
			return nil, invalidText(t, s)
		}
		if v < math.MinInt16 || v > math.MaxInt16 {
			return nil, OutOfRange(t, s)
		}
		return int16(v), nil
	case Float4:
		f, err := ParseText(Float8, s)
		if err != nil {
			if se := sqlerr.As(err); se != nil && se.Code == sqlerr.CodeInvalidTextRep {
				return nil, invalidText(t, s)
			}
			return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "%q is out of range for type real", s)
		}
		x := f.(float64)
		if !math.IsInf(x, 0) && !math.IsNaN(x) && (math.Abs(x) > math.MaxFloat32 || (x != 0 && math.Abs(x) < math.SmallestNonzeroFloat32)) {
			return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "%q is out of range for type real", s)
		}
		return float32(x), nil
	case Numeric:
		return ParseDecimal(s)
	case Date:
		return ParseDate(s)
	case Time:
		return ParseTime(s)
	case Timestamp:
		return ParseTimestamp(s)
	case TimestampTZ:
		return ParseTimestampTZ(s)
	case Interval:
		return ParseInterval(s)
	case UUID:
		return ParseUUID(s)
	case Bytea:
		return ParseBytea(s)
	case JSONB:
		return ParseJSONB(s)
	}
	if t.IsArray() {
		return ParseArray(t.Elem(), s)
	}
	return nil, fmt.Errorf("types: cannot parse into %s", t)
}

// formatFloat prints a float as PostgreSQL does with extra_float_digits
// >= 1: shortest round-trip digits, scientific notation for decimal
// exponents below -4 or at least maxExp (15 for float8, 6 for float4).
func formatFloat(f float64, bits, maxExp int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	e := strconv.FormatFloat(f, 'e', -1, bits)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= maxExp {
		return e
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// FormatFloat8 prints a float8 as PostgreSQL does.
func FormatFloat8(f float64) string { return formatFloat(f, 64, 15) }

// FormatFloat4 prints a float4 as PostgreSQL does.
func FormatFloat4(f float32) string { return formatFloat(float64(f), 32, 6) }

func formatExt(v any) string {
	switch x := v.(type) {
	case int16:
		return strconv.Itoa(int(x))
	case float32:
		return FormatFloat4(x)
	case Decimal:
		return x.String()
	case DateValue:
		return x.String()
	case TimeValue:
		return x.String()
	case TimestampValue:
		return x.String()
	case TimestampTZValue:
		return x.String()
	case IntervalValue:
		return x.String()
	case UUIDValue:
		return x.String()
	case []byte:
		return `\x` + hex.EncodeToString(x)
	case JSONBValue:
		return string(x)
	case ArrayValue:
		return x.String()
	}
	return fmt.Sprint(v)
}

// ParseUUID parses the forms PostgreSQL accepts: 32 hex digits, optionally
// with hyphens after groups of four and in braces.
func ParseUUID(s string) (UUIDValue, error) {
	var u UUIDValue
	t := s
	if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
		t = t[1 : len(t)-1]
	}
	var digits []byte
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c == '-' {
			if len(digits) == 0 || len(digits)%4 != 0 || i+1 == len(t) || t[i+1] == '-' {
				return u, invalidText(UUID, s)
			}
			continue
		}
		digits = append(digits, c)
	}
	if len(digits) != 32 {
		return u, invalidText(UUID, s)
	}
	if _, err := hex.Decode(u[:], digits); err != nil {
		return u, invalidText(UUID, s)
	}
	return u, nil
}

// String prints the canonical 8-4-4-4-12 lower-case form.
func (u UUIDValue) String() string {
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ParseBytea parses bytea input: \x followed by hex digit pairs, or the
// escape format (backslash-octal and doubled backslashes).
func ParseBytea(s string) ([]byte, error) {
	if strings.HasPrefix(s, `\x`) || strings.HasPrefix(s, `\X`) {
		h := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\n' {
				return -1
			}
			return r
		}, s[2:])
		if len(h)%2 != 0 {
			return nil, sqlerr.New(sqlerr.CodeInvalidParameterValue, "invalid hexadecimal data: odd number of digits")
		}
		out, err := hex.DecodeString(h)
		if err != nil {
			return nil, sqlerr.New(sqlerr.CodeInvalidParameterValue, "invalid hexadecimal digit")
		}
		return out, nil
	}
	out := []byte{}
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(s) && isOct(s[i+1]) && isOct(s[i+2]) && isOct(s[i+3]) && s[i+1] <= '3':
			out = append(out, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 3
		default:
			return nil, invalidText(Bytea, s)
		}
	}
	return out, nil
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }

// ParseJSONB parses JSON text into jsonb's normalized form.
func ParseJSONB(s string) (JSONBValue, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", sqlerr.New(sqlerr.CodeInvalidTextRep, "invalid input syntax for type json")
	}
	if _, err := dec.Token(); err == nil {
		return "", sqlerr.New(sqlerr.CodeInvalidTextRep, "invalid input syntax for type json")
	}
	var b bytes.Buffer
	if err := WriteJSONB(&b, v); err != nil {
		return "", err
	}
	return JSONBValue(b.String()), nil
}

// WriteJSONB writes a decoded JSON value (json.Number for numbers) in
// jsonb's output form.
func WriteJSONB(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		d, err := ParseDecimal(string(x))
		if err != nil {
			return err
		}
		b.WriteString(d.String())
	case string:
		enc, _ := json.Marshal(x)
		// PostgreSQL escapes only what JSON requires.
		out := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&", `\u2028`, "\u2028", `\u2029`, "\u2029").Replace(string(enc))
		b.WriteString(out)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := WriteJSONB(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortJSONKeys(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := WriteJSONB(b, k); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := WriteJSONB(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("types: unexpected JSON value %T", v)
	}
	return nil
}

// sortJSONKeys orders object keys as jsonb stores them: shorter first,
// then by bytes.
func sortJSONKeys(keys []string) {
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && jsonKeyLess(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

func jsonKeyLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// DecodeJSONB decodes a jsonb value into Go values (json.Number numbers).
func DecodeJSONB(j JSONBValue) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(j)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("types: corrupt jsonb: %w", err)
	}
	return v, nil
}

func intRange(t T) error { return rangeError(t) }

// castExt implements casts that involve a type added with the value-type
// work; ok is false when neither side is one (Cast handles those).
func castExt(v any, t T) (out any, ok bool, err error) {
	src := goType(v)
	if src < Int2 && t < Int2 {
		return nil, false, nil
	}
	if src == t {
		return v, true, nil
	}
	if t == Text {
		return FormatText(v), true, nil
	}
	if s, isStr := v.(string); isStr {
		out, err := ParseText(t, s)
		return out, true, err
	}
	out, err = castExtValue(v, src, t)
	return out, true, err
}

// goType maps a carrier value to its type (Unknown for other Go types).
func goType(v any) T {
	switch x := v.(type) {
	case bool:
		return Bool
	case int16:
		return Int2
	case int32:
		return Int4
	case int64:
		return Int8
	case float32:
		return Float4
	case float64:
		return Float8
	case string:
		return Text
	case Decimal:
		return Numeric
	case DateValue:
		return Date
	case TimeValue:
		return Time
	case TimestampValue:
		return Timestamp
	case TimestampTZValue:
		return TimestampTZ
	case IntervalValue:
		return Interval
	case UUIDValue:
		return UUID
	case []byte:
		return Bytea
	case JSONBValue:
		return JSONB
	case ArrayValue:
		return ArrayOf(x.Elem)
	}
	return Unknown
}

// TypeOfValue returns the type whose carrier v is (Unknown for nil).
func TypeOfValue(v any) T { return goType(v) }

func cannotCast(from, to T) error {
	return sqlerr.New(sqlerr.CodeCannotCoerce, "cannot cast type %s to %s", from.SQLName(), to.SQLName())
}

func castExtValue(v any, src, t T) (any, error) {
	switch {
	case src.IsArray() || t.IsArray():
		return castArray(v, src, t)
	case src.IsNumeric() && t.IsNumeric():
		return castNumber(v, src, t)
	case src == JSONB:
		return castFromJSONB(v.(JSONBValue), t)
	}
	switch x := v.(type) {
	case DateValue:
		switch t {
		case Timestamp:
			return TimestampValue(int64(x) * usPerDay), nil
		case TimestampTZ:
			return TimestampTZValue(int64(x) * usPerDay), nil
		}
	case TimestampValue:
		switch t {
		case Date:
			d, _ := floorDiv(int64(x), usPerDay)
			return DateValue(d), nil
		case TimestampTZ:
			return TimestampTZValue(x), nil
		case Time:
			_, us := floorDiv(int64(x), usPerDay)
			return TimeValue(us), nil
		}
	case TimestampTZValue:
		switch t {
		case Date:
			d, _ := floorDiv(int64(x), usPerDay)
			return DateValue(d), nil
		case Timestamp:
			return TimestampValue(x), nil
		case Time:
			_, us := floorDiv(int64(x), usPerDay)
			return TimeValue(us), nil
		}
	case TimeValue:
		if t == Interval {
			return IntervalValue{Micros: int64(x)}, nil
		}
	case IntervalValue:
		if t == Time {
			_, us := floorDiv(x.Micros, usPerDay)
			return TimeValue(us), nil
		}
	case bool:
		if t == Int2 || t == Int8 {
			break
		}
	}
	return nil, cannotCast(src, t)
}

// castNumber converts between the numeric types with PostgreSQL's rules:
// floats and numerics round to integers (floats half to even, numerics
// half away from zero), range errors answer 22003.
func castNumber(v any, src, t T) (any, error) {
	switch t {
	case Int2, Int4, Int8:
		var i int64
		switch x := v.(type) {
		case int16:
			i = int64(x)
		case int32:
			i = int64(x)
		case int64:
			i = x
		case float32, float64:
			f := toFloat(v)
			r := math.RoundToEven(f)
			if math.IsNaN(r) || r < math.MinInt64 || r >= math.MaxInt64 {
				return nil, intRange(t)
			}
			i = int64(r)
		case Decimal:
			var ok bool
			if i, ok = x.Int64(); !ok {
				return nil, intRange(t)
			}
		}
		switch t {
		case Int2:
			if i < math.MinInt16 || i > math.MaxInt16 {
				return nil, intRange(t)
			}
			return int16(i), nil
		case Int4:
			if i < math.MinInt32 || i > math.MaxInt32 {
				return nil, intRange(t)
			}
			return int32(i), nil
		}
		return i, nil
	case Float8:
		return toFloat(v), nil
	case Float4:
		f := toFloat(v)
		if !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
			return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "value out of range: overflow")
		}
		if f != 0 && !math.IsInf(f, 0) && math.Abs(f) < math.SmallestNonzeroFloat32/2 {
			return nil, sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "value out of range: underflow")
		}
		return float32(f), nil
	case Numeric:
		switch x := v.(type) {
		case int16:
			return DecimalFromInt(int64(x)), nil
		case int32:
			return DecimalFromInt(int64(x)), nil
		case int64:
			return DecimalFromInt(x), nil
		case float32:
			return DecimalFromFloat(float64(x), 6)
		case float64:
			return DecimalFromFloat(x, 15)
		}
	}
	return nil, cannotCast(src, t)
}

// toFloat converts any numeric carrier to float64.
func toFloat(v any) float64 {
	switch x := v.(type) {
	case int16:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case float32:
		return float64(x)
	case float64:
		return x
	case Decimal:
		return x.Float64()
	}
	return math.NaN()
}

// ToFloat converts a numeric carrier value to float64.
func ToFloat(v any) float64 { return toFloat(v) }

// ToDecimal converts an integer or numeric carrier value to a Decimal.
func ToDecimal(v any) (Decimal, error) {
	switch x := v.(type) {
	case Decimal:
		return x, nil
	case int16:
		return DecimalFromInt(int64(x)), nil
	case int32:
		return DecimalFromInt(int64(x)), nil
	case int64:
		return DecimalFromInt(x), nil
	case float32:
		return DecimalFromFloat(float64(x), 6)
	case float64:
		return DecimalFromFloat(x, 15)
	}
	return Decimal{}, fmt.Errorf("types: %T is not a number", v)
}

func castFromJSONB(j JSONBValue, t T) (any, error) {
	v, err := DecodeJSONB(j)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case json.Number:
		if t.IsNumeric() {
			d, err := ParseDecimal(string(x))
			if err != nil {
				return nil, err
			}
			return castNumber(d, Numeric, t)
		}
	case bool:
		if t == Bool {
			return x, nil
		}
	}
	return nil, sqlerr.New(sqlerr.CodeInvalidParameterValue, "cannot cast jsonb %s to type %s", jsonKind(v), t.SQLName())
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "numeric"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

// ParamProbe is a parameter value that binds as NULL to whatever type its
// context asks for and records that type in T (Describe uses it to learn
// parameter types).
type ParamProbe struct{ T T }
