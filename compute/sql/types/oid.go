package types

// PostgreSQL type OIDs (pg_type.dat) for the pg_catalog relations and
// format_type. compute/pgwire keeps the same numbers for the wire.

// PGType describes one row of pg_type.
type PGType struct {
	OID  int64
	Name string
	// T is the engine type values of this PostgreSQL type have (varchar,
	// bpchar and name are text here; oid and the reg* types are int8).
	T T
	// Len is typlen (-1 variable, -2 C string).
	Len      int16
	Category byte
	// Elem is the element type OID of an array type, Array the array type
	// OID of a scalar type (0 for none).
	Elem, Array int64
	// SQL is format_type's name for the type without modifier.
	SQL string
}

// PGTypes lists the types pg_type shows, scalars first, then their arrays.
var PGTypes = func() []PGType {
	scalars := []PGType{
		{16, "bool", Bool, 1, 'B', 0, 1000, "boolean"},
		{17, "bytea", Bytea, -1, 'U', 0, 1001, "bytea"},
		{18, "char", Text, 1, 'Z', 0, 1002, `"char"`},
		{19, "name", Text, 64, 'S', 0, 1003, "name"},
		{20, "int8", Int8, 8, 'N', 0, 1016, "bigint"},
		{21, "int2", Int2, 2, 'N', 0, 1005, "smallint"},
		{22, "int2vector", ArrayOf(Int2), -1, 'A', 21, 1006, "int2vector"},
		{23, "int4", Int4, 4, 'N', 0, 1007, "integer"},
		{24, "regproc", Int8, 4, 'N', 0, 1008, "regproc"},
		{25, "text", Text, -1, 'S', 0, 1009, "text"},
		{26, "oid", Int8, 4, 'N', 0, 1028, "oid"},
		{30, "oidvector", ArrayOf(Int8), -1, 'A', 26, 1013, "oidvector"},
		{700, "float4", Float4, 4, 'N', 0, 1021, "real"},
		{701, "float8", Float8, 8, 'N', 0, 1022, "double precision"},
		{705, "unknown", Text, -2, 'X', 0, 0, "unknown"},
		{1042, "bpchar", Text, -1, 'S', 0, 1014, "character"},
		{1043, "varchar", Text, -1, 'S', 0, 1015, "character varying"},
		{1082, "date", Date, 4, 'D', 0, 1182, "date"},
		{1083, "time", Time, 8, 'D', 0, 1183, "time without time zone"},
		{1114, "timestamp", Timestamp, 8, 'D', 0, 1115, "timestamp without time zone"},
		{1184, "timestamptz", TimestampTZ, 8, 'D', 0, 1185, "timestamp with time zone"},
		{1186, "interval", Interval, 16, 'T', 0, 1187, "interval"},
		{1700, "numeric", Numeric, -1, 'N', 0, 1231, "numeric"},
		{2205, "regclass", Int8, 4, 'N', 0, 2210, "regclass"},
		{2206, "regtype", Int8, 4, 'N', 0, 2211, "regtype"},
		{2950, "uuid", UUID, 16, 'U', 0, 2951, "uuid"},
		{3802, "jsonb", JSONB, -1, 'U', 0, 3807, "jsonb"},
		{4089, "regnamespace", Int8, 4, 'N', 0, 4090, "regnamespace"},
	}
	out := scalars
	for _, s := range scalars {
		if s.Array == 0 {
			continue
		}
		at := ArrayOf(s.T)
		if s.T.IsArray() {
			at = Unknown
		}
		out = append(out, PGType{OID: s.Array, Name: "_" + s.Name, T: at, Len: -1, Category: 'A', Elem: s.OID, SQL: s.SQL + "[]"})
	}
	return out
}()

var pgTypeByOID = func() map[int64]*PGType {
	m := map[int64]*PGType{}
	for i := range PGTypes {
		m[PGTypes[i].OID] = &PGTypes[i]
	}
	return m
}()

// PGTypeByOID returns the pg_type row of oid, nil when unknown.
func PGTypeByOID(oid int64) *PGType { return pgTypeByOID[oid] }

// OIDOf returns the PostgreSQL type OID of a column of type t with
// modifier m (varchar(n) is varchar, char(n) bpchar), 0 when none.
func OIDOf(t T, m Mod) int64 {
	if t == Text && m != 0 {
		if m.IsChar() {
			return 1042
		}
		return 1043
	}
	if t.IsArray() {
		for _, p := range PGTypes {
			if p.T == t.Elem() && p.Elem == 0 && p.Array != 0 && p.Name != "char" && p.Name != "name" && p.Name != "oid" && p.Name != "regproc" && p.Name != "regclass" && p.Name != "regtype" && p.Name != "regnamespace" && p.Name != "bpchar" && p.Name != "varchar" {
				return p.Array
			}
		}
		return 0
	}
	for _, p := range PGTypes {
		if p.T == t && p.Elem == 0 && p.Category != 'A' {
			switch p.Name {
			case "char", "name", "oid", "regproc", "regclass", "regtype", "regnamespace", "bpchar", "varchar", "unknown":
				continue
			}
			return p.OID
		}
	}
	return 0
}

// FormatType is PostgreSQL's format_type(oid, typmod): the SQL name of a
// type with its modifier (typmod -1 or NULL for none); ok is false for an
// unknown OID.
func FormatType(oid int64, typmod int32) (string, bool) {
	p := PGTypeByOID(oid)
	if p == nil {
		return "", false
	}
	if typmod < 0 {
		return p.SQL, true
	}
	switch p.OID {
	case 1043, 1042:
		return p.SQL + "(" + itoa(typmod-4) + ")", true
	case 1700:
		v := typmod - 4
		return p.SQL + "(" + itoa(v>>16) + "," + itoa(v&0xFFFF) + ")", true
	}
	return p.SQL, true
}
