package pgwire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func copyConn(t *testing.T) *pgx.Conn {
	t.Helper()
	eng := newEngine(t)
	_, addr := startServer(t, Config{NewSession: DescribedBy(func() Session { return eng.NewSession() }, eng)})
	c := connect(t, addr, pgx.QueryExecModeSimpleProtocol)
	if _, err := c.Exec(testCtx(t), "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, qty BIGINT, price DOUBLE PRECISION, ok BOOLEAN)"); err != nil {
		t.Fatal(err)
	}
	return c
}

func wantPgError(t *testing.T, err error, code string) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("got %v, want SQLSTATE %s", err, code)
	}
	return pe
}

func count(t *testing.T, c *pgx.Conn) int {
	t.Helper()
	var n int
	if err := c.QueryRow(testCtx(t), "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCopyFromTextInBatches(t *testing.T) {
	c := copyConn(t)
	ctx := testCtx(t)
	var in bytes.Buffer
	const n = 2500 // more than two INSERT batches
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("item\\t%d", i) // an escaped tab
		if i%7 == 0 {
			name = `\N`
		}
		fmt.Fprintf(&in, "%d\t%s\t%d\t%d.5\t%t\n", i, name, int64(i)*1_000_000_000, i, i%2 == 0)
	}
	in.WriteString("\\.\n")
	tag, err := c.PgConn().CopyFrom(ctx, &in, "COPY items FROM STDIN")
	if err != nil || tag.String() != fmt.Sprintf("COPY %d", n) {
		t.Fatalf("copy: %q %v", tag, err)
	}
	if got := count(t, c); got != n {
		t.Fatalf("count %d, want %d", got, n)
	}
	var name *string
	var qty int64
	if err := c.QueryRow(ctx, "SELECT name, qty FROM items WHERE id = 8").Scan(&name, &qty); err != nil || name == nil || *name != "item\t8" || qty != 8_000_000_000 {
		t.Fatalf("row 8: %v %d %v", name, qty, err)
	}
	if err := c.QueryRow(ctx, "SELECT name FROM items WHERE id = 7").Scan(&name); err != nil || name != nil {
		t.Fatalf("row 7 name must be NULL: %v %v", name, err)
	}
}

func TestCopyFromCSVOptions(t *testing.T) {
	c := copyConn(t)
	ctx := testCtx(t)
	in := "id,name,qty,price,ok\n" +
		"1,\"comma, inside\",10,1.5,true\n" +
		"2,\"line\nbreak and \"\"quotes\"\"\",,2,false\n" +
		"3,\"\",3,3,\n" + // quoted empty is '', unquoted empty is NULL
		"4,plain,4,4,t\r\n" // CRLF line end
	tag, err := c.PgConn().CopyFrom(ctx, strings.NewReader(in), "COPY items (id, name, qty, price, ok) FROM STDIN WITH (FORMAT csv, HEADER true)")
	if err != nil || tag.String() != "COPY 4" {
		t.Fatalf("csv copy: %q %v", tag, err)
	}
	rows, err := c.Query(ctx, "SELECT id, name, qty, ok FROM items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id int
		var name *string
		var qty *int64
		var ok *bool
		if err := rows.Scan(&id, &name, &qty, &ok); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d|%s|%s|%s", id, deref(name), deref(qty), deref(ok)))
	}
	want := []string{"1|comma, inside|10|true", "2|line\nbreak and \"quotes\"|NULL|false", "3||3|NULL", "4|plain|4|true"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// DELIMITER and NULL in text format.
	tag, err = c.PgConn().CopyFrom(ctx, strings.NewReader("10|NA|5|0.5|true\n11|x\\|y|NA|NA|NA\n"),
		"COPY items FROM STDIN WITH (DELIMITER '|', NULL 'NA')")
	if err != nil || tag.String() != "COPY 2" {
		t.Fatalf("delimiter copy: %q %v", tag, err)
	}
	var name *string
	var qty *int64
	if err := c.QueryRow(ctx, "SELECT name, qty FROM items WHERE id = 11").Scan(&name, &qty); err != nil || deref(name) != "x|y" || qty != nil {
		t.Fatalf("row 11: %s %s %v", deref(name), deref(qty), err)
	}
}

func deref[T any](p *T) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprint(*p)
}

func TestCopyFromErrorsLoadNothing(t *testing.T) {
	c := copyConn(t)
	ctx := testCtx(t)
	var in strings.Builder
	for i := 0; i < 1500; i++ {
		fmt.Fprintf(&in, "%d\tok\t1\t1\ttrue\n", i)
	}
	in.WriteString("1500\tbad\tnot-a-number\t1\ttrue\n")
	_, err := c.PgConn().CopyFrom(ctx, strings.NewReader(in.String()), "COPY items FROM STDIN")
	pe := wantPgError(t, err, "22P02")
	if !strings.Contains(pe.Detail, "line 1501") {
		t.Fatalf("error detail %q does not name the line", pe.Detail)
	}
	if got := count(t, c); got != 0 {
		t.Fatalf("a failed COPY loaded %d rows", got)
	}
	for _, q := range []struct{ data, code string }{
		{"1\ttoo few\n", "22P04"},
		{"1\ta\t1\t1\ttrue\textra\n", "22P04"},
		{"1,\"unterminated\n", "22P04"},
	} {
		stmt := "COPY items FROM STDIN"
		if strings.Contains(q.data, ",") {
			stmt = "COPY items (id, name) FROM STDIN (FORMAT csv)"
		}
		_, err := c.PgConn().CopyFrom(ctx, strings.NewReader(q.data), stmt)
		wantPgError(t, err, q.code)
	}
	// A duplicate key fails the whole COPY.
	_, err = c.PgConn().CopyFrom(ctx, strings.NewReader("1\ta\t1\t1\ttrue\n1\tb\t1\t1\ttrue\n"), "COPY items FROM STDIN")
	wantPgError(t, err, "23505")
	// The client aborting the copy (CopyFail) loads nothing either.
	_, err = c.PgConn().CopyFrom(ctx, io.MultiReader(strings.NewReader("1\ta\t1\t1\ttrue\n"), failingReader{}), "COPY items FROM STDIN")
	if err == nil {
		t.Fatal("CopyFail: no error")
	}
	for _, stmt := range []string{"COPY items FROM '/etc/passwd'", "COPY items TO '/tmp/x'", "COPY items FROM STDIN (FORMAT binary)", "COPY nowhere FROM STDIN"} {
		_, err := c.PgConn().CopyFrom(ctx, strings.NewReader(""), stmt)
		if err == nil {
			t.Fatalf("%s: no error", stmt)
		}
	}
	if got := count(t, c); got != 0 {
		t.Fatalf("failed COPYs loaded %d rows", got)
	}
	// The connection is still usable.
	if _, err := c.PgConn().CopyFrom(ctx, strings.NewReader("1\ta\t1\t1\ttrue\n"), "COPY items FROM STDIN"); err != nil {
		t.Fatal(err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("client gave up") }

func TestCopyInsideTransaction(t *testing.T) {
	c := copyConn(t)
	ctx := testCtx(t)
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PgConn().CopyFrom(ctx, strings.NewReader("1\ta\t1\t1\ttrue\n"), "COPY items FROM STDIN"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 1 {
		t.Fatalf("inside the transaction: %d %v", n, err)
	}
	if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if got := count(t, c); got != 0 {
		t.Fatalf("after ROLLBACK: %d rows", got)
	}
}

func TestCopyToStdoutRoundTrip(t *testing.T) {
	c := copyConn(t)
	ctx := testCtx(t)
	src := "1\ttab\\there\t10\t1.5\tt\n2\t\\N\t\\N\t-2.25\tf\n3\tback\\\\slash\t30\t3\t\\N\n"
	if _, err := c.PgConn().CopyFrom(ctx, strings.NewReader(src), "COPY items FROM STDIN"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tag, err := c.PgConn().CopyTo(ctx, &out, "COPY items TO STDOUT")
	if err != nil || tag.String() != "COPY 3" {
		t.Fatalf("copy to: %q %v", tag, err)
	}
	if out.String() != src {
		t.Fatalf("text round trip:\n%q\nwant\n%q", out.String(), src)
	}
	out.Reset()
	if _, err := c.PgConn().CopyTo(ctx, &out, "COPY (SELECT id, name FROM items WHERE id < 3 ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)"); err != nil {
		t.Fatal(err)
	}
	if want := "id,name\n1,tab\there\n2,\n"; out.String() != want {
		t.Fatalf("csv:\n%q\nwant\n%q", out.String(), want)
	}
	out.Reset()
	if _, err := c.PgConn().CopyTo(ctx, &out, "COPY items (id, qty) TO STDOUT (DELIMITER ';', NULL 'nil')"); err != nil {
		t.Fatal(err)
	}
	if want := "1;10\n2;nil\n3;30\n"; out.String() != want {
		t.Fatalf("options:\n%q\nwant\n%q", out.String(), want)
	}
}
