package bind

import (
	"context"
	"sort"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// The system relations: read-only pg_catalog and information_schema
// relations whose rows the binder generates from the catalog read at the
// statement's snapshot, so they are as consistent as every other read of
// the statement. A reference binds to a Values node of constant rows (no
// executor support needed); only the relations a statement names are
// generated. Unqualified names find pg_catalog relations first, as
// PostgreSQL's search path does (pg_catalog is implicitly searched before
// public); information_schema relations need the schema. OIDs are derived
// from descriptor ids (catalog.RelationOID and friends). Column types:
// oid and the reg* types are int8, name and "char" text, int2vector an
// int2[] (1-based, unlike PostgreSQL's 0-based int2vector), oidvector an
// int8[], pg_node_tree the SQL text of the expression.

// Lister is what the system relations need from the catalog beyond
// Catalog: every table, view and sequence. catalog.Reader implements it; a
// Catalog without it shows only the built-in objects.
type Lister interface {
	Tables(ctx context.Context) ([]*catalog.Table, error)
	Sequences(ctx context.Context) ([]*catalog.Sequence, error)
}

// Schemas of the system relations.
const (
	schemaCatalog    = "pg_catalog"
	schemaInfo       = "information_schema"
	schemaPublic     = "public"
	codeInsufficient = "42501"
	// ownerName is the role every object is owned by (pg_get_userbyid of
	// the bootstrap role): roles live in the control plane, not in SQL.
	ownerName = "phantom"
	// databaseName is what current_database() and the catalogs report.
	databaseName = "phantom"
)

// Owner-less columns of the type oid.
const oidT = types.Int8

type sysCol struct {
	name string
	t    types.T
}

// sysRel is one system relation: its columns and its row generator.
type sysRel struct {
	schema string
	name   string
	oid    int64
	kind   string // relkind: 'r' table, 'v' view
	cols   []sysCol
	rows   func(si *sysInfo) [][]any
}

func cols(spec string) []sysCol {
	var out []sysCol
	for _, f := range strings.Fields(spec) {
		name, typ, _ := strings.Cut(f, ":")
		t := types.Text
		switch typ {
		case "oid":
			t = oidT
		case "b":
			t = types.Bool
		case "i2":
			t = types.Int2
		case "i4":
			t = types.Int4
		case "f4":
			t = types.Float4
		case "i2a":
			t = types.ArrayOf(types.Int2)
		case "oida":
			t = types.ArrayOf(oidT)
		case "ta":
			t = types.ArrayOf(types.Text)
		case "tstz":
			t = types.TimestampTZ
		case "i8":
			t = types.Int8
		}
		out = append(out, sysCol{name: name, t: t})
	}
	return out
}

func none(*sysInfo) [][]any { return nil }

// sysRels lists the system relations (OIDs as in PostgreSQL 15 for
// pg_catalog, 13100+ for information_schema views).
var sysRels []*sysRel

func init() { sysRels = sysRelList() }

func sysRelList() []*sysRel {
	return []*sysRel{
		{schemaCatalog, "pg_namespace", 2615, "r", cols("oid:oid nspname nspowner:oid nspacl:ta"), pgNamespace},
		{schemaCatalog, "pg_class", 1259, "r", cols(`oid:oid relname relnamespace:oid reltype:oid reloftype:oid relowner:oid relam:oid
		relfilenode:oid reltablespace:oid relpages:i4 reltuples:f4 relallvisible:i4 reltoastrelid:oid relhasindex:b relisshared:b
		relpersistence relkind relnatts:i2 relchecks:i2 relhasrules:b relhastriggers:b relhassubclass:b relrowsecurity:b
		relforcerowsecurity:b relispopulated:b relreplident relispartition:b relrewrite:oid relfrozenxid:oid relminmxid:oid
		relacl:ta reloptions:ta relpartbound`), pgClass},
		{schemaCatalog, "pg_attribute", 1249, "r", cols(`attrelid:oid attname atttypid:oid attstattarget:i4 attlen:i2 attnum:i2
		attndims:i4 attcacheoff:i4 atttypmod:i4 attbyval:b attalign attstorage attcompression attnotnull:b atthasdef:b
		atthasmissing:b attidentity attgenerated attisdropped:b attislocal:b attinhcount:i4 attcollation:oid attacl:ta
		attoptions:ta attfdwoptions:ta`), pgAttribute},
		{schemaCatalog, "pg_type", 1247, "r", cols(`oid:oid typname typnamespace:oid typowner:oid typlen:i2 typbyval:b typtype
		typcategory typispreferred:b typisdefined:b typdelim typrelid:oid typelem:oid typarray:oid typalign typstorage
		typnotnull:b typbasetype:oid typtypmod:i4 typndims:i4 typcollation:oid typdefault`), pgType},
		{schemaCatalog, "pg_index", 2610, "r", cols(`indexrelid:oid indrelid:oid indnatts:i2 indnkeyatts:i2 indisunique:b
		indnullsnotdistinct:b indisprimary:b indisexclusion:b indimmediate:b indisclustered:b indisvalid:b indcheckxmin:b
		indisready:b indislive:b indisreplident:b indkey:i2a indcollation:oida indclass:oida indoption:i2a indexprs indpred`), pgIndex},
		{schemaCatalog, "pg_attrdef", 2604, "r", cols("oid:oid adrelid:oid adnum:i2 adbin"), pgAttrdef},
		{schemaCatalog, "pg_constraint", 2606, "r", cols(`oid:oid conname connamespace:oid contype condeferrable:b condeferred:b
		convalidated:b conrelid:oid contypid:oid conindid:oid conparentid:oid confrelid:oid confupdtype confdeltype
		confmatchtype conislocal:b coninhcount:i4 connoinherit:b conkey:i2a confkey:i2a conbin`), pgConstraint},
		{schemaCatalog, "pg_am", 2601, "r", cols("oid:oid amname amhandler amtype"), pgAm},
		{schemaCatalog, "pg_collation", 3456, "r", cols(`oid:oid collname collnamespace:oid collowner:oid collprovider
		collisdeterministic:b collencoding:i4 collcollate collctype`), pgCollation},
		{schemaCatalog, "pg_description", 2609, "r", cols("objoid:oid classoid:oid objsubid:i4 description"), none},
		{schemaCatalog, "pg_inherits", 2611, "r", cols("inhrelid:oid inhparent:oid inhseqno:i4 inhdetachpending:b"), none},
		{schemaCatalog, "pg_partitioned_table", 3350, "r", cols("partrelid:oid partstrat partnatts:i2 partdefid:oid partattrs:i2a"), none},
		{schemaCatalog, "pg_policy", 3256, "r", cols("oid:oid polname polrelid:oid polcmd polpermissive:b polroles:oida polqual polwithcheck"), none},
		{schemaCatalog, "pg_statistic_ext", 3381, "r", cols(`oid:oid stxrelid:oid stxname stxnamespace:oid stxowner:oid
		stxstattarget:i4 stxkeys:i2a stxkind:ta stxexprs`), none},
		{schemaCatalog, "pg_publication", 6104, "r", cols(`oid:oid pubname pubowner:oid puballtables:b pubinsert:b pubupdate:b
		pubdelete:b pubtruncate:b pubviaroot:b`), none},
		{schemaCatalog, "pg_publication_namespace", 6237, "r", cols("oid:oid pnpubid:oid pnnspid:oid"), none},
		{schemaCatalog, "pg_publication_rel", 6106, "r", cols("oid:oid prpubid:oid prrelid:oid prqual prattrs:i2a"), none},
		{schemaCatalog, "pg_trigger", 2620, "r", cols("oid:oid tgrelid:oid tgparentid:oid tgname tgfoid:oid tgtype:i2 tgenabled tgisinternal:b"), none},
		{schemaCatalog, "pg_auth_members", 1261, "r", cols("oid:oid roleid:oid member:oid grantor:oid admin_option:b"), none},
		{schemaCatalog, "pg_sequence", 2224, "r", cols(`seqrelid:oid seqtypid:oid seqstart:i8 seqincrement:i8 seqmax:i8 seqmin:i8
		seqcache:i8 seqcycle:b`), pgSequence},
		{schemaCatalog, "pg_depend", 2608, "r", cols(`classid:oid objid:oid objsubid:i4 refclassid:oid refobjid:oid
		refobjsubid:i4 deptype`), pgDepend},
		{schemaCatalog, "pg_roles", 12001, "v", cols(`rolname rolsuper:b rolinherit:b rolcreaterole:b rolcreatedb:b rolcanlogin:b
		rolreplication:b rolconnlimit:i4 rolpassword rolvaliduntil:tstz rolbypassrls:b rolconfig:ta oid:oid`), pgRoles},
		{schemaCatalog, "pg_user", 12002, "v", cols(`usename usesysid:oid usecreatedb:b usesuper:b userepl:b usebypassrls:b
		passwd valuntil:tstz useconfig:ta`), pgUser},
		{schemaCatalog, "pg_database", 1262, "r", cols(`oid:oid datname datdba:oid encoding:i4 datlocprovider datistemplate:b
		datallowconn:b datconnlimit:i4 datfrozenxid:oid datminmxid:oid dattablespace:oid datcollate datctype daticulocale
		datcollversion datacl:ta`), pgDatabase},
		{schemaCatalog, "pg_settings", 12007, "v", cols(`name setting unit category short_desc extra_desc context vartype
		source min_val max_val enumvals:ta boot_val reset_val pending_restart:b`), pgSettings},
		{schemaCatalog, "pg_tables", 12003, "v", cols("schemaname tablename tableowner tablespace hasindexes:b hasrules:b hastriggers:b rowsecurity:b"), pgTables},
		{schemaCatalog, "pg_views", 12004, "v", cols("schemaname viewname viewowner definition"), pgViews},
		{schemaCatalog, "pg_indexes", 12005, "v", cols("schemaname tablename indexname tablespace indexdef"), pgIndexes},
		{schemaCatalog, "pg_sequences", 12006, "v", cols(`schemaname sequencename sequenceowner data_type increment_by:i8
		start_value:i8 min_value:i8 max_value:i8 cycle:b`), pgSequences},
		{schemaInfo, "schemata", 13101, "v", cols(`catalog_name schema_name schema_owner default_character_set_catalog
		default_character_set_schema default_character_set_name sql_path`), infoSchemata},
		{schemaInfo, "tables", 13102, "v", cols(`table_catalog table_schema table_name table_type self_referencing_column_name
		reference_generation user_defined_type_catalog user_defined_type_schema user_defined_type_name is_insertable_into
		is_typed commit_action`), infoTables},
		{schemaInfo, "columns", 13103, "v", cols(`table_catalog table_schema table_name column_name ordinal_position:i4
		column_default is_nullable data_type character_maximum_length:i4 character_octet_length:i4 numeric_precision:i4
		numeric_precision_radix:i4 numeric_scale:i4 datetime_precision:i4 udt_catalog udt_schema udt_name is_identity
		identity_generation is_generated is_updatable`), infoColumns},
		{schemaInfo, "table_constraints", 13104, "v", cols(`constraint_catalog constraint_schema constraint_name table_catalog
		table_schema table_name constraint_type is_deferrable initially_deferred enforced nulls_distinct`), infoTableConstraints},
		{schemaInfo, "key_column_usage", 13105, "v", cols(`constraint_catalog constraint_schema constraint_name table_catalog
		table_schema table_name column_name ordinal_position:i4 position_in_unique_constraint:i4`), infoKeyColumnUsage},
		{schemaInfo, "views", 13106, "v", cols(`table_catalog table_schema table_name view_definition check_option is_updatable
		is_insertable_into is_trigger_updatable is_trigger_deletable is_trigger_insertable_into`), infoViews},
		{schemaInfo, "sequences", 13107, "v", cols(`sequence_catalog sequence_schema sequence_name data_type numeric_precision:i4
		numeric_precision_radix:i4 numeric_scale:i4 start_value minimum_value maximum_value increment cycle_option`), infoSequences},
	}
}

// findSysRel returns the system relation schema.name ("" schema: the
// search path, pg_catalog only), nil when there is none.
func findSysRel(schema, name string) *sysRel {
	for _, r := range sysRels {
		if r.name == name && (r.schema == schema || (schema == "" && r.schema == schemaCatalog)) {
			return r
		}
	}
	return nil
}

// isSystemSchema reports whether name is a schema of system relations.
func isSystemSchema(name string) bool { return name == schemaCatalog || name == schemaInfo }

// systemRelation binds a reference to a system relation; ok is false when
// rv names none.
func (b *Binder) systemRelation(rv *pg_query.RangeVar) (plan.Node, *scope, bool, error) {
	if rv.Catalogname != "" && rv.Catalogname != databaseName {
		return nil, nil, false, nil
	}
	r := findSysRel(rv.Schemaname, rv.Relname)
	if r == nil {
		if rv.Schemaname == schemaInfo {
			return nil, nil, true, b.errAt(sqlerr.New(sqlerr.CodeUndefinedTable, "relation \"%s.%s\" does not exist", rv.Schemaname, rv.Relname), rv.Location)
		}
		if rv.Schemaname == schemaCatalog {
			return nil, nil, true, b.errAt(sqlerr.New(sqlerr.CodeUndefinedTable, "relation \"%s.%s\" does not exist", rv.Schemaname, rv.Relname).
				WithHint("Phantom-DB implements the pg_catalog relations psql's \\d commands and common drivers read."), rv.Location)
		}
		return nil, nil, false, nil
	}
	si, err := b.sysInfo()
	if err != nil {
		return nil, nil, true, err
	}
	v := &plan.Values{}
	for _, c := range r.cols {
		v.Cols = append(v.Cols, plan.Column{Name: c.name, T: c.t})
	}
	for _, row := range r.rows(si) {
		exprs := make([]plan.Expr, len(r.cols))
		for i, c := range r.cols {
			var val any
			if i < len(row) {
				val = row[i]
			}
			exprs[i] = &plan.Const{Value: carrier(val, c.t), T: c.t}
		}
		v.Rows = append(v.Rows, exprs)
	}
	sc, err := b.relScope(r.name, v.Columns(), rv.Alias)
	return v, sc, true, err
}

// carrier converts a generated value to the carrier of t.
func carrier(v any, t types.T) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int:
		switch t {
		case types.Int2:
			return int16(x)
		case types.Int4:
			return int32(x)
		case types.Float4:
			return float32(x)
		}
		return int64(x)
	case int64:
		switch t {
		case types.Int2:
			return int16(x)
		case types.Int4:
			return int32(x)
		}
		return x
	case []int:
		out := types.ArrayValue{Elem: t.Elem(), Elems: make([]any, len(x))}
		for i, e := range x {
			out.Elems[i] = carrier(e, t.Elem())
		}
		return out
	case []int64:
		out := types.ArrayValue{Elem: t.Elem(), Elems: make([]any, len(x))}
		for i, e := range x {
			out.Elems[i] = carrier(e, t.Elem())
		}
		return out
	case byte:
		return string(rune(x))
	}
	return v
}

// WithSettings gives the binder the session's settings (name, current
// value and source — default or session — for pg_settings); without it
// pg_settings is empty.
func (b *Binder) WithSettings(list func() [][3]string) *Binder {
	b.settings = list
	return b
}

// sysInfo is the catalog as the system relations show it, read once per
// statement.
type sysInfo struct {
	settings [][3]string
	tables   []*catalog.Table
	seqs     []*catalog.Sequence
	byName   map[string]*catalog.Table
	// relName maps relation OIDs to (schema, name); idxDef and conDef the
	// OIDs of indexes and constraints to their definitions.
	relName map[int64][2]string
	relKind map[int64]string
	idxDef  map[int64]string
	conDef  map[int64]string
	views   map[int64]string
}

func (b *Binder) sysInfo() (*sysInfo, error) {
	if b.sys != nil {
		return b.sys, nil
	}
	si := &sysInfo{byName: map[string]*catalog.Table{}, relName: map[int64][2]string{}, relKind: map[int64]string{},
		idxDef: map[int64]string{}, conDef: map[int64]string{}, views: map[int64]string{}}
	if l, ok := b.cat.(Lister); ok {
		var err error
		if si.tables, err = l.Tables(b.ctx); err != nil {
			return nil, err
		}
		if si.seqs, err = l.Sequences(b.ctx); err != nil {
			return nil, err
		}
	}
	sort.Slice(si.tables, func(i, j int) bool { return si.tables[i].Name < si.tables[j].Name })
	if b.settings != nil {
		si.settings = b.settings()
	}
	for i, t := range si.tables {
		si.tables[i] = t.WithoutRowID() // the catalog shows what SQL sees
	}
	for _, r := range sysRels {
		si.relName[r.oid] = [2]string{r.schema, r.name}
		si.relKind[r.oid] = r.kind
	}
	for _, t := range si.tables {
		si.byName[t.Name] = t
		oid := catalog.RelationOID(t.ID)
		si.relName[oid] = [2]string{schemaPublic, t.Name}
		if t.ViewQuery != "" {
			si.relKind[oid] = "v"
			si.views[oid] = t.ViewQuery
			continue
		}
		si.relKind[oid] = "r"
		for _, ix := range tableIndexes(t) {
			si.relName[ix.oid] = [2]string{schemaPublic, ix.name}
			si.relKind[ix.oid] = "i"
			si.idxDef[ix.oid] = ix.def(t)
		}
	}
	for _, t := range si.tables {
		if t.ViewQuery != "" {
			continue
		}
		for _, c := range tableConstraints(t) {
			si.conDef[c.oid] = c.def
			if c.kind == "f" {
				si.conDef[c.oid] = si.fkDef(c)
			}
		}
	}
	for _, s := range si.seqs {
		oid := catalog.RelationOID(s.ID)
		si.relName[oid] = [2]string{schemaPublic, s.Name}
		si.relKind[oid] = "S"
	}
	b.sys = si
	return si, nil
}

// sysIndex is an index as pg_index shows it (the primary key included).
type sysIndex struct {
	oid     int64
	name    string
	cols    []int // 0-based ordinals
	unique  bool
	primary bool
}

func (ix sysIndex) def(t *catalog.Table) string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if ix.unique {
		b.WriteString("UNIQUE ")
	}
	b.WriteString("INDEX " + quoteIdent(ix.name) + " ON public." + quoteIdent(t.Name) + " USING btree (")
	b.WriteString(colList(t, ix.cols))
	b.WriteString(")")
	return b.String()
}

func colList(t *catalog.Table, cols []int) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quoteIdent(t.Columns[c].Name)
	}
	return strings.Join(names, ", ")
}

func pkeyName(t *catalog.Table) string { return t.Name + "_pkey" }

func tableIndexes(t *catalog.Table) []sysIndex {
	var out []sysIndex
	if len(t.PrimaryKey) > 0 {
		out = append(out, sysIndex{oid: catalog.PrimaryIndexOID(t.ID), name: pkeyName(t), cols: t.PrimaryKey, unique: true, primary: true})
	}
	for _, ix := range t.Indexes {
		out = append(out, sysIndex{oid: catalog.IndexOID(t.ID, ix.ID), name: ix.Name, cols: ix.Columns, unique: ix.Unique})
	}
	return out
}

// sysConstraint is a row of pg_constraint.
type sysConstraint struct {
	oid      int64
	name     string
	kind     string // p u c f
	cols     []int
	index    int64
	def      string
	expr     string
	ref      string
	refCols  []int
	onUpdate string
	onDelete string
}

func tableConstraints(t *catalog.Table) []sysConstraint {
	var out []sysConstraint
	add := func(c sysConstraint) {
		c.oid = catalog.ConstraintOID(t.ID, len(out))
		out = append(out, c)
	}
	if len(t.PrimaryKey) > 0 {
		add(sysConstraint{name: pkeyName(t), kind: "p", cols: t.PrimaryKey, index: catalog.PrimaryIndexOID(t.ID),
			def: "PRIMARY KEY (" + colList(t, t.PrimaryKey) + ")"})
	}
	for _, ix := range t.Indexes {
		if ix.Constraint {
			add(sysConstraint{name: ix.Name, kind: "u", cols: ix.Columns, index: catalog.IndexOID(t.ID, ix.ID),
				def: "UNIQUE (" + colList(t, ix.Columns) + ")"})
		}
	}
	for _, c := range t.Checks {
		add(sysConstraint{name: c.Name, kind: "c", expr: c.Expr, def: "CHECK ((" + c.Expr + "))"})
	}
	for _, fk := range t.ForeignKeys {
		def := "FOREIGN KEY (" + colList(t, fk.Columns) + ") REFERENCES " + quoteIdent(fk.RefTable) + "("
		var refNames []string
		for _, c := range fk.RefColumns {
			refNames = append(refNames, "#"+strconv.Itoa(c))
		}
		def += strings.Join(refNames, ", ") + ")"
		add(sysConstraint{name: fk.Name, kind: "f", cols: fk.Columns, def: def, ref: fk.RefTable, refCols: fk.RefColumns,
			onUpdate: fkAction(fk.OnUpdate), onDelete: fkAction(fk.OnDelete)})
	}
	return out
}

func fkAction(a string) string {
	if a == "" {
		return catalog.FKNoAction
	}
	return a
}

// fkDef replaces the referenced columns' ordinals in foreign-key
// definitions by their names (the referenced table is only known here).
func (si *sysInfo) fkDef(c sysConstraint) string {
	ref := si.byName[c.ref]
	if ref == nil {
		return c.def
	}
	out := c.def
	for _, k := range c.refCols {
		if k < len(ref.Columns) {
			out = strings.Replace(out, "#"+strconv.Itoa(k), quoteIdent(ref.Columns[k].Name), 1)
		}
	}
	switch c.onDelete {
	case catalog.FKRestrict:
		out += " ON DELETE RESTRICT"
	case catalog.FKCascade:
		out += " ON DELETE CASCADE"
	case catalog.FKSetNull:
		out += " ON DELETE SET NULL"
	}
	return out
}

// quoteIdent quotes an identifier when PostgreSQL's quote_ident would.
func quoteIdent(s string) string {
	ok := s != ""
	for i, r := range s {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')) {
			ok = false
		}
	}
	if ok && !reservedWord(s) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func reservedWord(s string) bool {
	switch s {
	case "all", "and", "any", "array", "as", "asc", "case", "cast", "check", "collate", "column", "constraint", "create",
		"default", "desc", "distinct", "do", "else", "end", "false", "for", "foreign", "from", "grant", "group", "having",
		"in", "into", "is", "join", "limit", "not", "null", "offset", "on", "or", "order", "primary", "references",
		"select", "table", "then", "to", "true", "union", "unique", "user", "using", "when", "where", "with":
		return true
	}
	return false
}

// typeOIDMod returns a column's type OID and typmod (-1 for none).
func typeOIDMod(c catalog.Column) (int64, int) {
	mod := -1
	if c.Mod != 0 {
		mod = int(c.Mod &^ types.CharFlag)
	}
	return types.OIDOf(c.Type, c.Mod), mod
}

func typeLen(oid int64) int {
	if p := types.PGTypeByOID(oid); p != nil {
		return int(p.Len)
	}
	return -1
}

func collationOf(t types.T) int64 {
	if t == types.Text {
		return 100
	}
	return 0
}
