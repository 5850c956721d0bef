package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

func newTestServer(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	if cfg.Executor == nil {
		kv, err := memkv.New(memkv.Config{})
		if err != nil {
			t.Fatal(err)
		}
		eng, err := sql.New(sql.Config{KV: kv, DatabaseID: 1})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Executor = eng
	}
	if cfg.Auth == nil {
		cfg.Auth = NoAuth
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return serve(t, s)
}

func serve(t *testing.T, s *Server) *httptest.Server {
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	resp   Response
	err    ErrorDetail
}

func post(t *testing.T, url, body string) answer {
	t.Helper()
	resp, err := http.Post(url+"/v1/sql", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	var raw struct {
		Response
		Error *ErrorDetail `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, resp: raw.Response}
	if raw.Error != nil {
		a.err = *raw.Error
	}
	return a
}

func TestSQLRoundTrip(t *testing.T) {
	srv := newTestServer(t, Config{})
	if a := post(t, srv.URL, `{"query": "CREATE TABLE t (id INT PRIMARY KEY, name TEXT, score DOUBLE PRECISION)"}`); a.status != 200 || a.resp.Command != "CREATE TABLE" {
		t.Fatalf("create: %+v", a)
	}
	a := post(t, srv.URL, `{"query": "INSERT INTO t VALUES (1, 'a', 0.5), (2, NULL, 'NaN'), (3, 'c', NULL)"}`)
	if a.status != 200 || a.resp.RowCount != 3 || a.resp.Command != "INSERT 0 3" {
		t.Fatalf("insert: %+v", a)
	}
	a = post(t, srv.URL, `{"query": "SELECT id, name, score FROM t WHERE id >= $1 ORDER BY id", "params": [2]}`)
	if a.status != 200 || a.resp.Command != "SELECT 2" || len(a.resp.Rows) != 2 {
		t.Fatalf("select: %+v", a)
	}
	if got := a.resp.Columns; len(got) != 3 || got[0] != (Column{"id", "int4"}) || got[1] != (Column{"name", "text"}) || got[2] != (Column{"score", "float8"}) {
		t.Fatalf("columns: %+v", got)
	}
	// NaN has no JSON form; it travels as PostgreSQL prints it.
	if r := a.resp.Rows[0]; r[0] != float64(2) || r[1] != nil || r[2] != "NaN" {
		t.Fatalf("row 0: %#v", r)
	}
	if r := a.resp.Rows[1]; r[0] != float64(3) || r[1] != "c" || r[2] != nil {
		t.Fatalf("row 1: %#v", r)
	}
	// Several statements: the answer describes the last one.
	a = post(t, srv.URL, `{"query": "INSERT INTO t VALUES (4, 'd', 1); SELECT count(*) FROM t"}`)
	if a.status != 200 || a.resp.Rows[0][0] != float64(4) {
		t.Fatalf("multi-statement: %+v", a)
	}
}

func TestErrors(t *testing.T) {
	srv := newTestServer(t, Config{MaxBodyBytes: 256})
	post(t, srv.URL, `{"query": "CREATE TABLE t (id INT PRIMARY KEY)"}`)
	post(t, srv.URL, `{"query": "INSERT INTO t VALUES (1)"}`)
	cases := []struct {
		body   string
		status int
		code   string
	}{
		{`{"query": "SELEC 1"}`, 400, "42601"},
		{`{"query": "SELECT * FROM nope"}`, 400, "42P01"},
		{`{"query": "INSERT INTO t VALUES (1)"}`, 409, "23505"},
		{`{"query": "INSERT INTO t VALUES ('x')"}`, 400, "22P02"},
		{`{"query": "SELECT 1/0"}`, 400, "22012"},
		{`{"query": ""}`, 400, "42601"},
		{`{"query": "SELECT 1", "database": "other"}`, 404, "3D000"},
		{`{"query": "SELECT 1", "unknown": true}`, 400, "08P01"},
		{`not json`, 400, "08P01"},
		{`{"query": "SELECT 1"} {}`, 400, "08P01"},
		{`{"query": "` + strings.Repeat("x", 300) + `"}`, 413, "54000"},
	}
	for _, c := range cases {
		a := post(t, srv.URL, c.body)
		if a.status != c.status || a.err.Code != c.code || a.err.Message == "" {
			t.Errorf("%.60s: got %d %+v, want %d %s", c.body, a.status, a.err, c.status, c.code)
		}
	}
	if a := post(t, srv.URL, `{"query": "SELEC 1"}`); a.err.Position != 1 {
		t.Errorf("syntax error position %d, want 1", a.err.Position)
	}
	if a := post(t, srv.URL, `{"query": "INSERT INTO t VALUES (1)"}`); !strings.Contains(a.err.Detail, "already exists") {
		t.Errorf("unique violation detail %q", a.err.Detail)
	}
	resp, err := http.Get(srv.URL + "/v1/sql")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/sql: %d", resp.StatusCode)
	}
}

// slowExecutor blocks until its context ends.
type slowExecutor struct{}

func (slowExecutor) Execute(ctx context.Context, _ string, _ []any) ([]*sql.Result, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestStatementTimeout(t *testing.T) {
	srv := newTestServer(t, Config{Executor: slowExecutor{}, StatementTimeout: 50 * time.Millisecond})
	a := post(t, srv.URL, `{"query": "SELECT 1"}`)
	if a.status != http.StatusRequestTimeout || a.err.Code != "57014" {
		t.Fatalf("timeout: %+v", a)
	}
}

func TestStatusFor(t *testing.T) {
	for code, want := range map[string]int{
		"42601": 400, "22P02": 400, "0A000": 400, "23505": 409, "40001": 409,
		"57014": 408, "54000": 413, "57P03": 503, "08007": 503, "53000": 503, "XX000": 500, "3D000": 404,
	} {
		if got := statusFor(code); got != want {
			t.Errorf("statusFor(%s) = %d, want %d", code, got, want)
		}
	}
}
