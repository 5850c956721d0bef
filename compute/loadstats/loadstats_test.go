package loadstats

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/phantom-db/phantom/compute/pgwire"
	"github.com/phantom-db/phantom/compute/sql"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type fakeSession struct{ tx byte }

func (f *fakeSession) Execute(ctx context.Context, q string, p []any) ([]*sql.Result, error) {
	return nil, nil
}
func (f *fakeSession) TxStatus() byte { return f.tx }
func (f *fakeSession) Close()         {}

func TestSnapshotConcurrencyQPSAndP99(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	tr := New()
	tr.now, tr.last = c.now, c.t
	// Two queries of 500 ms each inside one second, and one still running
	// since 0.5 s: concurrency (0.5 + 0.5 + 0.5) / 1 = 1.5.
	e1 := tr.Begin()
	e2 := tr.Begin()
	c.t = c.t.Add(500 * time.Millisecond)
	e1()
	e2()
	_ = tr.Begin()
	c.t = c.t.Add(500 * time.Millisecond)
	s := tr.Snapshot()
	if s.InFlight != 1 || s.QPS != 2 || s.Concurrency < 1.49 || s.Concurrency > 1.51 || s.P99Millis != 500 {
		t.Fatalf("snapshot: %+v", s)
	}
	// Next interval: only the running query, busy the whole second.
	c.t = c.t.Add(time.Second)
	s = tr.Snapshot()
	if s.QPS != 0 || s.Concurrency < 0.99 || s.Concurrency > 1.01 || s.P99Millis != 0 {
		t.Fatalf("second snapshot: %+v", s)
	}
}

func TestSessionsAndIdle(t *testing.T) {
	tr := New()
	inner := &fakeSession{tx: 'I'}
	f := tr.Sessions(func() pgwire.Session { return inner })
	s := f()
	if got := tr.Snapshot().Sessions; got != 1 {
		t.Fatalf("sessions = %d", got)
	}
	if !tr.Idle() {
		t.Fatal("an idle session outside a transaction is idle")
	}
	inner.tx = 'T'
	if tr.Idle() {
		t.Fatal("a session inside a transaction is not idle")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if tr.WaitIdle(ctx) {
		t.Fatal("WaitIdle must time out while a transaction is open")
	}
	inner.tx = 'I'
	s.Close()
	s.Close()
	if got := tr.Snapshot().Sessions; got != 0 {
		t.Fatalf("sessions after close = %d", got)
	}
	end := tr.Begin()
	if tr.Idle() {
		t.Fatal("a running query is not idle")
	}
	end()
	h := tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tr.Idle() {
			t.Error("a SQL request in progress must count as in flight")
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/sql", nil))
	if !tr.Idle() {
		t.Fatal("idle after the request")
	}
}

type timeoutSession struct{ fakeSession }

func (timeoutSession) StatementTimeout() time.Duration { return 7 * time.Millisecond }

// The wrapper must not hide the session's statement_timeout from pgwire.
func TestSessionsKeepStatementTimeout(t *testing.T) {
	tr := New()
	s := tr.Sessions(func() pgwire.Session { return &timeoutSession{} })()
	defer s.Close()
	st, ok := s.(interface{ StatementTimeout() time.Duration })
	if !ok || st.StatementTimeout() != 7*time.Millisecond {
		t.Fatalf("wrapped session does not report the inner statement_timeout")
	}
}
