package phantom

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestNoRetryAfterSent: a connection dropped after the server read the
// request may have run it, so the client reports the failure instead of
// running it again.
func TestNoRetryAfterSent(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, WithRetry(RetryPolicy{MaxAttempts: 5, InitialBackoff: time.Millisecond}))
	if _, err := c.Exec(context.Background(), "INSERT INTO t VALUES (1)"); err == nil || Code(err) != "" {
		t.Fatalf("dropped connection: %v", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("request sent %d times", calls.Load())
	}
}

// TestOpenSessionRetriesTooMany: 53300 (too many sessions) is retried when
// opening a session, where nothing ran.
func TestOpenSessionRetriesTooMany(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"code":"53300","message":"too many open sessions"}}`))
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"session":"ab","idle_timeout_ms":1000}`))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, WithRetry(RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond}))
	s, err := c.OpenSession(context.Background())
	if err != nil || s.ID != "ab" || s.IdleTimeout != time.Second || calls.Load() != 2 {
		t.Fatalf("open: %+v %v after %d calls", s, err, calls.Load())
	}
}

// TestNonAPIErrorBody: an error page that is not an API error still yields
// an *Error with the HTTP status.
func TestNonAPIErrorBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	_, err := c.Query(context.Background(), "SELECT 1")
	e, ok := err.(*Error)
	if !ok || e.HTTPStatus != 502 || e.Code != "" || !strings.Contains(e.Message, "bad gateway") {
		t.Fatalf("%#v", err)
	}
}

// FuzzDecodeResult: any answer body decodes to a result or an error,
// never a panic, and decoded values have the documented Go types.
func FuzzDecodeResult(f *testing.F) {
	for _, seed := range []string{
		`{"columns":[{"name":"a","type":"int4"}],"rows":[[1],[null]],"command":"SELECT 2","row_count":2}`,
		`{"columns":[{"name":"f","type":"float8"}],"rows":[["NaN"],[1.5],["-Infinity"]]}`,
		`{"columns":[{"name":"b","type":"bool"},{"name":"t","type":"text"}],"rows":[[true,"x"]]}`,
		`{"columns":[{"name":"a","type":"int8"}],"rows":[[1.5]]}`,
		`{"columns":[{"name":"a","type":"weird"}],"rows":[[1e400]]}`,
		`{"columns":[],"rows":[[1]]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var w wireResult
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if dec.Decode(&w) != nil {
			return
		}
		res, err := w.decode(false)
		if err != nil {
			return
		}
		for _, row := range res.Rows {
			for _, v := range row {
				switch v.(type) {
				case nil, int64, float64, string, bool, []any, map[string]any:
				default:
					t.Fatalf("value %#v of type %T", v, v)
				}
			}
		}
	})
}
