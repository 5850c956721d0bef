package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// fakeSession records what it runs; a query containing "fail" errors.
type fakeSession struct {
	mu     sync.Mutex
	ran    []string
	closed bool
}

func (f *fakeSession) Execute(_ context.Context, q string, _ []any) ([]*sql.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = append(f.ran, q)
	if strings.Contains(q, "fail") {
		return nil, &sqlerr.Error{Code: "22012", Message: "division by zero"}
	}
	tag := strings.ToUpper(strings.Fields(q)[0])
	return []*sql.Result{{Command: tag}}, nil
}

func (f *fakeSession) Close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}

type fakeSessions struct {
	mu  sync.Mutex
	all []*fakeSession
}

func (fs *fakeSessions) new() Session {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	s := &fakeSession{}
	fs.all = append(fs.all, s)
	return s
}

func (fs *fakeSessions) last() *fakeSession {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.all[len(fs.all)-1]
}

func do(t *testing.T, method, url, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

func TestSessionsLifecycle(t *testing.T) {
	var fs fakeSessions
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := New(Config{Executor: slowExecutor{}, Auth: NoAuth, NewSession: fs.new, SessionIdleTimeout: time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := serve(t, s)

	resp, body := do(t, "POST", srv.URL+"/v1/sessions", "")
	var sr SessionResponse
	if resp.StatusCode != 201 || json.Unmarshal(body, &sr) != nil || len(sr.Session) != 32 {
		t.Fatalf("open session: %d %s", resp.StatusCode, body)
	}
	for _, q := range []string{"BEGIN", "INSERT x", "COMMIT"} {
		a := post(t, srv.URL, `{"query": "`+q+`", "session": "`+sr.Session+`"}`)
		if a.status != 200 || a.resp.Command != strings.Fields(q)[0] {
			t.Fatalf("%s: %+v", q, a)
		}
	}
	if got := strings.Join(fs.last().ran, ","); got != "BEGIN,INSERT x,COMMIT" {
		t.Fatalf("session ran %s", got)
	}
	if resp, _ := do(t, "DELETE", srv.URL+"/v1/sessions/"+sr.Session, ""); resp.StatusCode != 204 || !fs.last().closed {
		t.Fatalf("close session: %d closed=%v", resp.StatusCode, fs.last().closed)
	}
	if a := post(t, srv.URL, `{"query": "SELECT 1", "session": "`+sr.Session+`"}`); a.status != 404 || a.err.Code != "08003" {
		t.Fatalf("closed session: %+v", a)
	}
	if resp, _ := do(t, "DELETE", srv.URL+"/v1/sessions/"+sr.Session, ""); resp.StatusCode != 404 {
		t.Fatalf("double close: %d", resp.StatusCode)
	}

	// An idle session is closed (rolled back) after the timeout, a used one is not.
	_, body = do(t, "POST", srv.URL+"/v1/sessions", "")
	_ = json.Unmarshal(body, &sr)
	idle := fs.last()
	_, body = do(t, "POST", srv.URL+"/v1/sessions", "")
	var busy SessionResponse
	_ = json.Unmarshal(body, &busy)
	mu.Lock()
	now = now.Add(59 * time.Minute)
	mu.Unlock()
	post(t, srv.URL, `{"query": "SELECT 1", "session": "`+busy.Session+`"}`)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	s.sessions.reap()
	if !idle.closed {
		t.Fatal("idle session not closed after its timeout")
	}
	if a := post(t, srv.URL, `{"query": "SELECT 1", "session": "`+busy.Session+`"}`); a.status != 200 {
		t.Fatalf("recently used session was reaped: %+v", a)
	}
}

func TestBatch(t *testing.T) {
	var fs fakeSessions
	srv := newTestServer(t, Config{NewSession: fs.new})
	resp, body := do(t, "POST", srv.URL+"/v1/sql/batch", `{"statements": [{"query": "INSERT a"}, {"query": "UPDATE b", "params": [1]}]}`)
	var br BatchResponse
	if resp.StatusCode != 200 || json.Unmarshal(body, &br) != nil || len(br.Results) != 2 || br.Results[1].Command != "UPDATE" {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}
	if got := strings.Join(fs.last().ran, ","); got != "BEGIN,INSERT a,UPDATE b,COMMIT" || !fs.last().closed {
		t.Fatalf("batch ran %s closed=%v", got, fs.last().closed)
	}
	resp, body = do(t, "POST", srv.URL+"/v1/sql/batch", `{"statements": [{"query": "INSERT a"}, {"query": "INSERT fail"}, {"query": "INSERT c"}]}`)
	var eb struct{ Error ErrorDetail }
	if resp.StatusCode != 400 || json.Unmarshal(body, &eb) != nil || eb.Error.Code != "22012" || eb.Error.Statement == nil || *eb.Error.Statement != 1 {
		t.Fatalf("failed batch: %d %s", resp.StatusCode, body)
	}
	if got := strings.Join(fs.last().ran, ","); got != "BEGIN,INSERT a,INSERT fail" || !fs.last().closed {
		t.Fatalf("failed batch ran %s closed=%v (must stop and roll back)", got, fs.last().closed)
	}
	if resp, _ := do(t, "POST", srv.URL+"/v1/sql/batch", `{"statements": []}`); resp.StatusCode != 400 {
		t.Fatalf("empty batch: %d", resp.StatusCode)
	}
	noSessions := newTestServer(t, Config{})
	if resp, _ := do(t, "POST", noSessions.URL+"/v1/sessions", ""); resp.StatusCode != 501 {
		t.Fatalf("sessions disabled: %d", resp.StatusCode)
	}
}

func TestStreamingFormats(t *testing.T) {
	srv := newTestServer(t, Config{})
	post(t, srv.URL, `{"query": "CREATE TABLE t (id INT PRIMARY KEY, name TEXT)"}`)
	var values []string
	for i := 0; i < 3000; i++ {
		values = append(values, "("+itoa(i)+", 'n"+itoa(i)+"')")
	}
	post(t, srv.URL, `{"query": "INSERT INTO t VALUES `+strings.Join(values, ",")+`"}`)

	query := `{"query": "SELECT id, name FROM t ORDER BY id"}`
	req, _ := http.NewRequest("POST", srv.URL+"/v1/sql", strings.NewReader(query))
	req.Header.Set("Accept", MediaNDJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != MediaNDJSON || len(lines) != 3002 {
		t.Fatalf("ndjson: %s, %d lines", resp.Header.Get("Content-Type"), len(lines))
	}
	if lines[0] != `{"columns":[{"name":"id","type":"int4"},{"name":"name","type":"text"}]}` || lines[2999+1] != `[2999,"n2999"]` ||
		!strings.HasPrefix(lines[3001], `{"command":"SELECT 3000","row_count":3000`) {
		t.Fatalf("ndjson lines: %s / %s / %s", lines[0], lines[3000], lines[3001])
	}

	req, _ = http.NewRequest("POST", srv.URL+"/v1/sql", strings.NewReader(query))
	req.Header.Set("Accept", MediaArrow)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Phantom-Command") != "SELECT 3000" {
		t.Fatalf("arrow headers: %v", resp.Header)
	}
	rd, err := ipc.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	n := 0
	for rd.Next() {
		rec := rd.RecordBatch()
		ids := rec.Column(0).(*array.Int32)
		names := rec.Column(1).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			if int(ids.Value(i)) != n || names.Value(i) != "n"+itoa(n) {
				t.Fatalf("arrow row %d: %d %s", n, ids.Value(i), names.Value(i))
			}
			n++
		}
	}
	if rd.Err() != nil || n != 3000 {
		t.Fatalf("arrow: %d rows, err %v", n, rd.Err())
	}

	// An empty result still carries its schema.
	req, _ = http.NewRequest("POST", srv.URL+"/v1/sql", strings.NewReader(`{"query": "SELECT id FROM t WHERE id < 0"}`))
	req.Header.Set("Accept", MediaArrow)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	rd2, err := ipc.NewReader(resp2.Body)
	if err != nil {
		t.Fatal(err)
	}
	defer rd2.Release()
	if rd2.Schema().NumFields() != 1 || rd2.Schema().Field(0).Name != "id" || rd2.Next() {
		t.Fatalf("empty arrow result: %v", rd2.Schema())
	}
}

func TestTimeoutMS(t *testing.T) {
	srv := newTestServer(t, Config{Executor: slowExecutor{}, StatementTimeout: time.Hour})
	if a := post(t, srv.URL, `{"query": "SELECT 1", "timeout_ms": 30}`); a.status != 408 || a.err.Code != "57014" {
		t.Fatalf("timeout_ms: %+v", a)
	}
	if a := post(t, srv.URL, `{"query": "SELECT 1", "timeout_ms": -1}`); a.status != 400 {
		t.Fatalf("negative timeout_ms: %+v", a)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
