package pgwire

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// PostgreSQL type OIDs (pg_type.dat) of the engine's types and of the
// parameter types clients commonly declare.
const (
	oidUnspecified = 0
	oidBool        = 16
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidFloat4      = 700
	oidFloat8      = 701
	oidUnknown     = 705
	oidVarchar     = 1043
)

// Format codes of the extended protocol.
const (
	formatText   int16 = 0
	formatBinary int16 = 1
)

// oidOf returns the OID of an engine type name.
func oidOf(typ string) uint32 {
	switch typ {
	case "bool":
		return oidBool
	case "int4":
		return oidInt4
	case "int8":
		return oidInt8
	case "float8":
		return oidFloat8
	}
	if oid, ok := extOID(typ); ok {
		return oid
	}
	return oidText
}

// typeSize is pg_type.typlen of an OID (-1 for variable length).
func typeSize(oid uint32) int16 {
	switch oid {
	case oidBool:
		return 1
	case oidInt4:
		return 4
	case oidInt8, oidFloat8:
		return 8
	}
	if n, ok := extSize(oid); ok {
		return n
	}
	return -1
}

// typeNameOfOID maps a client-declared parameter OID to the engine type it
// is read as ("" for unspecified); ok is false for unsupported OIDs.
func typeNameOfOID(oid uint32) (name string, ok bool) {
	switch oid {
	case oidUnspecified, oidUnknown:
		return "", true
	case oidBool:
		return "bool", true
	case oidInt4:
		return "int4", true
	case oidInt8:
		return "int8", true
	case oidFloat8:
		return "float8", true
	case oidText, oidVarchar:
		return "text", true
	}
	return extNameOfOID(oid)
}

// rowDescription describes cols with the per-column result formats.
func rowDescription(cols []sql.Column, formats []int16) *pgproto3.RowDescription {
	rd := &pgproto3.RowDescription{Fields: make([]pgproto3.FieldDescription, len(cols))}
	for i, c := range cols {
		oid := oidOf(c.Type)
		rd.Fields[i] = pgproto3.FieldDescription{
			Name:         []byte(c.Name),
			DataTypeOID:  oid,
			DataTypeSize: typeSize(oid),
			TypeModifier: -1,
			Format:       formatAt(formats, i),
		}
	}
	return rd
}

// formatAt applies the protocol's format-code rule: no codes means text,
// one code applies to all, otherwise one per position.
func formatAt(formats []int16, i int) int16 {
	switch {
	case len(formats) == 0:
		return formatText
	case len(formats) == 1:
		return formats[0]
	case i < len(formats):
		return formats[i]
	}
	return formatText
}

// appendValue appends the encoding of row i of col in format f and reports
// whether it is NULL.
func appendValue(dst []byte, col arrow.Array, i int, f int16) ([]byte, bool) {
	if col.IsNull(i) {
		return dst, true
	}
	bin := f == formatBinary
	switch a := col.(type) {
	case *array.Boolean:
		switch {
		case bin && a.Value(i):
			return append(dst, 1), false
		case bin:
			return append(dst, 0), false
		case a.Value(i):
			return append(dst, 't'), false
		}
		return append(dst, 'f'), false
	case *array.Int32:
		if bin {
			return binary.BigEndian.AppendUint32(dst, uint32(a.Value(i))), false
		}
		return strconv.AppendInt(dst, int64(a.Value(i)), 10), false
	case *array.Int64:
		if bin {
			return binary.BigEndian.AppendUint64(dst, uint64(a.Value(i))), false
		}
		return strconv.AppendInt(dst, a.Value(i), 10), false
	case *array.Float64:
		if bin {
			return binary.BigEndian.AppendUint64(dst, math.Float64bits(a.Value(i))), false
		}
		return appendFloat8(dst, a.Value(i)), false
	case *array.String:
		return append(dst, a.Value(i)...), false
	}
	if out, ok := appendValueExt(dst, col, i, bin); ok {
		return out, false
	}
	return append(dst, col.ValueStr(i)...), false
}

// appendFloat8 appends PostgreSQL's float8 text output with
// extra_float_digits >= 1 (the default since PostgreSQL 12): the shortest
// string that reads back exactly, in fixed notation for decimal exponents
// -4..14 and in scientific notation with a signed two-or-more-digit
// exponent otherwise; NaN, Infinity, -Infinity; -0 keeps its sign.
func appendFloat8(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	exp := 0
	for j := len(e) - 1; j >= 0; j-- {
		if e[j] == 'e' {
			exp, _ = strconv.Atoi(string(e[j+1:]))
			break
		}
	}
	if exp < -4 || exp >= 15 {
		return append(dst, e...) // Go writes d.ddde±XX like C's %e
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// decodeParam converts one Bind parameter of type typ ("" when unknown) in
// format f to an engine parameter value: typed Go values for binary and
// declared types, the raw string for undeclared text.
func decodeParam(raw []byte, typ string, f int16, n int) (any, error) {
	if raw == nil {
		return nil, nil
	}
	switch f {
	case formatText:
		s := string(raw)
		if typ == "" || typ == "text" {
			return s, nil
		}
		t, _ := types.FromName(typ)
		if t >= types.Int2 {
			return s, nil // the engine parses it where the parameter is used
		}
		return types.ParseText(t, s)
	case formatBinary:
	default:
		return nil, sqlerr.New(codeInvalidParameterValue, "unsupported format code: %d", f)
	}
	bad := func() error {
		return sqlerr.New(codeInvalidBinaryRep, "incorrect binary data format in bind parameter %d", n)
	}
	switch typ {
	case "bool":
		if len(raw) != 1 {
			return nil, bad()
		}
		return raw[0] != 0, nil
	case "int4":
		switch len(raw) {
		case 2: // int2 declared
			return int32(int16(binary.BigEndian.Uint16(raw))), nil
		case 4:
			return int32(binary.BigEndian.Uint32(raw)), nil
		}
		return nil, bad()
	case "int8":
		if len(raw) != 8 {
			return nil, bad()
		}
		return int64(binary.BigEndian.Uint64(raw)), nil
	case "float8":
		switch len(raw) {
		case 4: // float4 declared
			return float64(math.Float32frombits(binary.BigEndian.Uint32(raw))), nil
		case 8:
			return math.Float64frombits(binary.BigEndian.Uint64(raw)), nil
		}
		return nil, bad()
	}
	if v, ok, err := decodeParamExt(raw, typ, n); ok {
		return v, err
	}
	return string(raw), nil
}
