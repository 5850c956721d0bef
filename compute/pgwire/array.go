package pgwire

import (
	"encoding/binary"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// arrayOIDs maps an element type name to the OID of its array type
// (pg_type.dat's typarray).
var arrayOIDs = map[string]uint32{
	"bool": 1000, "bytea": 1001, "int2": 1005, "int4": 1007, "text": 1009, "int8": 1016,
	"float4": 1021, "float8": 1022, "date": 1182, "time": 1183, "timestamp": 1115,
	"timestamptz": 1185, "interval": 1187, "numeric": 1231, "uuid": 2951, "jsonb": 3807,
}

// arrayOID returns the OID of an array type name (_int4); ok is false for
// other names.
func arrayOID(typ string) (uint32, bool) {
	if len(typ) < 2 || typ[0] != '_' {
		return 0, false
	}
	oid, ok := arrayOIDs[typ[1:]]
	return oid, ok
}

// arrayNameOfOID maps a client-declared array parameter OID to the engine's
// array type name (varchar[] and name[] read as text[]).
func arrayNameOfOID(oid uint32) (string, bool) {
	switch oid {
	case 1015, 1003: // varchar[], name[]
		return "_text", true
	case 1028: // oid[]
		return "_int8", true
	}
	for name, o := range arrayOIDs {
		if o == oid {
			return "_" + name, true
		}
	}
	return "", false
}

// appendArrayBinary appends PostgreSQL's binary array format of an array
// value held as its text: ndim, has-NULL flag, element OID, then per
// dimension length and lower bound, then each element as length + binary
// value (-1 for NULL).
func appendArrayBinary(dst []byte, typ, text string) []byte {
	t, _ := types.FromName(typ)
	a, err := types.ParseArray(t.Elem(), text)
	if err != nil {
		return dst
	}
	elemName := t.Elem().String()
	elemOID := oidOf(elemName)
	if len(a.Elems) == 0 {
		dst = binary.BigEndian.AppendUint32(dst, 0)
		dst = binary.BigEndian.AppendUint32(dst, 0)
		return binary.BigEndian.AppendUint32(dst, elemOID)
	}
	hasNull := uint32(0)
	for _, e := range a.Elems {
		if e == nil {
			hasNull = 1
		}
	}
	dst = binary.BigEndian.AppendUint32(dst, 1)
	dst = binary.BigEndian.AppendUint32(dst, hasNull)
	dst = binary.BigEndian.AppendUint32(dst, elemOID)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(a.Elems)))
	dst = binary.BigEndian.AppendUint32(dst, 1)
	bld := array.NewBuilder(memory.DefaultAllocator, t.Elem().Arrow())
	defer bld.Release()
	for _, e := range a.Elems {
		types.Append(bld, e)
	}
	col := bld.NewArray()
	defer col.Release()
	for i := range a.Elems {
		lenAt := len(dst)
		dst = binary.BigEndian.AppendUint32(dst, 0)
		var null bool
		if isTextCarried(elemName) {
			dst, null = appendTextCarriedBinary(dst, elemName, col, i)
		} else {
			dst, null = appendValue(dst, col, i, formatBinary)
		}
		if null {
			binary.BigEndian.PutUint32(dst[lenAt:], 0xFFFFFFFF)
			continue
		}
		binary.BigEndian.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt-4))
	}
	return dst
}

// decodeArrayBinary converts a binary array parameter (one dimension) to
// its text form, which the engine parses as the declared array type.
func decodeArrayBinary(raw []byte, typ string, n int) (any, error) {
	bad := func() (any, error) {
		return nil, sqlerr.New(codeInvalidBinaryRep, "incorrect binary data format in bind parameter %d", n)
	}
	if len(raw) < 12 {
		return bad()
	}
	ndim := binary.BigEndian.Uint32(raw)
	elemName := typ[1:]
	raw = raw[12:]
	out := types.ArrayValue{Elem: types.Text, Elems: []any{}}
	if ndim == 0 {
		return out.String(), nil
	}
	if ndim != 1 || len(raw) < 8 {
		return nil, sqlerr.NotSupported("multidimensional array parameters")
	}
	count := int(binary.BigEndian.Uint32(raw))
	raw = raw[8:]
	for range count {
		if len(raw) < 4 {
			return bad()
		}
		l := int32(binary.BigEndian.Uint32(raw))
		raw = raw[4:]
		if l < 0 {
			out.Elems = append(out.Elems, nil)
			continue
		}
		if int(l) > len(raw) {
			return bad()
		}
		v, err := decodeParam(raw[:l], elemName, formatBinary, n)
		if err != nil {
			return nil, err
		}
		raw = raw[l:]
		if s, ok := v.(string); ok {
			out.Elems = append(out.Elems, s)
		} else {
			out.Elems = append(out.Elems, types.FormatText(v))
		}
	}
	return out.String(), nil
}
