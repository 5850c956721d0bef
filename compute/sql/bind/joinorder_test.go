package bind

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/parse"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// statsCatalog is a catalog of tables with fabricated ANALYZE statistics.
type statsCatalog struct {
	tables map[string]*catalog.Table
	stats  map[uint64]*catalog.TableStats
}

func (c *statsCatalog) Table(_ context.Context, name string) (*catalog.Table, error) {
	return c.tables[name], nil
}

func (c *statsCatalog) Sequence(context.Context, string) (*catalog.Sequence, error) { return nil, nil }

func (c *statsCatalog) IndexTable(context.Context, string) (string, error) { return "", nil }

func (c *statsCatalog) Stats(_ context.Context, id uint64) (*catalog.TableStats, error) {
	return c.stats[id], nil
}

// add defines table name with int8 columns cols, rows rows and per column
// the given distinct count (the first column is the primary key).
func (c *statsCatalog) add(name string, rows int64, cols map[string]int64, order ...string) {
	t := &catalog.Table{ID: uint64(len(c.tables) + 1), Name: name, Version: 1, PrimaryKey: []int{0}}
	st := &catalog.TableStats{RowCount: rows, Version: 1}
	for _, col := range order {
		t.Columns = append(t.Columns, catalog.Column{Name: col, Type: types.Int8, NotNull: true})
		st.Columns = append(st.Columns, catalog.ColumnStats{NDistinct: cols[col]})
	}
	if c.tables == nil {
		c.tables, c.stats = map[string]*catalog.Table{}, map[uint64]*catalog.TableStats{}
	}
	c.tables[name], c.stats[t.ID] = t, st
}

// joinShape renders the join tree under n as nested (left right) pairs of
// table names, left the probe side; other nodes are transparent.
func joinShape(n plan.Node) string {
	switch x := n.(type) {
	case *plan.Join:
		keys := ""
		if len(x.LeftKeys) == 0 {
			keys = " cross"
		}
		return fmt.Sprintf("(%s %s%s)", joinShape(x.Left), joinShape(x.Right), keys)
	case *plan.Scan:
		return x.Table.Name
	case *plan.IndexScan:
		return x.Table.Name
	case *plan.Filter:
		return joinShape(x.Input)
	case *plan.Project:
		return joinShape(x.Input)
	case *plan.Aggregate:
		return joinShape(x.Input)
	case *plan.Sort:
		return joinShape(x.Input)
	case *plan.Limit:
		return joinShape(x.Input)
	}
	return fmt.Sprintf("%T", n)
}

func bindWith(t *testing.T, cat *statsCatalog, query string) plan.Node {
	t.Helper()
	stmts, err := parse.Parse(query)
	if err != nil {
		t.Fatal(err)
	}
	st, err := New(context.Background(), cat, query, nil).Bind(stmts[0].AST)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return st.(*plan.Query).Root
}

func TestJoinOrderStar(t *testing.T) {
	cat := &statsCatalog{}
	cat.add("fact", 1_000_000, map[string]int64{"id": 1_000_000, "d1": 10, "d2": 1000, "d3": 100, "v": 50}, "id", "d1", "d2", "d3", "v")
	cat.add("dim1", 10, map[string]int64{"k": 10, "name": 10}, "k", "name")
	cat.add("dim2", 1000, map[string]int64{"k": 1000, "grp": 1000}, "k", "grp")
	cat.add("dim3", 100, map[string]int64{"k": 100, "c": 100}, "k", "c")
	// Written in a poor FROM order, with a selective filter on dim2: the
	// fact table meets dim2 first (one key in a thousand), then, as both
	// keep the result at 1000 rows, the dimension with the smaller build
	// side; no join is a cross product.
	root := bindWith(t, cat, `SELECT fact.v, dim1.name, dim2.grp, dim3.c FROM dim1, dim3, fact, dim2
		WHERE fact.d1 = dim1.k AND fact.d2 = dim2.k AND fact.d3 = dim3.k AND dim2.grp = 7`)
	got := joinShape(root)
	if want := "(((fact dim2) dim1) dim3)"; got != want {
		t.Errorf("star join order = %s, want %s\n%s", got, want, plan.Format(&plan.Query{Root: root}))
	}
	// The output columns keep the query's order.
	var names []string
	for _, c := range root.Columns() {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "v,name,grp,c" {
		t.Errorf("columns = %v", names)
	}
}

func TestJoinOrderChain(t *testing.T) {
	cat := &statsCatalog{}
	// a - b - c - d: b and c are large, joined through small a and d.
	cat.add("a", 100, map[string]int64{"id": 100, "x": 100}, "id", "x")
	cat.add("b", 1_000_000, map[string]int64{"id": 1_000_000, "a_id": 100, "c_id": 100_000}, "id", "a_id", "c_id")
	cat.add("c", 100_000, map[string]int64{"id": 100_000, "d_id": 10}, "id", "d_id")
	cat.add("d", 10, map[string]int64{"id": 10, "y": 10}, "id", "y")
	root := bindWith(t, cat, `SELECT a.x, d.y FROM b JOIN c ON b.c_id = c.id JOIN d ON c.d_id = d.id JOIN a ON b.a_id = a.id
		WHERE a.x = 1 AND d.y = 2`)
	got := joinShape(root)
	// Every join has keys: the chain is never broken by a cross product
	// even though a and d are tiny; each large table meets its small,
	// filtered neighbour first (a bushy tree).
	if strings.Contains(got, "cross") {
		t.Errorf("chain join order has a cross product: %s", got)
	}
	if want := "((c d) (b a))"; got != want {
		t.Errorf("chain join order = %s, want %s\n%s", got, want, plan.Format(&plan.Query{Root: root}))
	}
}

// A disconnected graph joins its components with a cross product, last.
func TestJoinOrderDisconnected(t *testing.T) {
	cat := &statsCatalog{}
	cat.add("p", 1000, map[string]int64{"id": 1000, "q_id": 1000}, "id", "q_id")
	cat.add("q", 1000, map[string]int64{"id": 1000}, "id")
	cat.add("r", 5, map[string]int64{"id": 5}, "id")
	root := bindWith(t, cat, `SELECT * FROM r, p, q WHERE p.q_id = q.id`)
	if got, want := joinShape(root), "((p q) r cross)"; got != want {
		t.Errorf("join order = %s, want %s", got, want)
	}
	var names []string
	for _, c := range root.Columns() {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "id,id,q_id,id" {
		t.Errorf("columns = %v", names)
	}
}

// Beyond dpRelations the greedy search orders the joins: a chain of 12
// tables keeps every join keyed and the columns in FROM order.
func TestJoinOrderGreedyChain(t *testing.T) {
	cat := &statsCatalog{}
	var from, where, cols []string
	for i := range 12 {
		name := fmt.Sprintf("t%02d", i)
		cat.add(name, int64(1000*(i%4+1)), map[string]int64{"id": int64(1000 * (i%4 + 1)), "nxt": 500}, "id", "nxt")
		from = append([]string{name}, from...) // reversed FROM order
		cols = append(cols, name+".id")
		if i > 0 {
			where = append(where, fmt.Sprintf("t%02d.nxt = %s.id", i-1, name))
		}
	}
	root := bindWith(t, cat, "SELECT "+strings.Join(cols, ", ")+" FROM "+strings.Join(from, ", ")+" WHERE "+strings.Join(where, " AND "))
	shape := joinShape(root)
	if strings.Contains(shape, "cross") {
		t.Errorf("greedy order has a cross product: %s", shape)
	}
	for i := range 12 {
		if !strings.Contains(shape, fmt.Sprintf("t%02d", i)) {
			t.Errorf("t%02d missing from %s", i, shape)
		}
	}
	p, ok := root.(*plan.Project)
	if !ok {
		t.Fatalf("root is %T", root)
	}
	// Each output column reads the id column of its own table: follow the
	// reference down to the scan that produces it.
	for i, e := range p.Exprs {
		if got := scanOf(p.Input, e.(*plan.ColRef).Idx); got != fmt.Sprintf("t%02d.id", i) {
			t.Errorf("output %d reads %s", i, got)
		}
	}
}

// scanOf names the table column that column idx of n comes from.
func scanOf(n plan.Node, idx int) string {
	switch x := n.(type) {
	case *plan.Scan:
		return x.Table.Name + "." + x.Table.Columns[idx].Name
	case *plan.Filter:
		return scanOf(x.Input, idx)
	case *plan.Project:
		return scanOf(x.Input, x.Exprs[idx].(*plan.ColRef).Idx)
	case *plan.Join:
		if nl := len(x.Left.Columns()); idx >= nl {
			return scanOf(x.Right, idx-nl)
		}
		return scanOf(x.Left, idx)
	}
	return fmt.Sprintf("%T", n)
}
