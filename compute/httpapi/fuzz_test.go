package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

// FuzzSQLRequest feeds arbitrary bodies to POST /v1/sql and /v1/sql/batch:
// the server must answer JSON, never panic, and never answer 5xx for a bad
// request.
func FuzzSQLRequest(f *testing.F) {
	for _, seed := range []string{
		`{"query": "SELECT 1"}`,
		`{"query": "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)"}`,
		`{"query": "INSERT INTO t VALUES ($1, $2)", "params": [1, "x"]}`,
		`{"query": "SELECT $1::int", "params": [{"a": 1}]}`,
		`{"statements": [{"query": "SELECT 1"}]}`,
		`{"query": "SELECT 1", "timeout_ms": 99999999999999}`,
		`{"query": 1}`, `[]`, `null`, `{"query": "\u0000"}`, `{`,
	} {
		f.Add(seed)
	}
	kv, err := memkv.New(memkv.Config{})
	if err != nil {
		f.Fatal(err)
	}
	eng, err := sql.New(sql.Config{KV: kv, DatabaseID: 1})
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(Config{Executor: eng, Auth: NoAuth, MaxBodyBytes: 4096, NewSession: func() Session { return autocommit{eng} }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v1/sql", "/v1/sql/batch"} {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %q: answer is not JSON: %q", path, body, rec.Body.String())
			}
			if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("%s %q: status %d %s", path, body, rec.Code, rec.Body.String())
			}
		}
	})
}

// autocommit is a Session without transactions, for the fuzz target.
type autocommit struct{ e *sql.Engine }

func (a autocommit) Execute(ctx context.Context, q string, p []any) ([]*sql.Result, error) {
	return a.e.Execute(ctx, q, p)
}
func (autocommit) Close() {}
