package tpch

import (
	"fmt"
	"strings"
)

// column is one column of a TPC-H table.
type column struct {
	name string
	typ  string // PostgreSQL type, as in the TPC-H DDL
}

// quoted reports whether literals of the column are SQL strings (CHAR,
// VARCHAR, DATE) rather than numbers.
func (c column) quoted() bool {
	return strings.HasPrefix(c.typ, "CHAR") || strings.HasPrefix(c.typ, "VARCHAR") || c.typ == "DATE"
}

// table is one of the eight TPC-H tables.
type table struct {
	name string
	cols []column
	pk   []string
}

// tables are the TPC-H tables in load order (smallest first), with the
// types of the specification's DDL (dss.ddl) in PostgreSQL spelling and
// their primary keys.
var tables = []table{
	{name: "region", pk: []string{"r_regionkey"}, cols: []column{
		{"r_regionkey", "INTEGER"}, {"r_name", "CHAR(25)"}, {"r_comment", "VARCHAR(152)"}}},
	{name: "nation", pk: []string{"n_nationkey"}, cols: []column{
		{"n_nationkey", "INTEGER"}, {"n_name", "CHAR(25)"}, {"n_regionkey", "INTEGER"}, {"n_comment", "VARCHAR(152)"}}},
	{name: "supplier", pk: []string{"s_suppkey"}, cols: []column{
		{"s_suppkey", "INTEGER"}, {"s_name", "CHAR(25)"}, {"s_address", "VARCHAR(40)"}, {"s_nationkey", "INTEGER"},
		{"s_phone", "CHAR(15)"}, {"s_acctbal", "DECIMAL(15,2)"}, {"s_comment", "VARCHAR(101)"}}},
	{name: "customer", pk: []string{"c_custkey"}, cols: []column{
		{"c_custkey", "INTEGER"}, {"c_name", "VARCHAR(25)"}, {"c_address", "VARCHAR(40)"}, {"c_nationkey", "INTEGER"},
		{"c_phone", "CHAR(15)"}, {"c_acctbal", "DECIMAL(15,2)"}, {"c_mktsegment", "CHAR(10)"}, {"c_comment", "VARCHAR(117)"}}},
	{name: "part", pk: []string{"p_partkey"}, cols: []column{
		{"p_partkey", "INTEGER"}, {"p_name", "VARCHAR(55)"}, {"p_mfgr", "CHAR(25)"}, {"p_brand", "CHAR(10)"},
		{"p_type", "VARCHAR(25)"}, {"p_size", "INTEGER"}, {"p_container", "CHAR(10)"}, {"p_retailprice", "DECIMAL(15,2)"},
		{"p_comment", "VARCHAR(23)"}}},
	{name: "partsupp", pk: []string{"ps_partkey", "ps_suppkey"}, cols: []column{
		{"ps_partkey", "INTEGER"}, {"ps_suppkey", "INTEGER"}, {"ps_availqty", "INTEGER"}, {"ps_supplycost", "DECIMAL(15,2)"},
		{"ps_comment", "VARCHAR(199)"}}},
	{name: "orders", pk: []string{"o_orderkey"}, cols: []column{
		{"o_orderkey", "INTEGER"}, {"o_custkey", "INTEGER"}, {"o_orderstatus", "CHAR(1)"}, {"o_totalprice", "DECIMAL(15,2)"},
		{"o_orderdate", "DATE"}, {"o_orderpriority", "CHAR(15)"}, {"o_clerk", "CHAR(15)"}, {"o_shippriority", "INTEGER"},
		{"o_comment", "VARCHAR(79)"}}},
	{name: "lineitem", pk: []string{"l_orderkey", "l_linenumber"}, cols: []column{
		{"l_orderkey", "INTEGER"}, {"l_partkey", "INTEGER"}, {"l_suppkey", "INTEGER"}, {"l_linenumber", "INTEGER"},
		{"l_quantity", "DECIMAL(15,2)"}, {"l_extendedprice", "DECIMAL(15,2)"}, {"l_discount", "DECIMAL(15,2)"},
		{"l_tax", "DECIMAL(15,2)"}, {"l_returnflag", "CHAR(1)"}, {"l_linestatus", "CHAR(1)"}, {"l_shipdate", "DATE"},
		{"l_commitdate", "DATE"}, {"l_receiptdate", "DATE"}, {"l_shipinstruct", "CHAR(25)"}, {"l_shipmode", "CHAR(10)"},
		{"l_comment", "VARCHAR(44)"}}},
}

// ddl is the CREATE TABLE statement of t, the same text for every system.
func (t table) ddl() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "CREATE TABLE %s (\n", t.name)
	for _, c := range t.cols {
		fmt.Fprintf(&sb, "  %s %s NOT NULL,\n", c.name, c.typ)
	}
	fmt.Fprintf(&sb, "  PRIMARY KEY (%s)\n)", strings.Join(t.pk, ", "))
	return sb.String()
}

// columnNames is the comma-separated column list of t.
func (t table) columnNames() string {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// Schema returns the DDL of the eight tables, one statement each.
func Schema() []string {
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = t.ddl()
	}
	return out
}
