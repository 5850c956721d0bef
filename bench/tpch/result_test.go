package tpch

import (
	"context"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func row(vals ...cell) []cell { return vals }
func num(s string) cell       { return textCell([]byte(s), true) }
func str(s string) cell       { return textCell([]byte(s), false) }

func TestCellNormalisation(t *testing.T) {
	dec, err := valueCell(struct{ decimalLike }{decimalLike{big.NewInt(12345), 2}})
	if err != nil {
		t.Fatal(err)
	}
	date, _ := valueCell(time.Date(1995, 3, 15, 0, 0, 0, 0, time.UTC))
	i64, _ := valueCell(int64(7))
	padded, _ := valueCell("GERMANY   ")
	for _, c := range []struct {
		a, b cell
		eq   bool
	}{
		{num("123.45"), dec, true},                        // NUMERIC text vs DECIMAL
		{num("123.46"), dec, true},                        // within 0.01
		{num("123.47"), dec, false},                       // beyond
		{num("123456789.5"), num("123456789.6"), true},    // within 1e-6 relative
		{num("123456789.5"), num("123456999.5"), false},   // beyond both
		{str("1995-03-15"), date, true},                   // DATE as text vs time.Time
		{str("GERMANY                  "), padded, true},  // CHAR padding
		{str("GERMANY"), str("FRANCE"), false},            //
		{num("7"), i64, true},                             //
		{str("7"), i64, true},                             // a number typed as text
		{str("x"), i64, false},                            //
		{textCell(nil, true), textCell(nil, false), true}, // NULLs
		{textCell(nil, true), num("0"), false},            //
	} {
		if got := cellsEqual(c.a, c.b); got != c.eq {
			t.Errorf("cellsEqual(%v, %v) = %v, want %v", c.a, c.b, got, c.eq)
		}
	}
	if _, err := valueCell(struct{}{}); err == nil {
		t.Error("an unknown DuckDB value type must be an error")
	}
}

// decimalLike stands in for duckdb.Decimal (a Float64 method).
type decimalLike struct {
	v     *big.Int
	scale int
}

func (d decimalLike) Float64() float64 {
	f, _ := new(big.Float).Quo(new(big.Float).SetInt(d.v), big.NewFloat(100)).Float64()
	return f
}

func TestDiff(t *testing.T) {
	want := &resultSet{cols: []string{"k", "v"}, rows: [][]cell{row(str("a"), num("1.00")), row(str("b"), num("2.00"))}}
	swapped := &resultSet{cols: []string{"k", "v"}, rows: [][]cell{row(str("b"), num("2")), row(str("a"), num("1"))}}
	if d := diff(swapped, want, false); d != "" {
		t.Errorf("unordered, same rows: %s", d)
	}
	if d := diff(swapped, want, true); !strings.Contains(d, "row 1 column k: b, want a") {
		t.Errorf("ordered, swapped rows: %q", d)
	}
	short := &resultSet{cols: []string{"k", "v"}, rows: want.rows[:1]}
	if d := diff(short, want, true); d != "1 rows, want 2" {
		t.Errorf("row count: %q", d)
	}
	wrong := &resultSet{cols: []string{"k", "v"}, rows: [][]cell{row(str("a"), num("1.00")), row(str("b"), num("2.50"))}}
	if d := diff(wrong, want, true); !strings.Contains(d, "row 2 column v: 2.50, want 2.00") {
		t.Errorf("value: %q", d)
	}
	narrow := &resultSet{cols: []string{"k"}, rows: [][]cell{row(str("a")), row(str("b"))}}
	if d := diff(narrow, want, true); d != "1 columns, want 2" {
		t.Errorf("columns: %q", d)
	}
}

func TestQueries(t *testing.T) {
	qs, err := Queries(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != NumQueries {
		t.Fatalf("%d queries, want %d", len(qs), NumQueries)
	}
	unordered := []int{6, 14, 17, 19}
	for _, q := range qs {
		want := 1
		if q.Num == 15 {
			want = 3 // create view; select; drop view
		}
		if len(q.Statements) != want {
			t.Errorf("%s: %d statements, want %d", q.Name(), len(q.Statements), want)
		}
		if q.Ordered == slices.Contains(unordered, q.Num) {
			t.Errorf("%s: ordered = %v", q.Name(), q.Ordered)
		}
		for _, s := range q.Statements {
			if strings.Contains(s, ";") || strings.Contains(s, ":") {
				t.Errorf("%s: statement holds ';' or an unsubstituted parameter: %s", q.Name(), s)
			}
		}
	}
}

func TestParseQueryList(t *testing.T) {
	got, err := ParseQueryList("1, 3,q5-7,Q22")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 3, 5, 6, 7, 22}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, err := ParseQueryList(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"0", "23", "x", "5-3", "1-"} {
		if _, err := ParseQueryList(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestGenerateRejectsBadScale(t *testing.T) {
	for _, sf := range []float64{0, -1, 0.0005, 1.5} {
		if _, err := Generate(t.TempDir(), sf); err == nil {
			t.Errorf("SF %v: no error", sf)
		}
	}
}

// TestInsertStatements checks the statements that load Phantom-DB: batches
// of rows, strings and dates quoted (quotes doubled), numbers not.
func TestInsertStatements(t *testing.T) {
	path := t.TempDir() + "/nation.tbl"
	if err := os.WriteFile(path, []byte("0|ALGERIA|0|it's\n1|ARGENTINA|1|b\n2|BRAZIL|1|c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := make(chan chunk, 10)
	if err := insertStatements(context.Background(), f, tables[1], 2, out); err != nil {
		t.Fatal(err)
	}
	close(out)
	var got []string
	for c := range out {
		got = append(got, c.sql)
	}
	head := "INSERT INTO nation (n_nationkey, n_name, n_regionkey, n_comment) VALUES "
	want := []string{
		head + "(0, 'ALGERIA', 0, 'it''s'), (1, 'ARGENTINA', 1, 'b')",
		head + "(2, 'BRAZIL', 1, 'c')",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

// TestCopyChunks checks the COPY statements that load Phantom-DB: the
// lines as they are, batch rows per statement.
func TestCopyChunks(t *testing.T) {
	path := t.TempDir() + "/nation.tbl"
	if err := os.WriteFile(path, []byte("0|ALGERIA|0|it's\n1|ARGENTINA|1|b\n2|BRAZIL|1|c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := make(chan chunk, 10)
	if err := copyChunks(context.Background(), f, tables[1], 2, out); err != nil {
		t.Fatal(err)
	}
	close(out)
	var got []string
	for c := range out {
		if want := "COPY nation (n_nationkey, n_name, n_regionkey, n_comment) FROM STDIN WITH (DELIMITER '|')"; c.sql != want {
			t.Fatalf("statement %q, want %q", c.sql, want)
		}
		got = append(got, string(c.rows))
	}
	want := []string{"0|ALGERIA|0|it's\n1|ARGENTINA|1|b\n", "2|BRAZIL|1|c\n"}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}
