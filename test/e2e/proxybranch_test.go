package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phantom-db/phantom/test/cluster"
)

// proxySQL posts body to the proxy's /v1/sql with headers and answers the
// result and the compute that served it (Phantom-Compute).
func proxySQL(t *testing.T, url string, body map[string]any, hdr map[string]string) (*cluster.Result, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/sql", bytes.NewReader(b))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r cluster.Result
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%v: decode %s: %v", body, resp.Status, err)
	}
	r.Status = resp.StatusCode
	return &r, resp.Header.Get("Phantom-Compute")
}

// metricValue answers the sum of the samples of metric name on a /metrics
// page.
func metricValue(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != ' ' && line[len(name)] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// TestBranchThroughProxy creates a branch through the REST API, gives it an
// endpoint of its own, and queries it through the proxy over HTTP (body
// "branch", header, "db@branch") and PostgreSQL ("db@branch", SET
// phantom.branch): its writes are isolated from main. A second branch
// without an endpoint is served by main's computes. Deleting the branch
// stops its compute, queries on it answer 3D000, and the page server drops
// its rows once the deletion is older than its retention window.
func TestBranchThroughProxy(t *testing.T) {
	e := startElasticWith(t, elasticOpts{
		pageArgs: []string{"--retention", "3s", "--gc-grace", "1s", "--gc-interval", "500ms", "--node-id", "page-1"},
		cpArgs:   []string{"--retention", "3s"}})
	e.createEndpoint(t, `{"name":"main","min_computes":1,"max_computes":1}`)
	e.waitComputes(t, "main", "main ready", 60*time.Second, func(r, a int) bool { return r == 1 })
	mainCompute := e.computeList(t, "main")[0].ID
	mustPost(t, e.proxyURL, map[string]any{"query": "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)"})
	mustPost(t, e.proxyURL, map[string]any{"query": "INSERT INTO t VALUES (1, 'a'), (2, 'b')"})

	branches := e.cpURL + "/v1/tenants/default/databases/phantom/branches"
	if code, m := restJSONToken(t, cluster.TestAdminToken, "POST", branches, `{"name": "dev"}`); code != http.StatusCreated {
		t.Fatalf("create branch dev: %d %v", code, m)
	}
	e.createEndpoint(t, `{"name":"dev","branch":"dev","min_computes":1,"max_computes":1}`)
	e.waitComputes(t, "dev", "dev ready", 60*time.Second, func(r, a int) bool { return r == 1 })
	devCompute := e.computeList(t, "dev")[0]

	const q = "SELECT id, v FROM t ORDER BY id"
	// Until the proxy's endpoint cache (2 s) lists dev's endpoint, dev is
	// served by main's compute (with the same answers).
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, by := proxySQL(t, e.proxyURL, map[string]any{"query": q, "branch": "dev"}, nil)
		if r.Status != 200 || rowsText(r) != "1=a,2=b" {
			t.Fatalf("dev right after the fork: %d %+v %s", r.Status, r.Error, rowsText(r))
		}
		if by == devCompute.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev still served by %s", by)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, w := range []string{"INSERT INTO t VALUES (3, 'dev')", "UPDATE t SET v = 'dev' WHERE id = 1"} {
		if r, by := proxySQL(t, e.proxyURL, map[string]any{"query": w, "branch": "dev"}, nil); r.Status != 200 || by != devCompute.ID {
			t.Fatalf("%s on dev: %d %+v served by %s", w, r.Status, r.Error, by)
		}
	}
	for name, c := range map[string]struct {
		body map[string]any
		hdr  map[string]string
	}{
		"body branch": {map[string]any{"query": q, "branch": "dev"}, nil},
		"header":      {map[string]any{"query": q}, map[string]string{"Phantom-Branch": "dev"}},
		"db@branch":   {map[string]any{"query": q, "database": "phantom@dev"}, nil},
	} {
		r, by := proxySQL(t, e.proxyURL, c.body, c.hdr)
		if r.Status != 200 || rowsText(r) != "1=dev,2=b,3=dev" || by != devCompute.ID {
			t.Fatalf("dev by %s: %d %+v %s served by %s", name, r.Status, r.Error, rowsText(r), by)
		}
	}
	if r, by := proxySQL(t, e.proxyURL, map[string]any{"query": q}, nil); rowsText(r) != "1=a,2=b" || by != mainCompute {
		t.Fatalf("main: %s served by %s", rowsText(r), by)
	}

	// PostgreSQL: "db@branch" (the proxy runs SET phantom.branch) and SET
	// in a session on main.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pgRows := func(conn *pgx.Conn) string {
		t.Helper()
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for rows.Next() {
			var id int
			var v string
			if err := rows.Scan(&id, &v); err != nil {
				t.Fatal(err)
			}
			parts = append(parts, fmt.Sprintf("%d=%s", id, v))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(parts, ",")
	}
	conn, err := pgx.Connect(ctx, "postgres://phantom@"+e.proxyPG+"/phantom@dev?sslmode=disable")
	if err != nil {
		t.Fatalf("pgx phantom@dev: %v", err)
	}
	if got := pgRows(conn); got != "1=dev,2=b,3=dev" {
		t.Fatalf("pgx on phantom@dev: %s", got)
	}
	conn.Close(ctx)
	conn, err = pgx.Connect(ctx, "postgres://phantom@"+e.proxyPG+"/phantom?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if got := pgRows(conn); got != "1=a,2=b" {
		t.Fatalf("pgx on main: %s", got)
	}
	if _, err := conn.Exec(ctx, "SET phantom.branch = 'dev'"); err != nil {
		t.Fatal(err)
	}
	if got := pgRows(conn); got != "1=dev,2=b,3=dev" {
		t.Fatalf("pgx after SET phantom.branch: %s", got)
	}
	conn.Close(ctx)

	// A branch without an endpoint of its own runs on main's computes.
	if code, m := restJSONToken(t, cluster.TestAdminToken, "POST", branches, `{"name": "feat"}`); code != http.StatusCreated {
		t.Fatalf("create branch feat: %d %v", code, m)
	}
	mustPost(t, e.proxyURL, map[string]any{"query": "INSERT INTO t VALUES (4, 'feat')", "branch": "feat"})
	if r, by := proxySQL(t, e.proxyURL, map[string]any{"query": q, "branch": "feat"}, nil); rowsText(r) != "1=a,2=b,4=feat" || by != mainCompute {
		t.Fatalf("feat: %d %s served by %s", r.Status, rowsText(r), by)
	}

	// Delete dev: its endpoint and compute go, queries on it answer 3D000.
	before := metricValue(t, "http://"+e.pageHTTP+"/metrics", "phantom_pageserver_gc_deleted_branch_versions_total")
	if code, m := restJSONToken(t, cluster.TestAdminToken, "DELETE", branches+"/dev", ``); code != http.StatusNoContent {
		t.Fatalf("delete dev: %d %v", code, m)
	}
	if code, _ := restJSONToken(t, cluster.TestAdminToken, "GET", e.endpointsBaseURL+"/dev", ``); code != http.StatusNotFound {
		t.Fatalf("dev's endpoint after deleting the branch: %d, want 404", code)
	}
	deadline = time.Now().Add(30 * time.Second)
	for syscall.Kill(devCompute.PID, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("dev's compute (pid %d) still runs 30 s after the branch was deleted", devCompute.PID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range []struct {
		body map[string]any
		hdr  map[string]string
	}{
		{map[string]any{"query": q, "branch": "dev"}, nil},
		{map[string]any{"query": q}, map[string]string{"Phantom-Branch": "dev"}},
	} {
		r, _ := proxySQL(t, e.proxyURL, c.body, c.hdr)
		wantError(t, "query on the deleted branch", r, http.StatusNotFound, "3D000")
	}
	if _, err := pgx.Connect(ctx, "postgres://phantom@"+e.proxyPG+"/phantom@dev?sslmode=disable"); err == nil || !strings.Contains(err.Error(), "3D000") {
		t.Fatalf("pgx on the deleted branch: %v, want SQLSTATE 3D000", err)
	}

	// Its rows are dropped once the deletion is older than retention +
	// grace (4 s here); main and feat keep theirs.
	deadline = time.Now().Add(30 * time.Second)
	var released float64
	for released = metricValue(t, "http://"+e.pageHTTP+"/metrics", "phantom_pageserver_gc_deleted_branch_versions_total") - before; released < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the deleted branch's rows were not garbage-collected within 30 s (%v versions)\npage server:\n%s", released, e.page.Log())
		}
		time.Sleep(200 * time.Millisecond)
		released = metricValue(t, "http://"+e.pageHTTP+"/metrics", "phantom_pageserver_gc_deleted_branch_versions_total") - before
	}
	t.Logf("page server dropped %v versions of the deleted branch", released)
	if got := rowsText(mustPost(t, e.proxyURL, map[string]any{"query": q})); got != "1=a,2=b" {
		t.Fatalf("main after the branch GC: %s", got)
	}
	if got := rowsText(mustPost(t, e.proxyURL, map[string]any{"query": q, "branch": "feat"})); got != "1=a,2=b,4=feat" {
		t.Fatalf("feat after the branch GC: %s", got)
	}
}
