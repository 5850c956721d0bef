package pgwire

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// psqlPath finds the psql client (PostgreSQL 15 or later).
func psqlPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql"); len(m) > 0 {
		return m[len(m)-1]
	}
	t.Fatal("psql not found: install the PostgreSQL client (apt-get install postgresql-client)")
	return ""
}

// psql runs psql -c command against addr and returns its combined output
// and exit code.
func psql(t *testing.T, addr, command string, extra ...string) (string, int) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"-X", "-h", host, "-p", port, "-U", "x", "-d", "phantom"}, extra...)
	args = append(args, "-c", command)
	cmd := exec.CommandContext(ctx, psqlPath(t), args...)
	cmd.Env = append(os.Environ(), "PGSSLMODE=prefer", "PGGSSENCMODE=disable", "PGCONNECT_TIMEOUT=10", "PAGER=", "PSQLRC=/dev/null")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestPsql(t *testing.T) {
	_, addr := startServer(t, Config{})
	out, code := psql(t, addr, `CREATE TABLE p (id INT PRIMARY KEY, name TEXT, score DOUBLE PRECISION, ok BOOLEAN, big BIGINT);
		INSERT INTO p VALUES (1, 'ada', 1.5, true, 9007199254740993), (2, 'bob', NULL, false, NULL), (3, NULL, 1e-10, NULL, -1);
		SELECT * FROM p ORDER BY id`)
	want := `CREATE TABLE
INSERT 0 3
 id | name | score | ok |       big        
----+------+-------+----+------------------
  1 | ada  |   1.5 | t  | 9007199254740993
  2 | bob  |       | f  |                 
  3 |      | 1e-10 |    |               -1
(3 rows)

`
	if code != 0 || out != want {
		t.Fatalf("psql exit %d, output:\n%s\nwant:\n%s", code, out, want)
	}
	// Unaligned, tuples-only output of an aggregate; 1.0 / 3 is numeric,
	// printed with PostgreSQL's division scale.
	out, code = psql(t, addr, "SELECT count(*), count(name), 1.0 / 3 FROM p", "-A", "-t")
	if code != 0 || out != "3|2|0.33333333333333333333\n" {
		t.Fatalf("psql exit %d, output %q", code, out)
	}
	// An error shows its severity, message and the position caret; psql
	// exits 1.
	out, code = psql(t, addr, "SELECT nope FROM p")
	if code != 1 || !strings.Contains(out, `ERROR:  column "nope" does not exist`) || !strings.Contains(out, "LINE 1: SELECT nope FROM p") {
		t.Fatalf("psql exit %d, output:\n%s", code, out)
	}
}

// TestPsqlDescribe runs psql's \dt, \di, \d and \d table, which read
// pg_catalog, and checks what psql prints.
func TestPsqlDescribe(t *testing.T) {
	_, addr := startServer(t, Config{})
	out, code := psql(t, addr, `CREATE TABLE items (id INT PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x', price NUMERIC(10,2), tags TEXT[]);
		CREATE INDEX items_name ON items (name);
		CREATE TABLE orders (id BIGINT PRIMARY KEY, item INT REFERENCES items (id), qty INT CHECK (qty > 0));
		CREATE VIEW cheap AS SELECT id FROM items`)
	if code != 0 {
		t.Fatalf("psql exit %d, output:\n%s", code, out)
	}
	out, code = psql(t, addr, `\dt`)
	if code != 0 || !strings.Contains(out, "List of relations") ||
		!regexpMatch(`public \| items\s+\| table`, out) || !regexpMatch(`public \| orders\s+\| table`, out) || strings.Contains(out, "cheap") {
		t.Fatalf(`\dt: psql exit %d, output:`+"\n%s", code, out)
	}
	out, code = psql(t, addr, `\di`)
	if code != 0 || !regexpMatch(`items_name\s+\| index\s+\| \w+\s+\| items`, out) || !regexpMatch(`items_pkey\s+\| index`, out) {
		t.Fatalf(`\di: psql exit %d, output:`+"\n%s", code, out)
	}
	out, code = psql(t, addr, `\d`)
	if code != 0 || !regexpMatch(`cheap\s+\| view`, out) || !regexpMatch(`items\s+\| table`, out) {
		t.Fatalf(`\d: psql exit %d, output:`+"\n%s", code, out)
	}
	out, code = psql(t, addr, `\d items`)
	for _, want := range []string{
		`Table "public.items"`,
		`id     \| integer\s+\|\s+\| not null \|`,
		`name   \| text\s+\|\s+\| not null \| 'x'`,
		`price  \| numeric\(10,2\)\s+\|\s+\|\s+\|`,
		`tags   \| text\[\]`,
		`"items_pkey" PRIMARY KEY, btree \(id\)`,
		`"items_name" btree \(name\)`,
		`TABLE "orders" CONSTRAINT "orders_item_fkey" FOREIGN KEY \(item\) REFERENCES items\(id\)`,
	} {
		if code != 0 || !regexpMatch(want, out) {
			t.Fatalf(`\d items: psql exit %d, no match for %s in:`+"\n%s", code, want, out)
		}
	}
	out, code = psql(t, addr, `\d orders`)
	if code != 0 || !strings.Contains(out, `"orders_qty_check" CHECK (qty > 0)`) ||
		!strings.Contains(out, `"orders_item_fkey" FOREIGN KEY (item) REFERENCES items(id)`) || !regexpMatch(`id\s+\| bigint`, out) {
		t.Fatalf(`\d orders: psql exit %d, output:`+"\n%s", code, out)
	}
	if out, code = psql(t, addr, `CREATE TABLE counters (id SERIAL PRIMARY KEY)`); code != 0 {
		t.Fatalf("psql exit %d, output:\n%s", code, out)
	}
	out, code = psql(t, addr, `\ds`)
	if code != 0 || !regexpMatch(`counters_id_seq\s+\| sequence`, out) {
		t.Fatalf(`\ds: psql exit %d, output:`+"\n%s", code, out)
	}
	out, code = psql(t, addr, `\d counters_id_seq`)
	if code != 0 || !strings.Contains(out, `Sequence "public.counters_id_seq"`) || !strings.Contains(out, "Owned by: public.counters.id") {
		t.Fatalf(`\d counters_id_seq: psql exit %d, output:`+"\n%s", code, out)
	}
	out, code = psql(t, addr, `\d nope`)
	if !strings.Contains(out, `Did not find any relation named "nope"`) {
		t.Fatalf(`\d nope: psql exit %d, output:`+"\n%s", code, out)
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
