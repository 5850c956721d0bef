package httpapi

import (
	"fmt"
	"testing"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

// newEngineServer serves a real engine over memkv, sessions enabled.
func newEngineServer(t *testing.T) (string, *sql.Engine) {
	t.Helper()
	kv, err := memkv.New(memkv.Config{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := sql.New(sql.Config{KV: kv, DatabaseID: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, Config{Executor: eng, NewSession: func() Session { return eng.NewSession() }})
	return srv.URL, eng
}

func TestAsOf(t *testing.T) {
	url, eng := newEngineServer(t)
	post(t, url, `{"query": "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)"}`)
	// Commit timestamps come from a session's phantom.last_commit_ts.
	sess := eng.NewSession()
	defer sess.Close()
	var at []string
	for _, q := range []string{"INSERT INTO t VALUES (1, 'a')", "UPDATE t SET v = 'b'", "DELETE FROM t"} {
		res, err := sess.Execute(t.Context(), q+"; SHOW phantom.last_commit_ts", nil)
		if err != nil {
			t.Fatal(err)
		}
		at = append(at, fmt.Sprint(res[1].Rows()[0][0]))
		for _, r := range res {
			r.Release()
		}
	}
	want := []string{"[[1 a]]", "[[1 b]]", "[]"}
	for i, ts := range at {
		for _, asOf := range []string{ts, `"` + ts + `"`} { // number or string
			a := post(t, url, `{"query": "SELECT id, v FROM t", "as_of": `+asOf+`}`)
			if a.status != 200 || fmt.Sprint(a.resp.Rows) != want[i] {
				t.Fatalf("as_of %s: %+v, want rows %s", asOf, a, want[i])
			}
		}
	}
	if a := post(t, url, `{"query": "SELECT id, v FROM t"}`); a.status != 200 || len(a.resp.Rows) != 0 {
		t.Fatalf("present: %+v", a)
	}
	// A write reading in the past is refused like any read-only write: 403.
	if a := post(t, url, `{"query": "INSERT INTO t VALUES (2, 'x')", "as_of": `+at[0]+`}`); a.status != 403 || a.err.Code != "25006" {
		t.Fatalf("write as of the past: %+v, want 403 25006", a)
	}
	for _, c := range []struct{ body, code string }{
		{`{"query": "SELECT 1", "as_of": "999999999999999999"}`, "22023"}, // the future
		{`{"query": "SELECT 1", "as_of": "last tuesday"}`, "22023"},
		{`{"query": "SELECT 1", "as_of": true}`, "22023"},
		{`{"query": "SELECT 1", "as_of": 1.5}`, "22023"},
		{`{"query": "SELECT 1", "as_of": "` + at[0] + `", "session": "abc"}`, "22023"},
	} {
		if a := post(t, url, c.body); a.status != 400 || a.err.Code != c.code {
			t.Fatalf("%s: %+v, want 400 %s", c.body, a, c.code)
		}
	}
	// The rejected write wrote nothing.
	if a := post(t, url, `{"query": "SELECT count(*) FROM t"}`); fmt.Sprint(a.resp.Rows) != "[[0]]" {
		t.Fatalf("after rejected write: %+v", a)
	}
}

func TestAsOfNeedsSessions(t *testing.T) {
	srv := newTestServer(t, Config{})
	if a := post(t, srv.URL, `{"query": "SELECT 1", "as_of": "2026-12-02T00:30:00Z"}`); a.status != 501 || a.err.Code != "0A000" {
		t.Fatalf("as_of without sessions: %+v", a)
	}
}
