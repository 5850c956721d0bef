package bind

import (
	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// The rows of the pg_catalog relations (see systables.go).

func pgNamespace(*sysInfo) [][]any {
	return [][]any{
		{catalog.OIDCatalogNamespace, schemaCatalog, catalog.OIDBootstrapRole, nil},
		{catalog.OIDPublicNamespace, schemaPublic, catalog.OIDBootstrapRole, nil},
		{catalog.OIDInfoSchemaNamespace, schemaInfo, catalog.OIDBootstrapRole, nil},
	}
}

func nsOID(schema string) int64 {
	switch schema {
	case schemaCatalog:
		return catalog.OIDCatalogNamespace
	case schemaInfo:
		return catalog.OIDInfoSchemaNamespace
	}
	return catalog.OIDPublicNamespace
}

func classRow(oid int64, name, schema, kind string, am int64, natts, checks int, hasIndex, hasTriggers bool) []any {
	replident := "n"
	if kind == "r" {
		replident = "d"
	}
	return []any{oid, name, nsOID(schema), 0, 0, catalog.OIDBootstrapRole, am, oid, 0, 0, -1, 0, 0, hasIndex, false,
		"p", kind, natts, checks, false, hasTriggers, false, false, false, true, replident, false, 0, 0, 0, nil, nil, nil}
}

func pgClass(si *sysInfo) [][]any {
	var out [][]any
	referenced := map[string]bool{}
	for _, t := range si.tables {
		if len(t.ForeignKeys) > 0 || len(t.ReferencedBy) > 0 {
			referenced[t.Name] = true
		}
	}
	for _, t := range si.tables {
		oid := catalog.RelationOID(t.ID)
		if t.ViewQuery != "" {
			out = append(out, classRow(oid, t.Name, schemaPublic, "v", 0, len(t.Columns), 0, false, false))
			continue
		}
		ixs := tableIndexes(t)
		out = append(out, classRow(oid, t.Name, schemaPublic, "r", 2, len(t.Columns), len(t.Checks), len(ixs) > 0, referenced[t.Name]))
		for _, ix := range ixs {
			out = append(out, classRow(ix.oid, ix.name, schemaPublic, "i", 403, len(ix.cols), 0, false, false))
		}
	}
	for _, s := range si.seqs {
		out = append(out, classRow(catalog.RelationOID(s.ID), s.Name, schemaPublic, "S", 0, 3, 0, false, false))
	}
	for _, r := range sysRels {
		out = append(out, classRow(r.oid, r.name, r.schema, r.kind, map[string]int64{"r": 2, "v": 0}[r.kind], len(r.cols), 0, false, false))
	}
	return out
}

func attRow(rel int64, name string, num int, t types.T, mod types.Mod, notNull, hasDef bool, identity string) []any {
	toid, typmod := typeOIDMod(catalog.Column{Type: t, Mod: mod})
	ndims := 0
	if t.IsArray() {
		ndims = 1
	}
	l := typeLen(toid)
	return []any{rel, name, toid, -1, l, num, ndims, -1, typmod, l > 0 && l <= 8, "i", "p", "", notNull, hasDef,
		false, identity, "", false, true, 0, collationOf(t), nil, nil, nil}
}

func pgAttribute(si *sysInfo) [][]any {
	var out [][]any
	for _, t := range si.tables {
		oid := catalog.RelationOID(t.ID)
		for i, c := range t.Columns {
			out = append(out, attRow(oid, c.Name, i+1, c.Type, c.Mod, c.NotNull, c.Default != "" && c.Identity == "", c.Identity))
		}
		if t.ViewQuery != "" {
			continue
		}
		for _, ix := range tableIndexes(t) {
			for k, ci := range ix.cols {
				c := t.Columns[ci]
				out = append(out, attRow(ix.oid, c.Name, k+1, c.Type, c.Mod, false, false, ""))
			}
		}
	}
	for _, r := range sysRels {
		for i, c := range r.cols {
			out = append(out, attRow(r.oid, c.name, i+1, c.t, 0, false, false, ""))
		}
	}
	return out
}

func pgType(*sysInfo) [][]any {
	var out [][]any
	for _, p := range types.PGTypes {
		typtype, delim, align, storage := "b", ",", "i", "p"
		if p.Len == -1 {
			storage = "x"
		}
		coll := int64(0)
		if (p.T == types.Text && p.Category == 'S') || (p.Category == 'A' && (p.Elem == 25 || p.Elem == 1043 || p.Elem == 1042)) {
			coll = 100 // the default collation, on text types and their arrays
		}
		out = append(out, []any{p.OID, p.Name, catalog.OIDCatalogNamespace, catalog.OIDBootstrapRole, int(p.Len),
			p.Len > 0 && p.Len <= 8, typtype, string(p.Category), p.Name == "text" || p.Name == "float8" || p.Name == "bool",
			true, delim, 0, p.Elem, p.Array, align, storage, false, 0, -1, 0, coll, nil})
	}
	return out
}

func pgIndex(si *sysInfo) [][]any {
	var out [][]any
	for _, t := range si.tables {
		if t.ViewQuery != "" {
			continue
		}
		for _, ix := range tableIndexes(t) {
			key := make([]int, len(ix.cols))
			coll := make([]int64, len(ix.cols))
			class := make([]int64, len(ix.cols))
			opt := make([]int, len(ix.cols))
			for k, c := range ix.cols {
				key[k] = c + 1
				coll[k] = collationOf(t.Columns[c].Type)
			}
			out = append(out, []any{ix.oid, catalog.RelationOID(t.ID), len(ix.cols), len(ix.cols), ix.unique, false,
				ix.primary, false, true, false, true, false, true, true, false, key, coll, class, opt, nil, nil})
		}
	}
	return out
}

func pgAttrdef(si *sysInfo) [][]any {
	var out [][]any
	for _, t := range si.tables {
		for i, c := range t.Columns {
			if c.Default != "" && c.Identity == "" {
				rel := catalog.RelationOID(t.ID)
				out = append(out, []any{rel + 192 + int64(i), rel, i + 1, c.Default})
			}
		}
	}
	return out
}

func pgConstraint(si *sysInfo) [][]any {
	var out [][]any
	for _, t := range si.tables {
		if t.ViewQuery != "" {
			continue
		}
		for _, c := range tableConstraints(t) {
			key := make([]int, len(c.cols))
			for i, k := range c.cols {
				key[i] = k + 1
			}
			var fkey []int
			var frel int64
			upd, del, match := " ", " ", " "
			if c.kind == "f" {
				if ref := si.byName[c.ref]; ref != nil {
					frel = catalog.RelationOID(ref.ID)
				}
				for _, k := range c.refCols {
					fkey = append(fkey, k+1)
				}
				upd, del, match = c.onUpdate, c.onDelete, "s"
			}
			var conkey any = key
			if c.kind == "c" {
				conkey = nil
			}
			var confkey any
			if fkey != nil {
				confkey = fkey
			}
			var bin any
			if c.expr != "" {
				bin = c.expr
			}
			out = append(out, []any{c.oid, c.name, catalog.OIDPublicNamespace, c.kind, false, false, true,
				catalog.RelationOID(t.ID), 0, c.index, 0, frel, upd, del, match, true, 0, false, conkey, confkey, bin})
		}
	}
	return out
}

func pgAm(*sysInfo) [][]any {
	return [][]any{{2, "heap", "heap_tableam_handler", "t"}, {403, "btree", "bthandler", "i"}, {405, "hash", "hashhandler", "i"}}
}

func pgCollation(*sysInfo) [][]any {
	return [][]any{
		{100, "default", catalog.OIDCatalogNamespace, catalog.OIDBootstrapRole, "d", true, -1, nil, nil},
		{950, "C", catalog.OIDCatalogNamespace, catalog.OIDBootstrapRole, "c", true, -1, "C", "C"},
		{951, "POSIX", catalog.OIDCatalogNamespace, catalog.OIDBootstrapRole, "c", true, -1, "POSIX", "POSIX"},
	}
}

func pgRoles(*sysInfo) [][]any {
	return [][]any{{ownerName, true, true, true, true, true, true, -1, "********", nil, true, nil, catalog.OIDBootstrapRole}}
}

func pgUser(*sysInfo) [][]any {
	return [][]any{{ownerName, catalog.OIDBootstrapRole, true, true, true, true, "********", nil, nil}}
}

func pgDatabase(*sysInfo) [][]any {
	return [][]any{{1, databaseName, catalog.OIDBootstrapRole, 6, "c", false, true, -1, 0, 0, 1663, "C", "C", nil, nil, nil}}
}

func pgSequence(si *sysInfo) [][]any {
	var out [][]any
	for _, s := range si.seqs {
		typ := int64(20)
		if s.Max <= 2147483647 && s.Min >= -2147483648 {
			typ = 23
		}
		out = append(out, []any{catalog.RelationOID(s.ID), typ, s.Start, s.Increment, s.Max, s.Min, 1, s.Cycle})
	}
	return out
}

// pgDepend lists what psql and drivers ask pg_depend: which column owns a
// sequence (deptype 'a' for SERIAL, 'i' for identity columns).
func pgDepend(si *sysInfo) [][]any {
	var out [][]any
	for _, s := range si.seqs {
		t := si.byName[s.OwnedBy]
		if t == nil {
			continue
		}
		for i, c := range t.Columns {
			if c.Default == "nextval('"+s.Name+"')" {
				kind := "a"
				if c.Identity != "" {
					kind = "i"
				}
				out = append(out, []any{1259, catalog.RelationOID(s.ID), 0, 1259, catalog.RelationOID(t.ID), i + 1, kind})
			}
		}
	}
	return out
}

// pgSettings shows the settings SET and SHOW know (all strings, context
// user).
func pgSettings(si *sysInfo) [][]any {
	var out [][]any
	for _, kv := range si.settings {
		out = append(out, []any{kv[0], kv[1], nil, "Phantom-DB", "", nil, "user", "string", kv[2], nil, nil, nil, nil, kv[1], false})
	}
	return out
}

func pgTables(si *sysInfo) [][]any {
	var out [][]any
	for _, t := range si.tables {
		if t.ViewQuery == "" {
			out = append(out, []any{schemaPublic, t.Name, ownerName, nil, len(tableIndexes(t)) > 0, false,
				len(t.ForeignKeys) > 0 || len(t.ReferencedBy) > 0, false})
		}
	}
	return out
}

func pgViews(si *sysInfo) [][]any {
	var out [][]any
	for _, t := range si.tables {
		if t.ViewQuery != "" {
			out = append(out, []any{schemaPublic, t.Name, ownerName, t.ViewQuery})
		}
	}
	return out
}

func pgIndexes(si *sysInfo) [][]any {
	var out [][]any
	for _, t := range si.tables {
		if t.ViewQuery != "" {
			continue
		}
		for _, ix := range tableIndexes(t) {
			out = append(out, []any{schemaPublic, t.Name, ix.name, nil, ix.def(t)})
		}
	}
	return out
}

func pgSequences(si *sysInfo) [][]any {
	var out [][]any
	for _, s := range si.seqs {
		typ := "bigint"
		if s.Max <= 2147483647 && s.Min >= -2147483648 {
			typ = "integer"
		}
		out = append(out, []any{schemaPublic, s.Name, ownerName, typ, s.Increment, s.Start, s.Min, s.Max, s.Cycle})
	}
	return out
}
