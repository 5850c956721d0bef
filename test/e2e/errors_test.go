package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/test/cluster"
)

// TestSQLErrors checks that bad SQL answers the right SQLSTATE and HTTP status
// and that the server keeps serving afterwards.
func TestSQLErrors(t *testing.T) {
	p, url := startDev(t, t.TempDir(), cluster.FreePortBase(t, 11))
	cluster.MustSQL(t, url, "CREATE TABLE t (id INT PRIMARY KEY, name TEXT)")
	cluster.MustSQL(t, url, "INSERT INTO t VALUES (1, 'one')")

	cases := []struct {
		query    string
		code     string
		status   int
		position int
	}{
		{"SELEC 1", "42601", http.StatusBadRequest, 1},
		{"SELECT * FROM t WHERE", "42601", http.StatusBadRequest, 22},
		{"SELECT * FROM missing", "42P01", http.StatusBadRequest, 0},
		{"INSERT INTO t VALUES (1, 'again')", "23505", http.StatusConflict, 0},
		{"INSERT INTO t VALUES ('abc', 'x')", "22P02", http.StatusBadRequest, 0},
		{"SELECT nope FROM t", "42703", http.StatusBadRequest, 0},
		{"CREATE TABLE t (id INT PRIMARY KEY)", "42P07", http.StatusBadRequest, 0},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range cases {
		r, err := cluster.SQL(ctx, url, c.query)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		if r.Error == nil || r.Error.Code != c.code || r.Status != c.status {
			t.Errorf("%s: status %d error %+v, want %d %s", c.query, r.Status, r.Error, c.status, c.code)
			continue
		}
		if c.position != 0 && r.Error.Position != c.position {
			t.Errorf("%s: position %d, want %d", c.query, r.Error.Position, c.position)
		}
	}
	// Malformed HTTP bodies are 4xx with a JSON error, not crashes.
	for _, body := range []string{`{"query":`, `[]`, `{"query": "SELECT 1", "bogus": 1}`} {
		resp, err := http.Post(url+"/v1/sql", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("body %s: status %d, want 400", body, resp.StatusCode)
		}
	}
	// Still serving, and the failed statements changed nothing.
	r := cluster.MustSQL(t, url, "SELECT id, name FROM t")
	if len(r.Rows) != 1 || r.Rows[0][1] != "one" {
		t.Fatalf("after errors: %v", r.Rows)
	}
	p.Stop(30 * time.Second)
}
