package bind

import (
	"strconv"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// The rows of the information_schema relations (see systables.go).

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

func infoSchemata(*sysInfo) [][]any {
	var out [][]any
	for _, s := range []string{schemaInfo, schemaCatalog, schemaPublic} {
		out = append(out, []any{databaseName, s, ownerName, nil, nil, nil, nil})
	}
	return out
}

func infoTables(si *sysInfo) [][]any {
	var out [][]any
	for _, t := range si.tables {
		typ, ins := "BASE TABLE", "YES"
		if t.ViewQuery != "" {
			typ, ins = "VIEW", "NO"
		}
		out = append(out, []any{databaseName, schemaPublic, t.Name, typ, nil, nil, nil, nil, nil, ins, "NO", nil})
	}
	for _, r := range sysRels {
		typ := "BASE TABLE"
		if r.kind == "v" {
			typ = "VIEW"
		}
		out = append(out, []any{databaseName, r.schema, r.name, typ, nil, nil, nil, nil, nil, "NO", "NO", nil})
	}
	return out
}

// dataType is information_schema's data_type of a column.
func dataType(c catalog.Column) string {
	if c.Type.IsArray() {
		return "ARRAY"
	}
	if c.Type == types.Text && c.Mod != 0 {
		if c.Mod.IsChar() {
			return "character"
		}
		return "character varying"
	}
	return c.Type.SQLName()
}

func infoColumnRow(schema, table string, i int, c catalog.Column, updatable bool) []any {
	var charLen, octetLen, prec, radix, scale, dtPrec any
	switch {
	case c.Type == types.Text:
		octetLen = 1073741824
		if n, ok := c.Mod.Length(); ok {
			charLen, octetLen = int(n), int(n)*4
		}
	case c.Type.IsInteger():
		prec, radix, scale = map[types.T]int{types.Int2: 16, types.Int4: 32, types.Int8: 64}[c.Type], 2, 0
	case c.Type == types.Float4:
		prec, radix = 24, 2
	case c.Type == types.Float8:
		prec, radix = 53, 2
	case c.Type == types.Numeric:
		radix = 10
		if p, s, ok := c.Mod.PrecScale(); ok {
			prec, scale = int(p), int(s)
		}
	case c.Type == types.Date:
		dtPrec = 0
	case c.Type.IsDatetime() || c.Type == types.Interval:
		dtPrec = 6
	}
	toid, _ := typeOIDMod(c)
	udt := ""
	if p := types.PGTypeByOID(toid); p != nil {
		udt = p.Name
	}
	var def any
	if c.Default != "" {
		def = c.Default
	}
	isIdentity, identityGen := "NO", any(nil)
	switch c.Identity {
	case "a":
		isIdentity, identityGen = "YES", "ALWAYS"
	case "d":
		isIdentity, identityGen = "YES", "BY DEFAULT"
	}
	if isIdentity == "YES" {
		def = nil
	}
	return []any{databaseName, schema, table, c.Name, i + 1, def, yesNo(!c.NotNull), dataType(c), charLen, octetLen,
		prec, radix, scale, dtPrec, databaseName, schemaCatalog, udt, isIdentity, identityGen, "NEVER", yesNo(updatable)}
}

func infoColumns(si *sysInfo) [][]any {
	var out [][]any
	for _, t := range si.tables {
		for i, c := range t.Columns {
			out = append(out, infoColumnRow(schemaPublic, t.Name, i, c, t.ViewQuery == ""))
		}
	}
	for _, r := range sysRels {
		for i, c := range r.cols {
			out = append(out, infoColumnRow(r.schema, r.name, i, catalog.Column{Name: c.name, Type: c.t}, false))
		}
	}
	return out
}

func infoTableConstraints(si *sysInfo) [][]any {
	var out [][]any
	for _, t := range si.tables {
		if t.ViewQuery != "" {
			continue
		}
		for _, c := range tableConstraints(t) {
			typ := map[string]string{"p": "PRIMARY KEY", "u": "UNIQUE", "c": "CHECK", "f": "FOREIGN KEY"}[c.kind]
			var nd any
			if c.kind == "p" || c.kind == "u" {
				nd = "YES"
			}
			out = append(out, []any{databaseName, schemaPublic, c.name, databaseName, schemaPublic, t.Name, typ, "NO", "NO", "YES", nd})
		}
		// PostgreSQL lists every NOT NULL column as a CHECK constraint
		// named <namespace oid>_<table oid>_<attnum>_not_null.
		for i, c := range t.Columns {
			if c.NotNull {
				name := strconv.Itoa(catalog.OIDPublicNamespace) + "_" + strconv.FormatInt(catalog.RelationOID(t.ID), 10) + "_" + strconv.Itoa(i+1) + "_not_null"
				out = append(out, []any{databaseName, schemaPublic, name, databaseName, schemaPublic, t.Name, "CHECK", "NO", "NO", "YES", nil})
			}
		}
	}
	return out
}

func infoKeyColumnUsage(si *sysInfo) [][]any {
	var out [][]any
	for _, t := range si.tables {
		if t.ViewQuery != "" {
			continue
		}
		for _, c := range tableConstraints(t) {
			if c.kind == "c" {
				continue
			}
			for i, k := range c.cols {
				var pos any
				if c.kind == "f" {
					pos = i + 1 // the referenced key's columns in the order the FOREIGN KEY names them
				}
				out = append(out, []any{databaseName, schemaPublic, c.name, databaseName, schemaPublic, t.Name, t.Columns[k].Name, i + 1, pos})
			}
		}
	}
	return out
}

func infoViews(si *sysInfo) [][]any {
	var out [][]any
	for _, t := range si.tables {
		if t.ViewQuery != "" {
			out = append(out, []any{databaseName, schemaPublic, t.Name, t.ViewQuery, "NONE", "NO", "NO", "NO", "NO", "NO"})
		}
	}
	return out
}

func infoSequences(si *sysInfo) [][]any {
	var out [][]any
	for _, s := range si.seqs {
		typ, prec := "bigint", 64
		if s.Max <= 2147483647 && s.Min >= -2147483648 {
			typ, prec = "integer", 32
		}
		out = append(out, []any{databaseName, schemaPublic, s.Name, typ, prec, 2, 0, strconv.FormatInt(s.Start, 10),
			strconv.FormatInt(s.Min, 10), strconv.FormatInt(s.Max, 10), strconv.FormatInt(s.Increment, 10), yesNo(s.Cycle)})
	}
	return out
}
