package httpapi

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/compute/storage/memkv"
	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/timeline"
)

// The in-memory KV does not read a branch's parent (the page server does:
// test/e2e/branch_test.go runs the whole path); here a branch is an empty
// timeline, which is enough to see where "branch" sends the statements.
func TestBranchField(t *testing.T) {
	kv, err := memkv.New(memkv.Config{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := sql.New(sql.Config{KV: kv, DatabaseID: 1})
	if err != nil {
		t.Fatal(err)
	}
	url := newTestServer(t, Config{Executor: eng, NewSession: func() Session { return eng.NewSession() }}).URL
	snap, err := kv.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rec := timeline.Branch{Name: "dev", Database: 1, ID: 9, Parent: "main", ParentID: 1, ForkTS: snap.TS}
	if _, err := kv.Commit(t.Context(), snap, []storage.Mutation{{Key: keys.BranchKey(1, "dev"), Value: rec.Encode()}}, nil); err != nil {
		t.Fatal(err)
	}

	post(t, url, `{"query": "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)"}`)
	post(t, url, `{"query": "INSERT INTO t VALUES (1, 'main')"}`)
	if a := post(t, url, `{"query": "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)", "branch": "dev"}`); a.status != 200 {
		t.Fatalf("create on dev: %+v", a)
	}
	if a := post(t, url, `{"query": "INSERT INTO t VALUES (2, 'dev')", "branch": "dev"}`); a.status != 200 {
		t.Fatalf("insert on dev: %+v", a)
	}
	for _, c := range []struct{ branch, want string }{{`"dev"`, "[[2 dev]]"}, {`"main"`, "[[1 main]]"}, {`""`, "[[1 main]]"}} {
		if a := post(t, url, `{"query": "SELECT id, v FROM t", "branch": `+c.branch+`}`); a.status != 200 || fmt.Sprint(a.resp.Rows) != c.want {
			t.Fatalf("branch %s: %+v, want %s", c.branch, a, c.want)
		}
	}
	for _, body := range []string{
		`{"query": "SELECT 1", "branch": "ghost"}`,
		`{"query": "SELECT 1", "branch": "no'quotes"}`,
	} {
		if a := post(t, url, body); a.status != 404 || a.err.Code != "3D000" {
			t.Fatalf("%s: %+v, want 404 3D000", body, a)
		}
	}
	if a := post(t, url, `{"query": "SELECT 1", "branch": "dev", "session": "abc"}`); a.status != 400 || a.err.Code != "22023" {
		t.Fatalf("branch with session: %+v", a)
	}

	// A batch on the branch.
	resp, body := do(t, "POST", url+"/v1/sql/batch", `{"branch": "dev", "statements": [{"query": "INSERT INTO t VALUES (3, 'dev')"}, {"query": "SELECT count(*) FROM t"}]}`)
	if resp.StatusCode != 200 || !json.Valid(body) || string(body) == "" {
		t.Fatalf("batch on dev: %d %s", resp.StatusCode, body)
	}
	var br BatchResponse
	if err := json.Unmarshal(body, &br); err != nil || fmt.Sprint(br.Results[1].Rows) != "[[2]]" {
		t.Fatalf("batch on dev: %s", body)
	}

	// A session on the branch.
	resp, body = do(t, "POST", url+"/v1/sessions", `{"branch": "dev"}`)
	var sr SessionResponse
	if resp.StatusCode != 201 || json.Unmarshal(body, &sr) != nil {
		t.Fatalf("open a session on dev: %d %s", resp.StatusCode, body)
	}
	if a := post(t, url, `{"query": "SELECT count(*) FROM t", "session": "`+sr.Session+`"}`); a.status != 200 || fmt.Sprint(a.resp.Rows) != "[[2]]" {
		t.Fatalf("count in the dev session: %+v", a)
	}
	if resp, body = do(t, "POST", url+"/v1/sessions", `{"branch": "ghost"}`); resp.StatusCode != 404 {
		t.Fatalf("open a session on a missing branch: %d %s", resp.StatusCode, body)
	}
	if resp, body = do(t, "POST", url+"/v1/sessions", ``); resp.StatusCode != 201 {
		t.Fatalf("open a session without a body: %d %s", resp.StatusCode, body)
	}
	if resp, body = do(t, "POST", url+"/v1/sessions", `{"brunch": "dev"}`); resp.StatusCode != 400 {
		t.Fatalf("open a session with an unknown field: %d %s", resp.StatusCode, body)
	}
}
