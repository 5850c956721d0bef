package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// curlRun runs the real curl binary against the dev server with the dev
// API key, as docs/http-api.md shows, and returns the body and status.
func curlRun(t *testing.T, key string, args ...string) ([]byte, int) {
	t.Helper()
	path, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is not installed: the HTTP API test drives the real curl (apt-get install curl)")
	}
	full := []string{"-s", "-S", "-w", "\n%{http_code}"}
	if key != "" {
		full = append(full, "-H", "Authorization: Bearer "+key)
	}
	full = append(full, args...)
	out, err := exec.Command(path, full...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	i := bytes.LastIndexByte(out, '\n')
	var status int
	if _, err := fmt.Sscanf(string(out[i+1:]), "%d", &status); err != nil {
		t.Fatalf("curl %v: no status in %q", args, out[i+1:])
	}
	return out[:i], status
}

// TestCurlEveryEndpoint drives each HTTP endpoint with curl against a real
// `phantom dev` (API keys on): JSON, NDJSON streaming, Arrow IPC read back
// with arrow-go's reader, batches (all or nothing), sessions, errors.
func TestCurlEveryEndpoint(t *testing.T) {
	d := startSecureDev(t)
	base, key := d.info.SQLURL, d.info.APIKey
	post := func(path, body string, headers ...string) ([]byte, int) {
		args := []string{}
		for _, h := range headers {
			args = append(args, "-H", h)
		}
		return curlRun(t, key, append(args, base+path, "-d", body)...)
	}

	if b, st := post("/v1/sql", `{"query": "CREATE TABLE films (id INT PRIMARY KEY, title TEXT NOT NULL, year INT, rating DOUBLE PRECISION)"}`); st != 200 {
		t.Fatalf("create: %d %s", st, b)
	}
	if b, st := post("/v1/sql", `{"query": "INSERT INTO films VALUES (1, 'Alien', 1979, 8.5), (2, 'Heat', 1995, 8.3), (3, 'Up', 2009, NULL)"}`); st != 200 || !strings.Contains(string(b), `"INSERT 0 3"`) {
		t.Fatalf("insert: %d %s", st, b)
	}

	// JSON with parameters.
	b, st := post("/v1/sql", `{"query": "SELECT id, title FROM films WHERE year > $1 ORDER BY id", "params": [1990]}`)
	var res struct {
		Columns []struct{ Name, Type string }
		Rows    [][]any
		Command string
	}
	if st != 200 || json.Unmarshal(b, &res) != nil || fmt.Sprint(res.Rows) != "[[2 Heat] [3 Up]]" || res.Command != "SELECT 2" {
		t.Fatalf("select: %d %s", st, b)
	}

	// NDJSON: a columns line, one array per row, a trailer.
	b, st = post("/v1/sql", `{"query": "SELECT id, rating FROM films ORDER BY id"}`, "Accept: application/x-ndjson")
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if st != 200 || len(lines) != 5 || !strings.Contains(lines[0], `"columns"`) || lines[1] != "[1,8.5]" || lines[3] != "[3,null]" ||
		!strings.Contains(lines[4], `"row_count":3`) {
		t.Fatalf("ndjson: %d %q", st, lines)
	}

	// Arrow IPC stream, read back with arrow-go.
	b, st = post("/v1/sql", `{"query": "SELECT id, title, rating FROM films ORDER BY id"}`, "Accept: application/vnd.apache.arrow.stream")
	if st != 200 {
		t.Fatalf("arrow: %d %s", st, b)
	}
	rd, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("arrow reader: %v", err)
	}
	var titles []string
	var nullRatings int
	for rd.Next() {
		rec := rd.RecordBatch()
		tc := rec.Column(1).(*array.String)
		for i := range tc.Len() {
			titles = append(titles, tc.Value(i))
		}
		nullRatings += rec.Column(2).NullN()
	}
	rd.Release()
	if strings.Join(titles, ",") != "Alien,Heat,Up" || nullRatings != 1 {
		t.Fatalf("arrow rows: %v, %d NULL ratings", titles, nullRatings)
	}

	// A batch is all or nothing.
	b, st = post("/v1/sql/batch", `{"statements": [{"query": "UPDATE films SET year = year + 1 WHERE id = $1", "params": [1]}, {"query": "INSERT INTO films VALUES (1, 'dup', 0, 0)"}]}`)
	if st != 409 || !strings.Contains(string(b), `"23505"`) || !strings.Contains(string(b), `"statement":1`) {
		t.Fatalf("failing batch: %d %s", st, b)
	}
	if b, st = post("/v1/sql", `{"query": "SELECT year FROM films WHERE id = 1"}`); st != 200 || !strings.Contains(string(b), `[[1979]]`) {
		t.Fatalf("the failed batch left its UPDATE: %d %s", st, b)
	}
	if b, st = post("/v1/sql/batch", `{"statements": [{"query": "UPDATE films SET year = 1980 WHERE id = 1"}, {"query": "SELECT year FROM films WHERE id = 1"}]}`); st != 200 || !strings.Contains(string(b), `[[1980]]`) {
		t.Fatalf("batch: %d %s", st, b)
	}

	// Sessions: open, a transaction across requests, delete.
	b, st = curlRun(t, key, "-X", "POST", base+"/v1/sessions")
	var s struct{ Session string }
	if st != 201 || json.Unmarshal(b, &s) != nil || s.Session == "" {
		t.Fatalf("open session: %d %s", st, b)
	}
	for _, q := range []string{"BEGIN", "INSERT INTO films VALUES (4, 'Ran', 1985, 8.2)"} {
		if b, st := post("/v1/sql", fmt.Sprintf(`{"session": %q, "query": %q}`, s.Session, q)); st != 200 {
			t.Fatalf("%s: %d %s", q, st, b)
		}
	}
	if b, st = curlRun(t, key, "-X", "DELETE", base+"/v1/sessions/"+s.Session); st/100 != 2 {
		t.Fatalf("delete session: %d %s", st, b)
	}
	if b, st = post("/v1/sql", fmt.Sprintf(`{"session": %q, "query": "COMMIT"}`, s.Session)); st != 404 || !strings.Contains(string(b), `"08003"`) {
		t.Fatalf("deleted session: %d %s", st, b)
	}
	if b, st = post("/v1/sql", `{"query": "SELECT count(*) FROM films"}`); st != 200 || !strings.Contains(string(b), `[[3]]`) {
		t.Fatalf("deleting the session must roll back its transaction: %d %s", st, b)
	}

	// Errors: JSON bodies with SQLSTATE and position; no key is 401.
	if b, st = post("/v1/sql", `{"query": "SELEC 1"}`); st != 400 || !strings.Contains(string(b), `"code":"42601"`) || !strings.Contains(string(b), `"position":1`) {
		t.Fatalf("syntax error: %d %s", st, b)
	}
	if b, st = curlRun(t, "", base+"/v1/sql", "-d", `{"query": "SELECT 1"}`); st != 401 || !strings.Contains(string(b), `"28000"`) {
		t.Fatalf("no key: %d %s", st, b)
	}
	if b, st = curlRun(t, key, base+"/healthz"); st != 200 {
		t.Fatalf("healthz: %d %s", st, b)
	}
}
