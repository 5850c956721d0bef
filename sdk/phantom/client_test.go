package phantom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/httpapi"
	"github.com/phantom-db/phantom/compute/httpapi/httpapitest"
)

// newServer serves the real HTTP API over a memkv-backed engine.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv, _ := httpapitest.NewServer(t, httpapi.Config{})
	return srv
}

func newClient(t *testing.T, url string, opts ...Option) *Client {
	t.Helper()
	c, err := New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustExec(t *testing.T, c *Client, q string, args ...any) ExecResult {
	t.Helper()
	r, err := c.Exec(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

func TestQueryTypedRows(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newServer(t).URL)
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, "CREATE TABLE t (id BIGINT PRIMARY KEY, small INT, name TEXT, score DOUBLE PRECISION, ok BOOLEAN)")
	r := mustExec(t, c, "INSERT INTO t VALUES ($1, $2, $3, $4, $5), (2, NULL, NULL, 'NaN', NULL)", 1, int32(7), "a", 0.5, true)
	if r.RowsAffected != 2 || r.Command != "INSERT 0 2" {
		t.Fatalf("insert: %+v", r)
	}
	res, err := c.Query(ctx, "SELECT id, small, name, score, ok FROM t WHERE id >= $1 ORDER BY id", int64(1))
	if err != nil {
		t.Fatal(err)
	}
	want := []Column{{"id", "int8"}, {"small", "int4"}, {"name", "text"}, {"score", "float8"}, {"ok", "bool"}}
	for i, col := range want {
		if res.Columns[i] != col {
			t.Fatalf("columns %+v", res.Columns)
		}
	}
	if res.RowCount != 2 || len(res.Rows) != 2 || res.Command != "SELECT 2" {
		t.Fatalf("result %+v", res)
	}
	row := res.Rows[0]
	if row[0] != int64(1) || row[1] != int64(7) || row[2] != "a" || row[3] != 0.5 || row[4] != true {
		t.Fatalf("row 0 %#v", row)
	}
	row = res.Rows[1]
	if row[0] != int64(2) || row[1] != nil || row[2] != nil || !math.IsNaN(row[3].(float64)) || row[4] != nil {
		t.Fatalf("row 1 %#v", row)
	}
	// A large int8 survives JSON exactly.
	res, err = c.Query(ctx, "SELECT $1::BIGINT", int64(math.MaxInt64))
	if err != nil || res.Rows[0][0] != int64(math.MaxInt64) {
		t.Fatalf("max int8: %v %v", res, err)
	}
	if _, err := c.Query(ctx, "SELECT $1", struct{}{}); !errors.Is(err, ErrInvalidArg) {
		t.Fatalf("bad arg: %v", err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newServer(t).URL)
	_, err := c.Query(ctx, "SELEC 1")
	var e *Error
	if !errors.As(err, &e) || e.Code != "42601" || e.Position != 1 || e.HTTPStatus != 400 || e.Statement != -1 {
		t.Fatalf("syntax error: %#v", err)
	}
	mustExec(t, c, "CREATE TABLE u (id INT PRIMARY KEY)")
	mustExec(t, c, "INSERT INTO u VALUES (1)")
	_, err = c.Exec(ctx, "INSERT INTO u VALUES (1)")
	if Code(err) != "23505" || !errors.As(err, &e) || e.HTTPStatus != 409 {
		t.Fatalf("unique violation: %v", err)
	}
	wrongDB := newClient(t, c.base.String(), WithDatabase("nope"))
	if _, err := wrongDB.Query(ctx, "SELECT 1"); Code(err) != "3D000" {
		t.Fatalf("wrong database: %v", err)
	}
}

func TestBatchAllOrNothing(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newServer(t).URL)
	mustExec(t, c, "CREATE TABLE acct (id INT PRIMARY KEY, bal BIGINT)")
	mustExec(t, c, "INSERT INTO acct VALUES (1, 100), (2, 0)")
	results, err := c.Batch(ctx, []Statement{
		{Query: "UPDATE acct SET bal = bal - $1 WHERE id = $2", Args: []any{10, 1}},
		{Query: "UPDATE acct SET bal = bal + $1 WHERE id = $2", Args: []any{10, 2}},
		{Query: "SELECT bal FROM acct WHERE id = 2"},
	})
	if err != nil || len(results) != 3 || results[0].RowCount != 1 || results[2].Rows[0][0] != int64(10) {
		t.Fatalf("batch: %+v %v", results, err)
	}
	_, err = c.Batch(ctx, []Statement{
		{Query: "UPDATE acct SET bal = bal - 50 WHERE id = 1"},
		{Query: "INSERT INTO acct VALUES (2, 0)"}, // duplicate key
	})
	var e *Error
	if !errors.As(err, &e) || e.Code != "23505" || e.Statement != 1 {
		t.Fatalf("failing batch: %v", err)
	}
	res, err := c.Query(ctx, "SELECT bal FROM acct WHERE id = 1")
	if err != nil || res.Rows[0][0] != int64(90) {
		t.Fatalf("batch not rolled back: %+v %v", res, err)
	}
}

func TestSession(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newServer(t).URL)
	mustExec(t, c, "CREATE TABLE s (id INT PRIMARY KEY)")
	sess, err := c.OpenSession(ctx)
	if err != nil || sess.ID == "" || sess.IdleTimeout <= 0 {
		t.Fatalf("open: %+v %v", sess, err)
	}
	for _, q := range []string{"BEGIN", "INSERT INTO s VALUES (1)"} {
		if _, err := sess.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// Not visible outside the open transaction, visible inside it.
	if res, _ := c.Query(ctx, "SELECT count(*) FROM s"); res.Rows[0][0] != int64(0) {
		t.Fatalf("uncommitted row visible: %+v", res)
	}
	if res, _ := sess.Query(ctx, "SELECT count(*) FROM s"); res.Rows[0][0] != int64(1) {
		t.Fatalf("own row invisible: %+v", res)
	}
	if _, err := sess.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if res, _ := c.Query(ctx, "SELECT count(*) FROM s"); res.Rows[0][0] != int64(1) {
		t.Fatalf("committed row invisible: %+v", res)
	}
	// Close rolls back an open transaction.
	_, _ = sess.Exec(ctx, "BEGIN")
	_, _ = sess.Exec(ctx, "INSERT INTO s VALUES (2)")
	if err := sess.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Query(ctx, "SELECT 1"); !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("closed session: %v", err)
	}
	if res, _ := c.Query(ctx, "SELECT count(*) FROM s"); res.Rows[0][0] != int64(1) {
		t.Fatalf("closed session's transaction committed: %+v", res)
	}
	// A session the server dropped answers 08003.
	gone := &Session{c: c, ID: "00"}
	if _, err := gone.Query(ctx, "SELECT 1"); Code(err) != "08003" {
		t.Fatalf("unknown session: %v", err)
	}
}

func TestQueryArrow(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, newServer(t).URL)
	mustExec(t, c, "CREATE TABLE a (id INT PRIMARY KEY, name TEXT)")
	mustExec(t, c, "INSERT INTO a VALUES (1, 'x'), (2, NULL), (3, 'z')")
	st, err := c.QueryArrow(ctx, "SELECT id, name FROM a WHERE id > $1 ORDER BY id", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Command != "SELECT 3" || st.RowCount != 3 || st.Schema().NumFields() != 2 {
		t.Fatalf("stream %q %d %v", st.Command, st.RowCount, st.Schema())
	}
	var ids []int32
	var nulls int
	for st.Next() {
		b := st.RecordBatch()
		idc := b.Column(0).(*array.Int32)
		names := b.Column(1).(*array.String)
		for i := 0; i < int(b.NumRows()); i++ {
			ids = append(ids, idc.Value(i))
			if names.IsNull(i) {
				nulls++
			}
		}
	}
	if st.Err() != nil || len(ids) != 3 || ids[0] != 1 || ids[2] != 3 || nulls != 1 {
		t.Fatalf("arrow rows %v nulls %d err %v", ids, nulls, st.Err())
	}
	if _, err := c.QueryArrow(ctx, "SELEC"); Code(err) != "42601" {
		t.Fatalf("arrow error: %v", err)
	}
}

// flaky answers the first n requests with a 503 carrying code, then
// forwards to next.
func flaky(n int32, code string, next http.Handler) (http.Handler, *atomic.Int32) {
	var calls atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"` + code + `","message":"injected"}}`))
			return
		}
		next.ServeHTTP(w, r)
	}), &calls
}

func TestRetryRules(t *testing.T) {
	ctx := context.Background()
	real := newServer(t)
	fast := WithRetry(RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	forward := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		real.Config.Handler.ServeHTTP(w, r)
	})
	for _, tc := range []struct {
		code      string
		fails     int32
		wantCalls int32
		wantErr   string
	}{
		{"57P03", 2, 3, ""},      // storage unavailable: retried
		{"53000", 3, 4, ""},      // overload: retried
		{"57P03", 9, 4, "57P03"}, // gives up after MaxAttempts
		{"08007", 1, 1, "08007"}, // commit outcome unknown: never retried
		{"XX000", 1, 1, "XX000"}, // other failures: not retried
	} {
		h, calls := flaky(tc.fails, tc.code, forward)
		srv := httptest.NewServer(h)
		c := newClient(t, srv.URL, fast)
		res, err := c.Query(ctx, "SELECT 1")
		if Code(err) != tc.wantErr || calls.Load() != tc.wantCalls {
			t.Errorf("%s x%d: err %v after %d calls; want %q after %d", tc.code, tc.fails, err, calls.Load(), tc.wantErr, tc.wantCalls)
		}
		if err == nil && res.Rows[0][0] != int64(1) {
			t.Errorf("%s: %+v", tc.code, res)
		}
		srv.Close()
	}
	// Inside a session a 57P03 may have aborted the transaction: not retried.
	h, calls := flaky(1, "57P03", forward)
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := newClient(t, srv.URL, fast)
	sess := &Session{c: c, ID: "00"}
	if _, err := sess.Query(ctx, "SELECT 1"); Code(err) != "57P03" || calls.Load() != 1 {
		t.Fatalf("session 57P03: %v after %d calls", err, calls.Load())
	}
	// A refused connection (nothing sent) is retried, then reported.
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	c = newClient(t, url, fast)
	if _, err := c.Query(ctx, "SELECT 1"); err == nil || Code(err) != "" {
		t.Fatalf("dead server: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, u := range []string{"ftp://x", "http://", "::"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := New("http://x", WithRetry(RetryPolicy{MaxAttempts: -1})); err == nil {
		t.Error("negative attempts accepted")
	}
}

func TestAPIKeyHeader(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, WithAPIKey("k1"))
	if err := c.Ping(context.Background()); err != nil || got.Load() != "Bearer k1" {
		t.Fatalf("auth header %v, err %v", got.Load(), err)
	}
}

func TestRawValuesKeepServerText(t *testing.T) {
	c := newClient(t, newServer(t).URL, WithRawValues())
	res, err := c.Query(context.Background(), "SELECT 1.50::NUMERIC(5,2), 7::INT, 'x', true, NULL")
	if err != nil {
		t.Fatal(err)
	}
	row := res.Rows[0]
	if n, ok := row[1].(json.Number); !ok || n.String() != "7" || row[2] != "x" || row[3] != true || row[4] != nil {
		t.Fatalf("raw row %#v", row)
	}
	if fmt.Sprint(row[0]) != "1.50" {
		t.Fatalf("numeric %#v lost the server's text", row[0])
	}
}
