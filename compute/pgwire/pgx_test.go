package pgwire

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var execModes = []pgx.QueryExecMode{
	pgx.QueryExecModeCacheStatement, // named prepared statements, binary
	pgx.QueryExecModeCacheDescribe,  // unnamed statements, described once
	pgx.QueryExecModeDescribeExec,   // unnamed statements, described each time
	pgx.QueryExecModeExec,           // parameter types from Go types, text
	pgx.QueryExecModeSimpleProtocol, // client-side interpolation, Query messages
}

type row struct {
	a int32
	b *int64
	c *float64
	d *string
	f *bool
}

func ptr[T any](v T) *T { return &v }

func TestPgxRoundTripEveryTypeAndMode(t *testing.T) {
	_, addr := startServer(t, Config{})
	for i, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := testCtx(t)
			c := connect(t, addr, mode)
			table := fmt.Sprintf("t%d", i)
			if _, err := c.Exec(ctx, "CREATE TABLE "+table+" (a INT PRIMARY KEY, b BIGINT, c DOUBLE PRECISION, d TEXT, f BOOLEAN)"); err != nil {
				t.Fatal(err)
			}
			want := []row{
				{1, ptr(int64(math.MaxInt64)), ptr(3.5), ptr("héllo 'quoted' \\ \"x\""), ptr(true)},
				{math.MinInt32, ptr(int64(math.MinInt64)), ptr(-1e300), ptr(""), ptr(false)},
				{3, nil, nil, nil, nil},
				{4, ptr(int64(0)), ptr(math.Inf(1)), ptr("Infinity"), ptr(false)},
				{5, ptr(int64(-1)), ptr(1.0 / 3), ptr("ünïcødé ✓"), ptr(true)},
				{6, ptr(int64(7)), ptr(1e-7), ptr("x"), nil},
			}
			for _, r := range want {
				tag, err := c.Exec(ctx, "INSERT INTO "+table+" VALUES ($1, $2, $3, $4, $5)", r.a, r.b, r.c, r.d, r.f)
				if err != nil {
					t.Fatalf("insert %v: %v", r.a, err)
				}
				if tag.String() != "INSERT 0 1" {
					t.Fatalf("tag %q", tag)
				}
			}
			rows, err := c.Query(ctx, "SELECT a, b, c, d, f FROM "+table+" WHERE a >= $1 ORDER BY a", int32(math.MinInt32))
			if err != nil {
				t.Fatal(err)
			}
			var got []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.a, &r.b, &r.c, &r.d, &r.f); err != nil {
					t.Fatal(err)
				}
				got = append(got, r)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if rows.CommandTag().String() != "SELECT 6" {
				t.Fatalf("tag %q", rows.CommandTag())
			}
			wantSorted := append([]row{want[1]}, want[0])
			wantSorted = append(wantSorted, want[2:]...)
			if fmt.Sprint(dump(got)) != fmt.Sprint(dump(wantSorted)) {
				t.Fatalf("rows\n got %v\nwant %v", dump(got), dump(wantSorted))
			}

			// NaN does not compare equal; check it on its own.
			var nan float64
			if err := c.QueryRow(ctx, "SELECT CAST('NaN' AS DOUBLE PRECISION)").Scan(&nan); err != nil || !math.IsNaN(nan) {
				t.Fatalf("NaN: %v %v", nan, err)
			}
			// Parameters in contexts that type them: comparisons and
			// arithmetic on each column type.
			var n int64
			if err := c.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE b = $1 OR c = $2 OR d = $3 OR f = $4",
				int64(-1), 3.5, "x", true).Scan(&n); err != nil || n != 3 {
				t.Fatalf("count %d %v", n, err)
			}
			var s string
			if err := c.QueryRow(ctx, "SELECT $1", "untyped").Scan(&s); err != nil || s != "untyped" {
				t.Fatalf("untyped param: %q %v", s, err)
			}
			var sum int64
			if err := c.QueryRow(ctx, "SELECT a + $1 FROM "+table+" WHERE a = 1", int32(41)).Scan(&sum); err != nil || sum != 42 {
				t.Fatalf("a + $1 = %d %v", sum, err)
			}
		})
	}
}

func dump(rs []row) []string {
	var out []string
	for _, r := range rs {
		s := fmt.Sprint(r.a)
		for _, v := range []any{r.b, r.c, r.d, r.f} {
			switch x := v.(type) {
			case *int64:
				s += field(x)
			case *float64:
				s += field(x)
			case *string:
				s += field(x)
			case *bool:
				s += field(x)
			}
		}
		out = append(out, s)
	}
	return out
}

func field[T any](p *T) string {
	if p == nil {
		return " NULL"
	}
	return fmt.Sprintf(" %q", fmt.Sprint(*p))
}

func TestPgxErrors(t *testing.T) {
	_, addr := startServer(t, Config{})
	for _, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := testCtx(t)
			c := connect(t, addr, mode)
			cases := []struct {
				sql      string
				args     []any
				code     string
				position int32
			}{
				{"SELEC 1", nil, "42601", 1},
				{"SELECT * FROM missing_table", nil, "42P01", 15},
				{"SELECT 1/0", nil, "22012", 0},
				{"SELECT nope FROM (VALUES (1)) AS v(x) WHERE x = $1", []any{int64(1)}, "", 0},
			}
			for _, tc := range cases {
				_, err := c.Exec(ctx, tc.sql, tc.args...)
				var pe *pgconn.PgError
				if !errors.As(err, &pe) {
					t.Fatalf("%s: want PgError, got %v", tc.sql, err)
				}
				if tc.code != "" && pe.Code != tc.code {
					t.Fatalf("%s: code %s (%s), want %s", tc.sql, pe.Code, pe.Message, tc.code)
				}
				if tc.position != 0 && pe.Position != tc.position {
					t.Fatalf("%s: position %d, want %d", tc.sql, pe.Position, tc.position)
				}
				if pe.Severity != "ERROR" || pe.Message == "" {
					t.Fatalf("%s: severity %q message %q", tc.sql, pe.Severity, pe.Message)
				}
			}
			// The connection is still usable after errors.
			var one int32
			if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("after errors: %d %v", one, err)
			}
		})
	}
}

func TestPgxUniqueViolationDetail(t *testing.T) {
	_, addr := startServer(t, Config{})
	ctx := testCtx(t)
	c := connect(t, addr, pgx.QueryExecModeCacheStatement)
	if _, err := c.Exec(ctx, "CREATE TABLE u (id BIGINT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO u VALUES ($1)", int64(1)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Exec(ctx, "INSERT INTO u VALUES ($1)", int64(1))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" {
		t.Fatalf("want 23505, got %v", err)
	}
	if pe.Detail == "" {
		t.Fatalf("23505 without detail: %+v", pe)
	}
}

func TestPgxPreparedStatementReuse(t *testing.T) {
	_, addr := startServer(t, Config{})
	ctx := testCtx(t)
	c := connect(t, addr, pgx.QueryExecModeCacheStatement)
	if _, err := c.Exec(ctx, "CREATE TABLE kv (k BIGINT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	ins, err := c.Prepare(ctx, "ins", "INSERT INTO kv (k, v) VALUES ($1, $2)")
	if err != nil {
		t.Fatal(err)
	}
	if len(ins.ParamOIDs) != 2 || ins.ParamOIDs[0] != oidInt8 || ins.ParamOIDs[1] != oidText || len(ins.Fields) != 0 {
		t.Fatalf("insert description: params %v fields %v", ins.ParamOIDs, ins.Fields)
	}
	sel, err := c.Prepare(ctx, "sel", "SELECT v FROM kv WHERE k = $1")
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.ParamOIDs) != 1 || sel.ParamOIDs[0] != oidInt8 || len(sel.Fields) != 1 || sel.Fields[0].DataTypeOID != oidText {
		t.Fatalf("select description: params %v fields %v", sel.ParamOIDs, sel.Fields)
	}
	for k := range int64(20) {
		if _, err := c.Exec(ctx, "ins", k, fmt.Sprintf("v%d", k)); err != nil {
			t.Fatal(err)
		}
	}
	for k := range int64(20) {
		var v string
		if err := c.QueryRow(ctx, "sel", k).Scan(&v); err != nil || v != fmt.Sprintf("v%d", k) {
			t.Fatalf("k=%d: %q %v", k, v, err)
		}
	}
	if err := c.Deallocate(ctx, "sel"); err != nil {
		t.Fatal(err)
	}
}

func TestPgxLargeResultAndConcurrentClients(t *testing.T) {
	_, addr := startServer(t, Config{})
	ctx := testCtx(t)
	c := connect(t, addr, pgx.QueryExecModeCacheStatement)
	if _, err := c.Exec(ctx, "CREATE TABLE big (k BIGINT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	const rowsN = 3000
	var b strings.Builder
	b.WriteString("INSERT INTO big VALUES ")
	for i := range rowsN {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(%d, 'value %d')", i, i)
	}
	if _, err := c.Exec(ctx, b.String()); err != nil {
		t.Fatal(err)
	}
	const clients = 4
	errc := make(chan error, clients)
	for w := range clients {
		mode := execModes[w%len(execModes)]
		cw := connect(t, addr, mode)
		go func() {
			for range 3 {
				rows, err := cw.Query(ctx, "SELECT k, v FROM big WHERE k >= $1 ORDER BY k", int64(0))
				if err != nil {
					errc <- err
					return
				}
				n := int64(0)
				for rows.Next() {
					var k int64
					var v string
					if err := rows.Scan(&k, &v); err != nil {
						errc <- err
						return
					}
					if k != n || v != fmt.Sprintf("value %d", k) {
						errc <- fmt.Errorf("%s: row %d is (%d, %q)", mode, n, k, v)
						return
					}
					n++
				}
				if err := rows.Err(); err != nil || n != rowsN {
					errc <- fmt.Errorf("%s: %d rows, %v", mode, n, err)
					return
				}
			}
			errc <- nil
		}()
	}
	for range clients {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestPgxBatchPipelinesStatements(t *testing.T) {
	_, addr := startServer(t, Config{})
	ctx := testCtx(t)
	for _, mode := range execModes {
		c := connect(t, addr, mode)
		b := &pgx.Batch{}
		b.Queue("SELECT $1::bigint * 2", int64(21))
		b.Queue("SELECT CAST($1 AS TEXT)", "ab")
		b.Queue("SELECT 1/0")
		br := c.SendBatch(ctx, b)
		var n int64
		var s string
		if err := br.QueryRow().Scan(&n); err != nil || n != 42 {
			t.Fatalf("%s: first %d %v", mode, n, err)
		}
		if err := br.QueryRow().Scan(&s); err != nil || s != "ab" {
			t.Fatalf("%s: second %q %v", mode, s, err)
		}
		var pe *pgconn.PgError
		if _, err := br.Exec(); !errors.As(err, &pe) || pe.Code != "22012" {
			t.Fatalf("%s: third %v", mode, err)
		}
		if err := br.Close(); err != nil && !errors.As(err, &pe) {
			t.Fatalf("%s: close %v", mode, err)
		}
	}
}
