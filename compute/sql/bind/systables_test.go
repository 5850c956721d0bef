package bind

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/parse"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// listCatalog is a fake catalog that also lists its tables (Lister).
type listCatalog struct {
	fakeCatalog
	seqs []*catalog.Sequence
}

func (l listCatalog) Tables(context.Context) ([]*catalog.Table, error) {
	var out []*catalog.Table
	for _, t := range l.fakeCatalog {
		out = append(out, t)
	}
	return out, nil
}

func (l listCatalog) Sequences(context.Context) ([]*catalog.Sequence, error) { return l.seqs, nil }

var sysCatalog = listCatalog{fakeCatalog: fakeCatalog{
	"items": {ID: 3, Name: "items", Version: 1, PrimaryKey: []int{0}, NextIndexID: 2,
		Columns: []catalog.Column{{Name: "id", Type: types.Int4, NotNull: true}, {Name: "name", Type: types.Text, Mod: types.VarcharMod(20), Default: "'x'"}},
		Indexes: []catalog.Index{{ID: 1, Name: "items_name", Columns: []int{1}, Unique: true, Constraint: true}},
		Checks:  []catalog.Check{{Name: "items_id_check", Expr: "id > 0"}}},
}, seqs: []*catalog.Sequence{{ID: 4, Name: "s", Start: 1, Increment: 1, Min: 1, Max: 1 << 62}}}

func bindSys(t *testing.T, query string) (plan.Statement, error) {
	t.Helper()
	stmts, err := parse.Parse(query)
	if err != nil {
		t.Fatal(err)
	}
	return New(context.Background(), sysCatalog, query, nil).Bind(stmts[0].AST)
}

// constRows returns the rows of a query whose plan folds to a VALUES
// node of constants under projections and filters of constants.
func TestSystemRelationsRows(t *testing.T) {
	st, err := bindSys(t, "SELECT relname, relkind FROM pg_class WHERE relnamespace = 2200")
	if err != nil {
		t.Fatal(err)
	}
	out := plan.Format(st)
	for _, want := range []string{"'items'", "'items_pkey'", "'items_name'", "'s'"} {
		if !strings.Contains(out, want) {
			t.Fatalf("pg_class plan lacks %s:\n%s", want, out)
		}
	}
	// OIDs derive from descriptor ids.
	oid := catalog.RelationOID(3)
	if oid != 16384+3<<8 || catalog.PrimaryIndexOID(3) != oid+1 || catalog.IndexOID(3, 1) != oid+2 {
		t.Fatalf("OIDs: %d %d %d", oid, catalog.PrimaryIndexOID(3), catalog.IndexOID(3, 1))
	}
	for query, want := range map[string]string{
		"SELECT 'items'::regclass":                                                                      strconv.FormatInt(oid, 10),
		"SELECT pg_get_indexdef(" + strconv.FormatInt(oid+2, 10) + ")":                                  "CREATE UNIQUE INDEX items_name ON public.items USING btree (name)",
		"SELECT pg_get_constraintdef(" + strconv.FormatInt(catalog.ConstraintOID(3, 2), 10) + ", true)": "CHECK (id > 0)",
		"SELECT format_type(1043, 24)":                                                                  "character varying(20)",
		"SELECT " + strconv.FormatInt(oid, 10) + "::regclass::text":                                     "items",
		"SELECT pg_table_is_visible(" + strconv.FormatInt(oid, 10) + ")":                                "true",
		"SELECT pg_get_serial_sequence('items', 'id')":                                                  "NULL",
	} {
		st, err := bindSys(t, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		if got := plan.Format(st); !strings.Contains(got, want) {
			t.Fatalf("%s: plan %s lacks %q", query, got, want)
		}
	}
}

func TestSystemRelationsErrors(t *testing.T) {
	for query, code := range map[string]string{
		"INSERT INTO pg_catalog.pg_class (relname) VALUES ('x')": "42501",
		"DELETE FROM pg_class":                                                         "42501",
		"UPDATE information_schema.tables SET table_name = 'x'":                        "42501",
		"CREATE TABLE pg_catalog.x (a INT PRIMARY KEY)":                                "42501",
		"SELECT * FROM pg_catalog.no_such":                                             "42P01",
		"SELECT * FROM information_schema.no_such":                                     "42P01",
		"SELECT 'no_such'::regclass":                                                   "42P01",
		"SELECT relname COLLATE \"de_DE\" FROM pg_class":                               "0A000",
		"SELECT 'a' ~ '('":                                                             "2201B",
		"SELECT (SELECT count(*) FROM generate_series(1, c.relnatts)) FROM pg_class c": "0A000",
	} {
		_, err := bindSys(t, query)
		if got := sqlerr.Code(err); got != code {
			t.Errorf("%s: SQLSTATE %s (%v), want %s", query, got, err, code)
		}
	}
}

// TestEmptyInputSubquery: a subquery that cannot be decorrelated binds
// as NULL when its input is provably empty (pg_policy has no rows).
func TestEmptyInputSubquery(t *testing.T) {
	for _, q := range []string{
		"SELECT (SELECT string_agg(attname, ',') FROM generate_series(1, p.polrelid::int) s, pg_attribute) FROM pg_policy p",
		"SELECT array_to_string(array(SELECT rolname FROM pg_roles WHERE oid = ANY (p.polroles) ORDER BY 1), ',') FROM pg_policy p",
	} {
		if _, err := bindSys(t, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	if !provablyEmpty(&plan.Filter{Input: &plan.Values{}}) || provablyEmpty(&plan.Values{Rows: [][]plan.Expr{{}}}) ||
		provablyEmpty(&plan.Join{Kind: plan.LeftJoin, Left: &plan.Values{Rows: [][]plan.Expr{{}}}, Right: &plan.Values{}}) {
		t.Fatal("provablyEmpty")
	}
}
