package pgwire

import (
	"encoding/binary"
	"math"
	"math/big"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// OIDs of the later engine types (pg_type.dat).
const (
	oidBytea       = 17
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidInterval    = 1186
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
	oidBpchar      = 1042
)

// extOIDs maps the later engine type names to OIDs and typlen.
var extOIDs = map[string][2]int{
	"int2": {oidInt2, 2}, "float4": {oidFloat4, 4}, "numeric": {oidNumeric, -1},
	"date": {oidDate, 4}, "time": {oidTime, 8}, "timestamp": {oidTimestamp, 8},
	"timestamptz": {oidTimestampTZ, 8}, "interval": {oidInterval, 16}, "uuid": {oidUUID, 16},
	"bytea": {oidBytea, -1}, "jsonb": {oidJSONB, -1},
}

func extOID(typ string) (uint32, bool) {
	if v, ok := extOIDs[typ]; ok {
		return uint32(v[0]), true
	}
	return arrayOID(typ)
}

func extSize(oid uint32) (int16, bool) {
	for _, v := range extOIDs {
		if uint32(v[0]) == oid {
			return int16(v[1]), true
		}
	}
	return 0, false
}

func extNameOfOID(oid uint32) (string, bool) {
	switch oid {
	case oidBpchar:
		return "text", true
	case oidInt2:
		return "int2", true
	case oidFloat4:
		return "float4", true
	}
	for name, v := range extOIDs {
		if uint32(v[0]) == oid {
			return name, true
		}
	}
	return arrayNameOfOID(oid)
}

// PostgreSQL's binary epoch is 2000-01-01.
const (
	pgEpochDays   = 10957
	pgEpochMicros = pgEpochDays * 86400 * 1_000_000
)

// appendValueExt appends row i of one of the later types' arrays in
// format f; ok is false for other arrays.
func appendValueExt(dst []byte, col arrow.Array, i int, bin bool) ([]byte, bool) {
	var t types.T
	switch a := col.(type) {
	case *array.Int16:
		if bin {
			return binary.BigEndian.AppendUint16(dst, uint16(a.Value(i))), true
		}
		t = types.Int2
	case *array.Float32:
		if bin {
			return binary.BigEndian.AppendUint32(dst, math.Float32bits(a.Value(i))), true
		}
		t = types.Float4
	case *array.Date32:
		if bin {
			return binary.BigEndian.AppendUint32(dst, uint32(int32(a.Value(i))-pgEpochDays)), true
		}
		t = types.Date
	case *array.Time64:
		if bin {
			return binary.BigEndian.AppendUint64(dst, uint64(a.Value(i))), true
		}
		t = types.Time
	case *array.Timestamp:
		if bin {
			return binary.BigEndian.AppendUint64(dst, uint64(int64(a.Value(i))-pgEpochMicros)), true
		}
		t = types.Timestamp
		if a.DataType().(*arrow.TimestampType).TimeZone != "" {
			t = types.TimestampTZ
		}
	case *array.MonthDayNanoInterval:
		v := a.Value(i)
		if bin {
			dst = binary.BigEndian.AppendUint64(dst, uint64(v.Nanoseconds/1000))
			dst = binary.BigEndian.AppendUint32(dst, uint32(v.Days))
			return binary.BigEndian.AppendUint32(dst, uint32(v.Months)), true
		}
		t = types.Interval
	case *array.FixedSizeBinary:
		if bin {
			return append(dst, a.Value(i)...), true
		}
		t = types.UUID
	case *array.Binary:
		if bin {
			return append(dst, a.Value(i)...), true
		}
		t = types.Bytea
	default:
		return dst, false
	}
	return append(dst, types.FormatText(types.ValueAt(t, col, i))...), true
}

// appendNumericBinary appends numeric text in PostgreSQL's binary numeric
// format: ndigits, weight, sign, dscale, then base-10000 digits.
func appendNumericBinary(dst []byte, s string) []byte {
	d, err := types.ParseDecimal(s)
	if err != nil {
		return dst
	}
	neg := d.Sign() < 0
	digits := new(big.Int).Abs(d.Unscaled()).String()
	scale := int(d.Scale())
	for len(digits) <= scale {
		digits = "0" + digits
	}
	intPart, frac := digits[:len(digits)-scale], digits[len(digits)-scale:]
	intPart = strings.TrimLeft(intPart, "0")
	for len(intPart)%4 != 0 {
		intPart = "0" + intPart
	}
	for len(frac)%4 != 0 {
		frac += "0"
	}
	all := intPart + frac
	weight := len(intPart)/4 - 1
	groups := make([]uint16, 0, len(all)/4)
	for j := 0; j < len(all); j += 4 {
		var g uint16
		for _, c := range all[j : j+4] {
			g = g*10 + uint16(c-'0')
		}
		groups = append(groups, g)
	}
	for len(groups) > 0 && groups[0] == 0 {
		groups = groups[1:]
		weight--
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	if len(groups) == 0 {
		weight = 0
	}
	sign := uint16(0)
	if neg {
		sign = 0x4000
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(groups)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(weight)))
	dst = binary.BigEndian.AppendUint16(dst, sign)
	dst = binary.BigEndian.AppendUint16(dst, uint16(scale))
	for _, g := range groups {
		dst = binary.BigEndian.AppendUint16(dst, g)
	}
	return dst
}

// decodeNumericBinary converts PostgreSQL's binary numeric to its text.
func decodeNumericBinary(raw []byte) (string, bool) {
	if len(raw) < 8 {
		return "", false
	}
	n := int(binary.BigEndian.Uint16(raw))
	weight := int(int16(binary.BigEndian.Uint16(raw[2:])))
	sign := binary.BigEndian.Uint16(raw[4:])
	dscale := int(binary.BigEndian.Uint16(raw[6:]))
	if len(raw) != 8+2*n || (sign != 0 && sign != 0x4000) || dscale > 1000 {
		return "", false
	}
	u := new(big.Int)
	for j := range n {
		g := binary.BigEndian.Uint16(raw[8+2*j:])
		if g > 9999 {
			return "", false
		}
		u.Mul(u, big.NewInt(10000)).Add(u, big.NewInt(int64(g)))
	}
	// value = u * 10000^(weight - n + 1)
	exp := 4 * (weight - n + 1)
	var d types.Decimal
	if exp >= 0 {
		u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil))
		d = types.NewDecimal(u, 0)
	} else {
		d = types.NewDecimal(u, int32(-exp))
	}
	d = d.Round(int32(dscale))
	if sign == 0x4000 {
		d = d.Neg()
	}
	return d.String(), true
}

// decodeParamExt decodes a binary parameter of one of the later types to
// its text form (which the engine then parses); ok is false for others.
func decodeParamExt(raw []byte, typ string, n int) (any, bool, error) {
	if _, isArray := arrayOID(typ); isArray {
		v, err := decodeArrayBinary(raw, typ, n)
		return v, true, err
	}
	bad := func() (any, bool, error) {
		return nil, true, sqlerr.New(codeInvalidBinaryRep, "incorrect binary data format in bind parameter %d", n)
	}
	var v any
	switch typ {
	case "int2":
		if len(raw) != 2 {
			return bad()
		}
		v = int16(binary.BigEndian.Uint16(raw))
	case "float4":
		if len(raw) != 4 {
			return bad()
		}
		v = math.Float32frombits(binary.BigEndian.Uint32(raw))
	case "numeric":
		s, ok := decodeNumericBinary(raw)
		if !ok {
			return bad()
		}
		return s, true, nil
	case "date":
		if len(raw) != 4 {
			return bad()
		}
		v = types.DateValue(int32(binary.BigEndian.Uint32(raw)) + pgEpochDays)
	case "time":
		if len(raw) != 8 {
			return bad()
		}
		v = types.TimeValue(int64(binary.BigEndian.Uint64(raw)))
	case "timestamp":
		if len(raw) != 8 {
			return bad()
		}
		v = types.TimestampValue(int64(binary.BigEndian.Uint64(raw)) + pgEpochMicros)
	case "timestamptz":
		if len(raw) != 8 {
			return bad()
		}
		v = types.TimestampTZValue(int64(binary.BigEndian.Uint64(raw)) + pgEpochMicros)
	case "interval":
		if len(raw) != 16 {
			return bad()
		}
		v = types.IntervalValue{Micros: int64(binary.BigEndian.Uint64(raw)), Days: int32(binary.BigEndian.Uint32(raw[8:])),
			Months: int32(binary.BigEndian.Uint32(raw[12:]))}
	case "uuid":
		if len(raw) != 16 {
			return bad()
		}
		var u types.UUIDValue
		copy(u[:], raw)
		v = u
	case "bytea":
		v = append([]byte{}, raw...)
	case "jsonb":
		if len(raw) < 1 || raw[0] != 1 {
			return bad()
		}
		return string(raw[1:]), true, nil
	default:
		return nil, false, nil
	}
	return types.FormatText(v), true, nil
}

// isTextCarried reports whether a type's Arrow column holds its text
// (numeric, jsonb), so its binary format needs the type, not the array.
func isTextCarried(typ string) bool {
	_, isArray := arrayOID(typ)
	return typ == "numeric" || typ == "jsonb" || isArray
}

// appendTextCarriedBinary appends the binary format of row i of a numeric
// or jsonb column and reports whether it is NULL.
func appendTextCarriedBinary(dst []byte, typ string, col arrow.Array, i int) ([]byte, bool) {
	if col.IsNull(i) {
		return dst, true
	}
	s := col.(*array.String).Value(i)
	if _, isArray := arrayOID(typ); isArray {
		return appendArrayBinary(dst, typ, s), false
	}
	if typ == "jsonb" {
		return append(append(dst, 1), s...), false
	}
	return appendNumericBinary(dst, s), false
}
