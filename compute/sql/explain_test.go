package sql

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// EXPLAIN prints joins and every node's estimated rows from the ANALYZE
// statistics; EXPLAIN ANALYZE adds the actual rows and time. The join
// order follows the estimates, not the FROM order.
func TestExplainJoinEstimates(t *testing.T) {
	e, _ := newEngine(t, Config{})
	s := e.NewSession()
	run(t, s, "CREATE TABLE big (id INT PRIMARY KEY, d INT, m INT)")
	run(t, s, "CREATE TABLE dim (id INT PRIMARY KEY, tag TEXT)")
	run(t, s, "CREATE TABLE mid (id INT PRIMARY KEY, x INT)")
	run(t, s, "INSERT INTO big SELECT g, g % 20, g % 200 FROM generate_series(1, 2000) g")
	run(t, s, "INSERT INTO dim SELECT g, 't' || (g % 4) FROM generate_series(0, 19) g")
	run(t, s, "INSERT INTO mid SELECT g, g FROM generate_series(0, 199) g")
	for _, tbl := range []string{"big", "dim", "mid"} {
		run(t, s, "ANALYZE "+tbl)
	}
	q := "SELECT count(*) FROM mid, big, dim WHERE big.m = mid.id AND big.d = dim.id AND dim.tag = 't1'"
	plan := textLines(run(t, s, "EXPLAIN "+q)[0])
	text := strings.Join(plan, "\n")
	// big (2000) meets the filtered dim (5 of 20 rows: 500 rows) before
	// mid (200 rows, one per m: still 500).
	want := []string{
		`HashAggregate keys=0 aggs=1 \(rows=1\)`,
		`Hash Join inner on m#2 = id#0 \(rows=500\)`,
		`Hash Join inner on d#1 = id#0 \(rows=500\)`,
		`Seq Scan on big \(rows=2000\)`,
		`Filter \(tag#1 = 't1'::text\) \(rows=5\)`,
		`Seq Scan on mid \(rows=200\)`,
	}
	for _, w := range want {
		if !regexp.MustCompile(w).MatchString(text) {
			t.Errorf("EXPLAIN lacks %q:\n%s", w, text)
		}
	}
	an := textLines(run(t, s, "EXPLAIN ANALYZE "+q)[0])
	re := regexp.MustCompile(`\(rows=\d+\) \(actual rows=\d+ batches=\d+ time=[0-9.]+ ms\)$`)
	for _, l := range an {
		if !re.MatchString(l) {
			t.Errorf("EXPLAIN ANALYZE line without estimate and actuals: %q", l)
		}
	}
	if !strings.Contains(strings.Join(an, "\n"), "Hash Join inner on d#1 = id#0 (rows=500) (actual rows=500 ") {
		t.Errorf("EXPLAIN ANALYZE:\n%s", strings.Join(an, "\n"))
	}
}

// A date range is estimated from the column's histogram, a timestamp bound
// (a date plus an interval, as TPC-H writes them) converted to days.
func TestExplainDateRangeEstimate(t *testing.T) {
	e, _ := newEngine(t, Config{})
	s := e.NewSession()
	run(t, s, "CREATE TABLE ev (id INT PRIMARY KEY, d DATE)")
	run(t, s, "INSERT INTO ev SELECT g, DATE '2024-01-01' + (g * 37) % 1000 FROM generate_series(0, 999) g")
	run(t, s, "ANALYZE ev")
	for q, want := range map[string]int{
		"SELECT id FROM ev WHERE d < DATE '2024-01-01' + 100":                                  100,
		"SELECT id FROM ev WHERE d >= DATE '2024-01-01' + 500 AND d < DATE '2024-01-01' + 750": 250,
		"SELECT id FROM ev WHERE d < TIMESTAMP '2024-01-01 00:00:00' + INTERVAL '300 days'":    300,
	} {
		line := textLines(run(t, s, "EXPLAIN "+q)[0])[0]
		m := regexp.MustCompile(`\(rows=(\d+)\)$`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s: %s", q, line)
		}
		got, _ := strconv.Atoi(m[1])
		if got < want-30 || got > want+30 {
			t.Errorf("%s: estimated %d rows, want about %d", q, got, want)
		}
	}
}

// ANALYZE and VACUUM ANALYZE without a table name analyze every table.
func TestAnalyzeEveryTable(t *testing.T) {
	e, _ := newEngine(t, Config{})
	s := e.NewSession()
	run(t, s, "CREATE TABLE a1 (id INT PRIMARY KEY)")
	run(t, s, "CREATE TABLE a2 (id INT PRIMARY KEY)")
	run(t, s, "INSERT INTO a1 SELECT g FROM generate_series(1, 300) g")
	run(t, s, "INSERT INTO a2 SELECT g FROM generate_series(1, 40) g")
	estimate := func(tbl string) string {
		return textLines(run(t, s, "EXPLAIN SELECT id FROM "+tbl)[0])[0]
	}
	before := estimate("a1")
	if strings.HasSuffix(before, "(rows=300)") {
		t.Fatalf("estimate before ANALYZE already exact: %s", before)
	}
	run(t, s, "ANALYZE")
	for tbl, want := range map[string]string{"a1": "(rows=300)", "a2": "(rows=40)"} {
		if got := estimate(tbl); !strings.HasSuffix(got, want) {
			t.Errorf("after ANALYZE, %s: %s, want %s", tbl, got, want)
		}
	}
	run(t, s, "INSERT INTO a2 SELECT g FROM generate_series(41, 90) g")
	run(t, s, "VACUUM ANALYZE")
	if got := estimate("a2"); !strings.HasSuffix(got, "(rows=90)") {
		t.Errorf("after VACUUM ANALYZE, a2: %s, want (rows=90)", got)
	}
}

// An IN subquery over an inner join that reads one relation's columns
// filters that relation below the join (bind/semipush.go), as in TPC-H
// Q18, instead of filtering the joined rows.
func TestSemiJoinBelowInnerJoin(t *testing.T) {
	e, _ := newEngine(t, Config{})
	s := e.NewSession()
	run(t, s, "CREATE TABLE sc (c_id INT PRIMARY KEY, c_name TEXT)")
	run(t, s, "CREATE TABLE so (o_id INT PRIMARY KEY, o_cust INT)")
	run(t, s, "CREATE TABLE sl (l_ord INT, l_no INT, l_qty INT, PRIMARY KEY (l_ord, l_no))")
	q := `EXPLAIN SELECT c_name, o_id, sum(l_qty) FROM sc, so, sl
		WHERE o_id IN (SELECT l_ord FROM sl GROUP BY l_ord HAVING sum(l_qty) > 300)
		AND c_id = o_cust AND o_id = l_ord GROUP BY c_name, o_id`
	lines := textLines(run(t, s, q)[0])
	indent := func(l string) int { return len(l) - len(strings.TrimLeft(l, " ->")) }
	semi, inner := -1, -1
	for _, l := range lines {
		switch {
		case strings.Contains(l, "Hash Join semi") && semi < 0:
			semi = indent(l)
		case strings.Contains(l, "Hash Join inner") && inner < 0:
			inner = indent(l)
		}
	}
	if semi < 0 || inner < 0 || semi <= inner {
		t.Fatalf("the semi join is not below the first inner join:\n%s", strings.Join(lines, "\n"))
	}
}
