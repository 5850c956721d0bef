package pgwire

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
