package sqlshell

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/compute/httpapi"
	"github.com/phantom-db/phantom/compute/httpapi/httpapitest"
)

// newServer serves the HTTP SQL API over a memkv-backed engine, with
// sessions, on 127.0.0.1.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv, _ := httpapitest.NewServer(t, httpapi.Config{})
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

func TestErrorCaretAndStop(t *testing.T) {
	sh := newShell(t, newServer(t), Config{StopOnError: true})
	err := sh.Exec(context.Background(), "SELECT 1;\nSELECT nope FROM missing;\nSELECT 2;")
	if !errors.Is(err, ErrStatementFailed) {
		t.Fatalf("Exec = %v, want ErrStatementFailed", err)
	}
	checkOutput(t, "stdout", sh.out.String(), " ?column?\n----------\n        1\n(1 row)\n\n")
	checkOutput(t, "stderr", sh.err.String(), `ERROR:  relation "missing" does not exist (SQLSTATE 42P01)
LINE 1: SELECT nope FROM missing
                         ^
`)
	sh.err.Reset()
	err = sh.Exec(context.Background(), "SELECT 1\n  FROM t WHERE\n  id = = 2")
	if !errors.Is(err, ErrStatementFailed) {
		t.Fatalf("Exec = %v, want ErrStatementFailed", err)
	}
	checkOutput(t, "stderr", sh.err.String(), `ERROR:  syntax error at or near "=" (SQLSTATE 42601)
LINE 3:   id = = 2
               ^
`)
}

func TestInteractiveContinuesAfterError(t *testing.T) {
	sh := newShell(t, newServer(t), Config{})
	err := sh.Run(context.Background(), NewPlainReader(strings.NewReader("SELEC 1;\n\\d nope\n\\nope\nSELECT 2;\n")))
	if err != nil {
		t.Fatal(err)
	}
	checkOutput(t, "stdout", sh.out.String(), " ?column?\n----------\n        2\n(1 row)\n\n")
	checkOutput(t, "stderr", sh.err.String(), `ERROR:  syntax error at or near "SELEC" (SQLSTATE 42601)
LINE 1: SELEC 1
        ^
Did not find any relation named "nope".
invalid command \nope; try \? for help.
`)
}

func TestBackslashCommands(t *testing.T) {
	sh := newShell(t, newServer(t), Config{StopOnError: true})
	mustExec(t, sh, "\\timing\nCREATE TABLE t (id INT PRIMARY KEY);\n\\timing off\nSELECT 1 AS one;\n\\q\nSELECT 2;")
	checkOutput(t, "stdout", sh.out.String(), `Timing is on.
CREATE TABLE
Time: 1.500 ms
Timing is off.
 one
-----
   1
(1 row)

`)
	sh.out.Reset()
	mustExec(t, sh, `\?`)
	if !strings.Contains(sh.out.String(), `\timing [on|off]`) {
		t.Fatalf("help: %s", sh.out)
	}
	if err := sh.Exec(context.Background(), `\d missing`); !errors.Is(err, ErrStatementFailed) {
		t.Fatalf(`\d missing = %v, want ErrStatementFailed`, err)
	}
	// A backslash at the start of a line inside a string is data.
	sh.out.Reset()
	mustExec(t, sh, "\\format csv\nSELECT 'a\n\\q' AS s;")
	checkOutput(t, "quoted", sh.out.String(), "Output format is csv.\ns\n\"a\n\\q\"\n")
}

func TestTrailingStatementWithoutSemicolonRuns(t *testing.T) {
	sh := newShell(t, newServer(t), Config{StopOnError: true})
	mustExec(t, sh, "SELECT 7 AS n -- no semicolon")
	checkOutput(t, "stdout", sh.out.String(), " n\n---\n 7\n(1 row)\n\n")
	sh.out.Reset()
	mustExec(t, sh, "-- only a comment\n")
	checkOutput(t, "comment only", sh.out.String(), "")
}

// scriptedReader feeds lines and reports an interrupt where a line is nil.
type scriptedReader struct {
	lines   []*string
	prompts []string
}

func (s *scriptedReader) ReadLine(prompt string) (string, error) {
	s.prompts = append(s.prompts, prompt)
	if len(s.lines) == 0 {
		return "", io.EOF
	}
	l := s.lines[0]
	s.lines = s.lines[1:]
	if l == nil {
		return "", ErrInterrupted
	}
	return *l, nil
}

func TestPromptsAndInterrupt(t *testing.T) {
	sh := newShell(t, newServer(t), Config{})
	str := func(s string) *string { return &s }
	r := &scriptedReader{lines: []*string{str("SELECT"), nil, str("SELECT"), str("3 AS x;")}}
	if err := sh.Run(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	checkOutput(t, "stdout", sh.out.String(), " x\n---\n 3\n(1 row)\n\n")
	want := []string{"phantom=> ", "phantom-> ", "phantom=> ", "phantom-> ", "phantom=> "}
	if strings.Join(r.prompts, "|") != strings.Join(want, "|") {
		t.Fatalf("prompts %q, want %q", r.prompts, want)
	}
}

func TestSessionExpiryReopens(t *testing.T) {
	srv := newServer(t)
	sh := newShell(t, srv, Config{})
	// Close the session behind the shell's back, as the idle reaper would.
	old := sh.client.current()
	req, _ := http.NewRequest(http.MethodDelete, sh.client.URL()+"/v1/sessions/"+old.ID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := sh.Exec(context.Background(), "SELECT 1 AS a;\nSELECT 2 AS b;"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sh.err.String(), "(SQLSTATE 08003)") || !strings.Contains(sh.err.String(), "opened a new one") {
		t.Fatalf("stderr: %s", sh.err)
	}
	checkOutput(t, "stdout", sh.out.String(), " b\n---\n 2\n(1 row)\n\n")
	if now := sh.client.current(); now == nil || now.ID == old.ID {
		t.Fatalf("session %v after reopen (old %q)", now, old.ID)
	}
}

// TestInterruptCancelsStatement runs a statement the server answers only
// when the request is cancelled, and interrupts it.
func TestInterruptCancelsStatement(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/sessions" {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"session":"s1"}`)
			return
		}
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var req struct{ Query string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Query == "SELECT 2" {
			fmt.Fprint(w, `{"columns":[{"name":"x","type":"int4"}],"rows":[[2]],"command":"SELECT 1","row_count":1}`)
			return
		}
		started <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	sh := newShell(t, srv, Config{})
	if sh.Interrupt() {
		t.Fatal("Interrupt with no statement in flight reported true")
	}
	go func() {
		<-started
		for !sh.Interrupt() {
			runtime.Gosched()
		}
	}()
	if err := sh.Exec(context.Background(), "SELECT pg_sleep(1000);\nSELECT 2;"); err != nil {
		t.Fatal(err)
	}
	checkOutput(t, "stderr", sh.err.String(), "ERROR:  canceling statement due to user request (SQLSTATE 57014)\n")
	checkOutput(t, "stdout", sh.out.String(), " x\n---\n 2\n(1 row)\n\n")
}

func TestPromptTracksTransaction(t *testing.T) {
	sh := newShell(t, newServer(t), Config{})
	str := func(s string) *string { return &s }
	r := &scriptedReader{lines: []*string{
		str("BEGIN;"), str("SELEC;"), str("SELECT"), str("1;"), str("ROLLBACK;"),
		str("BEGIN;"), str("SELECT 1;"), str("COMMIT;"),
	}}
	if err := sh.Run(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	want := []string{"phantom=> ", "phantom=*> ", "phantom=!> ", "phantom-!> ", "phantom=!> ", "phantom=> ",
		"phantom=*> ", "phantom=*> ", "phantom=> "}
	if strings.Join(r.prompts, "|") != strings.Join(want, "|") {
		t.Fatalf("prompts\n%q\nwant\n%q", r.prompts, want)
	}
	if !strings.Contains(sh.err.String(), "current transaction is aborted") {
		t.Fatalf("stderr: %s", sh.err)
	}
}

func TestIsTxEnd(t *testing.T) {
	for q, want := range map[string]bool{
		"COMMIT": true, "commit work": true, "END": true, "ROLLBACK": true, "abort": true,
		"ROLLBACK TO SAVEPOINT a": false, "BEGIN": false, "SELECT 1": false, "": false,
	} {
		if got := isTxEnd(q); got != want {
			t.Errorf("isTxEnd(%q) = %v, want %v", q, got, want)
		}
	}
}

func TestDescribeCommands(t *testing.T) {
	sh := newShell(t, newServer(t), Config{StopOnError: true})
	mustExec(t, sh, `CREATE TABLE films (id INT PRIMARY KEY, title VARCHAR(40) NOT NULL, year INT DEFAULT 2000);
CREATE INDEX films_year ON films (year);
CREATE VIEW recent AS SELECT * FROM films WHERE year > 2000;`)
	sh.out.Reset()
	mustExec(t, sh, "\\dt\n\\di\n\\d films\n")
	checkOutput(t, "stdout", sh.out.String(), `List of relations
 Schema | Name  | Type  |  Owner
--------+-------+-------+---------
 public | films | table | phantom
(1 row)

List of relations
 Schema |    Name    | Type  |  Owner
--------+------------+-------+---------
 public | films_pkey | index | phantom
 public | films_year | index | phantom
(2 rows)

Table "public.films"
 Column |         Type          | Nullable | Default
--------+-----------------------+----------+---------
 id     | integer               | not null |
 title  | character varying(40) | not null |
 year   | integer               |          | 2000
(3 rows)

Indexes:
    "films_pkey" btree (id)
    "films_year" btree (year)
`)
}
