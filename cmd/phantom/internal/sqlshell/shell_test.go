package sqlshell

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/phantom-db/phantom/compute/httpapi"
	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

// newServer serves the HTTP SQL API over a memkv-backed engine, with
// sessions, on 127.0.0.1.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	kv, err := memkv.New(memkv.Config{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := sql.New(sql.Config{KV: kv, DatabaseID: 1})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{
		Executor:   eng,
		NewSession: func() httpapi.Session { return eng.NewSession() },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.Close)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv
}

type testShell struct {
	*Shell
	client   *Client
	out, err *bytes.Buffer
}

// newShell opens a session on srv and returns a shell whose clock advances
// 1.5 ms per reading, so \timing prints "Time: 1.500 ms".
func newShell(t *testing.T, srv *httptest.Server, cfg Config) testShell {
	t.Helper()
	c, err := NewClient(ClientConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.OpenSession(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.CloseWithTimeout(); err != nil {
			t.Error(err)
		}
	})
	ts := testShell{client: c, out: &bytes.Buffer{}, err: &bytes.Buffer{}}
	now := time.Unix(0, 0)
	cfg.Client, cfg.Out, cfg.Err = c, ts.out, ts.err
	cfg.Now = func() time.Time {
		now = now.Add(1500 * time.Microsecond)
		return now
	}
	ts.Shell, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

const setup = `CREATE TABLE films (id INT PRIMARY KEY, title TEXT, score DOUBLE PRECISION, seen BOOLEAN);
INSERT INTO films VALUES (1, 'Heat', 8.3, true), (2, NULL, 7.5, false), (10, 'Up, "again"', NULL, NULL);
`

func mustExec(t *testing.T, sh testShell, text string) {
	t.Helper()
	if err := sh.Exec(context.Background(), text); err != nil {
		t.Fatalf("Exec(%q): %v\nstderr: %s", text, err, sh.err)
	}
}

func checkOutput(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s:\n--- got\n%s--- want\n%s", what, got, want)
	}
}

func TestExecTable(t *testing.T) {
	sh := newShell(t, newServer(t), Config{StopOnError: true})
	mustExec(t, sh, setup+"SELECT id, title, score, seen FROM films ORDER BY id")
	checkOutput(t, "stdout", sh.out.String(), `CREATE TABLE
INSERT 0 3
 id |    title    | score | seen
----+-------------+-------+------
  1 | Heat        |   8.3 | t
  2 |             |   7.5 | f
 10 | Up, "again" |       |
(3 rows)

`)
	checkOutput(t, "stderr", sh.err.String(), "")
	sh.out.Reset()
	mustExec(t, sh, "SELECT id FROM films WHERE id = 1; SELECT id FROM films WHERE id > 100")
	checkOutput(t, "stdout", sh.out.String(), " id\n----\n  1\n(1 row)\n\n id\n----\n(0 rows)\n\n")
}

func TestExecCSVAndJSON(t *testing.T) {
	srv := newServer(t)
	sh := newShell(t, srv, Config{Format: FormatCSV, StopOnError: true})
	mustExec(t, sh, setup+"SELECT id, title, score, seen FROM films ORDER BY id;")
	checkOutput(t, "csv", sh.out.String(), `id,title,score,seen
1,Heat,8.3,t
2,,7.5,f
10,"Up, ""again""",,
`)
	sh = newShell(t, srv, Config{Format: FormatJSON, StopOnError: true})
	mustExec(t, sh, "SELECT id, title, score, seen FROM films ORDER BY id;")
	checkOutput(t, "json", sh.out.String(), `{"id":1,"title":"Heat","score":8.3,"seen":true}
{"id":2,"title":null,"score":7.5,"seen":false}
{"id":10,"title":"Up, \"again\"","score":null,"seen":null}
`)
	sh.out.Reset()
	mustExec(t, sh, "\\format table\nSELECT id FROM films WHERE id = 2;\n\\format csv\nSELECT id FROM films WHERE id = 2;")
	checkOutput(t, "switched", sh.out.String(), "Output format is table.\n id\n----\n  2\n(1 row)\n\nOutput format is csv.\nid\n2\n")
}

func TestRunMultiLineAndTransaction(t *testing.T) {
	srv := newServer(t)
	sh := newShell(t, srv, Config{StopOnError: true})
	other := newShell(t, srv, Config{StopOnError: true})
	mustExec(t, sh, "CREATE TABLE t (id INT PRIMARY KEY, note TEXT);")
	script := `BEGIN;
INSERT INTO t
  VALUES (1, 'one;
still one'),
  -- a comment; not the end
  (2, 'two');
`
	mustExec(t, sh, script)
	// The transaction is open in sh's session: another session sees nothing.
	mustExec(t, other, "SELECT id FROM t")
	checkOutput(t, "other before commit", other.out.String(), " id\n----\n(0 rows)\n\n")
	mustExec(t, sh, "COMMIT;\nSELECT id,\n note FROM t\nORDER BY id\n;")
	checkOutput(t, "stdout", sh.out.String(), `CREATE TABLE
BEGIN
INSERT 0 2
COMMIT
 id |   note
----+-----------
  1 | one;     +
    | still one
  2 | two
(2 rows)

`)
}
