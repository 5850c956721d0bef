package logictest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// standardFile uses the standard sqllogictest directives: sort modes,
// labels, hash-threshold and skipif/onlyif.
const standardFile = `statement ok
CREATE TABLE t (a INT PRIMARY KEY, b TEXT)

statement ok
INSERT INTO t VALUES (1, 'x'), (2, 'y'), (3, NULL)

query IT valuesort
SELECT a, b FROM t WHERE a < 3
----
1
2
x
y

query I nosort same
SELECT a FROM t ORDER BY a

query I rowsort same
SELECT a FROM t

# Only for another engine: would fail here.
skipif phantom
query I
SELECT 1
----
2

onlyif postgresql
statement ok
THIS IS NOT SQL

hash-threshold 2

query IT rowsort
SELECT a, b FROM t
`

func TestStandardDirectivesAndRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "std.test")
	if err := os.WriteFile(path, []byte(standardFile), 0o644); err != nil {
		t.Fatal(err)
	}
	// The queries without results are filled in by recording against
	// this engine (as make slt-record does against PostgreSQL).
	out, err := Record(context.Background(), path, "phantom", EngineExec(newEngine(t)))
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"query I nosort same\nSELECT a FROM t ORDER BY a\n----\n1\n2\n3\n",
		"query IT rowsort\nSELECT a, b FROM t\n----\n6 values hashing to ",
		"skipif phantom\nquery I\nSELECT 1\n----\n2\n", // left as written
	} {
		if !strings.Contains(got, want) {
			t.Errorf("recorded file lacks %q:\n%s", want, got)
		}
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	RunOptions(t, path, Options{}, EngineExec(newEngine(t)))

	// A wrong hash or a label mismatch fails.
	bad := strings.Replace(got, "6 values hashing to ", "6 values hashing to 0", 1)
	bad = bad[:strings.Index(bad, "6 values hashing to 0")+len("6 values hashing to ")] + strings.Repeat("0", 32) + "\n"
	f, err := parseFile(path, []byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	exec := EngineExec(newEngine(t))
	failures := 0
	for _, r := range f.recs {
		if r.appliesTo("phantom") && r.run(context.Background(), exec, map[string]labelled{}) != "" {
			failures++
		}
	}
	if failures != 1 {
		t.Errorf("a wrong hash gave %d failures, want 1", failures)
	}
}
