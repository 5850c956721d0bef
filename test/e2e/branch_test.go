package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/phantom-db/phantom/test/cluster"
)

// restJSON sends a JSON request to the control plane and decodes the
// answer (if any), whatever its status.
func restJSON(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	return restJSONToken(t, "", method, url, body)
}

// restJSONToken is restJSON with a bearer token (the control plane's
// admin token).
func restJSONToken(t *testing.T, token, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if resp.StatusCode != http.StatusNoContent {
		dec := json.NewDecoder(resp.Body)
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s %s: decode %s answer: %v", method, url, resp.Status, err)
		}
	}
	return resp.StatusCode, m
}

// TestBranches runs `phantom dev`, forks a branch in the past through the
// control plane's REST API, writes to the database and to the branch over
// HTTP ("branch"), checks that each sees only its own writes after the
// fork (also after a restart), and deletes the branch.
func TestBranches(t *testing.T) {
	base := cluster.FreePortBase(t, 11)
	dataDir := t.TempDir()
	p, url := startDev(t, dataDir, base)
	defer p.Stop(30 * time.Second)
	var info struct {
		ControlPlane string `json:"control_plane_url"`
		AdminToken   string `json:"admin_token"`
	}
	b, err := os.ReadFile(filepath.Join(dataDir, "dev.json"))
	if err != nil || json.Unmarshal(b, &info) != nil || info.ControlPlane == "" {
		t.Fatalf("dev.json: %v %s", err, b)
	}
	branches := info.ControlPlane + "/v1/tenants/default/databases/phantom/branches"

	mustPost(t, url, map[string]any{"query": "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)"})
	var open struct {
		Session string `json:"session"`
	}
	code, m := restJSON(t, "POST", url+"/v1/sessions", ``)
	if code != http.StatusCreated {
		t.Fatalf("open session: %d %v", code, m)
	}
	open.Session = fmt.Sprint(m["session"])
	mustPost(t, url, map[string]any{"session": open.Session, "query": "INSERT INTO t VALUES (1, 'a'), (2, 'b')"})
	forkAt := fmt.Sprint(mustPost(t, url, map[string]any{"session": open.Session, "query": "SHOW phantom.last_commit_ts"}).Rows[0][0])
	// The database moves on after the fork point.
	mustPost(t, url, map[string]any{"query": "UPDATE t SET v = 'main' WHERE id = 1"})
	mustPost(t, url, map[string]any{"query": "INSERT INTO t VALUES (3, 'main')"})

	// Fork at the past timestamp, then read the branch: the table as it was.
	start := time.Now()
	code, m = restJSONToken(t, info.AdminToken, "POST", branches, `{"name": "dev", "at": `+forkAt+`}`)
	took := time.Since(start)
	if code != http.StatusCreated || fmt.Sprint(m["fork_ts"]) != forkAt || m["parent"] != "main" {
		t.Fatalf("create branch dev at %s: %d %v", forkAt, code, m)
	}
	t.Logf("branch created through the control plane in %s", took)
	const q = "SELECT id, v FROM t ORDER BY id"
	if got := rowsText(mustPost(t, url, map[string]any{"query": q, "branch": "dev"})); got != "1=a,2=b" {
		t.Fatalf("dev right after the fork: %s, want 1=a,2=b", got)
	}

	// Write to both; each sees only its own writes.
	mustPost(t, url, map[string]any{"branch": "dev", "query": "INSERT INTO t VALUES (4, 'dev')"})
	mustPost(t, url, map[string]any{"branch": "dev", "query": "UPDATE t SET v = 'dev' WHERE id = 2"})
	mustPost(t, url, map[string]any{"branch": "dev", "query": "DELETE FROM t WHERE id = 1"})
	mustPost(t, url, map[string]any{"query": "INSERT INTO t VALUES (5, 'main')"})
	check := func() {
		t.Helper()
		if got := rowsText(mustPost(t, url, map[string]any{"query": q, "branch": "dev"})); got != "2=dev,4=dev" {
			t.Fatalf("dev: %s, want 2=dev,4=dev", got)
		}
		for _, br := range []string{"", "main"} {
			if got := rowsText(mustPost(t, url, map[string]any{"query": q, "branch": br})); got != "1=main,2=b,3=main,5=main" {
				t.Fatalf("main (branch %q): %s, want 1=main,2=b,3=main,5=main", br, got)
			}
		}
		// A session opened on the branch, and SET in a session.
		code, m := restJSON(t, "POST", url+"/v1/sessions", `{"branch": "dev"}`)
		if code != http.StatusCreated {
			t.Fatalf("open a session on dev: %d %v", code, m)
		}
		if got := rowsText(mustPost(t, url, map[string]any{"query": q, "session": m["session"]})); got != "2=dev,4=dev" {
			t.Fatalf("session on dev: %s", got)
		}
		mustPost(t, url, map[string]any{"session": open.Session, "query": "SET phantom.branch = 'dev'"})
		if got := rowsText(mustPost(t, url, map[string]any{"query": q, "session": open.Session})); got != "2=dev,4=dev" {
			t.Fatalf("SET phantom.branch = 'dev': %s", got)
		}
		mustPost(t, url, map[string]any{"session": open.Session, "query": "RESET phantom.branch"})
	}
	check()

	// Errors: an unknown branch, a fork in the future, a duplicate name.
	wantError(t, "unknown branch", postSQL(t, url, map[string]any{"query": q, "branch": "ghost"}), http.StatusNotFound, "3D000")
	future := strconv.FormatUint((uint64(time.Now().Add(time.Hour).UnixMilli()) << 18), 10)
	if code, m = restJSONToken(t, info.AdminToken, "POST", branches, `{"name": "later", "at": `+future+`}`); code != http.StatusBadRequest {
		t.Fatalf("fork in the future: %d %v", code, m)
	}
	if code, m = restJSONToken(t, info.AdminToken, "POST", branches, `{"name": "dev"}`); code != http.StatusConflict {
		t.Fatalf("duplicate branch: %d %v", code, m)
	}

	// The branch survives a restart (the timeline is ordinary data).
	p.Stop(30 * time.Second)
	p, url = startDev(t, dataDir, base)
	defer p.Stop(30 * time.Second)
	code, m = restJSON(t, "POST", url+"/v1/sessions", ``)
	if code != http.StatusCreated {
		t.Fatalf("open session after restart: %d %v", code, m)
	}
	open.Session = fmt.Sprint(m["session"])
	check()

	// A branch of the branch; its parent cannot be deleted while it lives.
	if code, m = restJSONToken(t, info.AdminToken, "POST", branches, `{"name": "sub", "parent": "dev"}`); code != http.StatusCreated {
		t.Fatalf("create sub: %d %v", code, m)
	}
	mustPost(t, url, map[string]any{"branch": "sub", "query": "INSERT INTO t VALUES (6, 'sub')"})
	if got := rowsText(mustPost(t, url, map[string]any{"query": q, "branch": "sub"})); got != "2=dev,4=dev,6=sub" {
		t.Fatalf("sub: %s", got)
	}
	if code, m = restJSONToken(t, info.AdminToken, "GET", branches, ``); code != http.StatusOK || len(m["branches"].([]any)) != 2 {
		t.Fatalf("list: %d %v", code, m)
	}
	if code, m = restJSONToken(t, info.AdminToken, "DELETE", branches+"/dev", ``); code != http.StatusConflict {
		t.Fatalf("delete dev under sub: %d %v", code, m)
	}
	if code, m = restJSONToken(t, info.AdminToken, "POST", branches+"/dev/reset", ``); code != http.StatusConflict {
		t.Fatalf("reset dev under sub: %d %v", code, m)
	}

	// Reset to the parent: sub's own writes are gone and it reads dev as
	// dev is now; a session already on the branch sees the reset at its
	// next statement.
	code, m = restJSON(t, "POST", url+"/v1/sessions", `{"branch": "sub"}`)
	if code != http.StatusCreated {
		t.Fatalf("open a session on sub: %d %v", code, m)
	}
	onSub := m["session"]
	mustPost(t, url, map[string]any{"branch": "dev", "query": "INSERT INTO t VALUES (7, 'dev')"})
	code, m = restJSONToken(t, info.AdminToken, "POST", branches+"/sub/reset", ``)
	if code != http.StatusOK || m["parent"] != "dev" || fmt.Sprint(m["id"]) == "" {
		t.Fatalf("reset sub: %d %v", code, m)
	}
	for _, where := range []map[string]any{{"branch": "sub"}, {"session": onSub}} {
		where["query"] = q
		if got := rowsText(mustPost(t, url, where)); got != "2=dev,4=dev,7=dev" {
			t.Fatalf("sub after its reset (%v): %s, want 2=dev,4=dev,7=dev", where, got)
		}
	}
	mustPost(t, url, map[string]any{"branch": "sub", "query": "INSERT INTO t VALUES (8, 'sub')"})
	if got := rowsText(mustPost(t, url, map[string]any{"query": q, "branch": "dev"})); got != "2=dev,4=dev,7=dev" {
		t.Fatalf("dev after writing to the reset sub: %s", got)
	}
	if code, m = restJSONToken(t, info.AdminToken, "POST", branches+"/ghost/reset", ``); code != http.StatusNotFound {
		t.Fatalf("reset of an unknown branch: %d %v", code, m)
	}

	for _, name := range []string{"sub", "dev"} {
		if code, m = restJSONToken(t, info.AdminToken, "DELETE", branches+"/"+name, ``); code != http.StatusNoContent {
			t.Fatalf("delete %s: %d %v", name, code, m)
		}
	}
	wantError(t, "deleted branch", postSQL(t, url, map[string]any{"query": q, "branch": "dev"}), http.StatusNotFound, "3D000")
	if got := rowsText(mustPost(t, url, map[string]any{"query": q})); got != "1=main,2=b,3=main,5=main" {
		t.Fatalf("main after deleting the branches: %s", got)
	}
}
