package phantomsql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phantom-db/phantom/compute/auth"
	"github.com/phantom-db/phantom/compute/httpapi"
	psql "github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage/memkv"
	"github.com/phantom-db/phantom/sdk/phantom"
)

// openDB serves the real HTTP API over a memkv-backed engine and opens a
// database/sql handle on it.
func openDB(t *testing.T, cfg httpapi.Config, wrap func(httpapi.Session) httpapi.Session) (*sql.DB, *httpapi.Server) {
	t.Helper()
	kv, err := memkv.New(memkv.Config{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := psql.New(psql.Config{KV: kv, DatabaseID: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Executor = eng
	if cfg.Auth == nil {
		cfg.Auth = httpapi.NoAuth
	}
	cfg.NewSession = func() httpapi.Session { return eng.NewSession() }
	if wrap != nil {
		cfg.NewSession = func() httpapi.Session { return wrap(eng.NewSession()) }
	}
	s, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(s.Close)
	db, err := sql.Open("phantom", "phantom://testkey@"+strings.TrimPrefix(srv.URL, "http://")+"/phantom?branch=main&timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, s
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) sql.Result {
	t.Helper()
	r, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

func TestParseDSN(t *testing.T) {
	cfg, err := ParseDSN("phantom://k1@db.example:8432/films?branch=main&timeout=5s&tls=true")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseURL != "https://db.example:8432" || cfg.APIKey != "k1" || cfg.Database != "films" || cfg.Timeout != 5*time.Second || cfg.Branch != "main" {
		t.Fatalf("%+v", cfg)
	}
	cfg, err = ParseDSN("phantom://127.0.0.1:8432")
	if err != nil || cfg.BaseURL != "http://127.0.0.1:8432" || cfg.APIKey != "" || cfg.Database != "" {
		t.Fatalf("%+v %v", cfg, err)
	}
	for _, bad := range []string{"postgres://x:1/db", "phantom:///db", "phantom://x:1/db?timeout=soon",
		"phantom://x:1/db?nope=1", "phantom://x:1/db?tls=maybe"} {
		if _, err := ParseDSN(bad); err == nil {
			t.Errorf("ParseDSN(%q) accepted", bad)
		}
	}
	if _, err := ParseDSN("phantom://x:1/db?branch=dev"); !errors.Is(err, ErrBranchUnsupported) {
		t.Errorf("branch dev: %v", err)
	}
}

func TestExecQueryScan(t *testing.T) {
	db, _ := openDB(t, httpapi.Config{}, nil)
	mustExec(t, db, "CREATE TABLE films (id BIGINT PRIMARY KEY, title TEXT, rating DOUBLE PRECISION, seen BOOLEAN, note TEXT)")
	r := mustExec(t, db, "INSERT INTO films VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10)",
		1, "Heat", 8.3, true, nil, int64(2), []byte("Up"), float32(8.5), false, "fun")
	if n, err := r.RowsAffected(); err != nil || n != 2 {
		t.Fatalf("rows affected %d %v", n, err)
	}
	if _, err := r.LastInsertId(); err == nil {
		t.Fatal("LastInsertId answered")
	}
	rows, err := db.Query("SELECT id, title, rating, seen, note FROM films ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	wantDB := []string{"INT8", "TEXT", "FLOAT8", "BOOL", "TEXT"}
	wantScan := []reflect.Type{reflect.TypeFor[int64](), reflect.TypeFor[string](), reflect.TypeFor[float64](), reflect.TypeFor[bool](), reflect.TypeFor[string]()}
	for i, ct := range types {
		if ct.DatabaseTypeName() != wantDB[i] || ct.ScanType() != wantScan[i] {
			t.Fatalf("column %d: %s %v", i, ct.DatabaseTypeName(), ct.ScanType())
		}
	}
	type film struct {
		id     int64
		title  string
		rating float64
		seen   bool
		note   sql.NullString
	}
	var got []film
	for rows.Next() {
		var f film
		if err := rows.Scan(&f.id, &f.title, &f.rating, &f.seen, &f.note); err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []film{{1, "Heat", 8.3, true, sql.NullString{}}, {2, "Up", 8.5, false, sql.NullString{String: "fun", Valid: true}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	var title string
	if err := db.QueryRow("SELECT title FROM films WHERE id = $1", 2).Scan(&title); err != nil || title != "Up" {
		t.Fatalf("QueryRow: %q %v", title, err)
	}
	if err := db.QueryRow("SELECT title FROM films WHERE id = $1", 99).Scan(&title); err != sql.ErrNoRows {
		t.Fatalf("no rows: %v", err)
	}
	// time.Time travels as RFC 3339 text.
	at := time.Date(2026, 12, 2, 1, 2, 3, 0, time.UTC)
	var s string
	if err := db.QueryRow("SELECT $1::TEXT", at).Scan(&s); err != nil || s != "2026-12-02T01:02:03Z" {
		t.Fatalf("time arg: %q %v", s, err)
	}
	// Errors keep their SQLSTATE and position.
	_, err = db.Exec("INSERT INTO films VALUES (1, 'dup', 0, false, NULL)")
	if phantom.Code(err) != "23505" {
		t.Fatalf("duplicate: %v", err)
	}
	var perr *phantom.Error
	if _, err := db.Query("SELECT nope FROM films"); !errors.As(err, &perr) || perr.Code != "42703" || perr.Position == 0 {
		t.Fatalf("undefined column: %v", err)
	}
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
}

func TestTransactions(t *testing.T) {
	db, _ := openDB(t, httpapi.Config{}, nil)
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE acct (id INT PRIMARY KEY, bal BIGINT)")
	mustExec(t, db, "INSERT INTO acct VALUES (1, 100), (2, 0)")
	balance := func(id int) int64 {
		var b int64
		if err := db.QueryRow("SELECT bal FROM acct WHERE id = $1", id).Scan(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, iso := range []sql.IsolationLevel{sql.LevelDefault, sql.LevelReadCommitted, sql.LevelRepeatableRead, sql.LevelSerializable} {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: iso})
		if err != nil {
			t.Fatalf("%v: %v", iso, err)
		}
		if _, err := tx.Exec("UPDATE acct SET bal = bal - 10 WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
		// The other connection does not see the uncommitted write.
		if b := balance(1); b != 100-10*int64(iso2n(iso)) {
			t.Fatalf("%v: uncommitted write visible: %d", iso, b)
		}
		var inside int64
		if err := tx.QueryRow("SELECT bal FROM acct WHERE id = 1").Scan(&inside); err != nil || inside != 90-10*int64(iso2n(iso)) {
			t.Fatalf("%v: own write: %d %v", iso, inside, err)
		}
		if _, err := tx.Exec("UPDATE acct SET bal = bal + 10 WHERE id = 2"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("%v: commit: %v", iso, err)
		}
	}
	if balance(1) != 60 || balance(2) != 40 {
		t.Fatalf("after commits: %d %d", balance(1), balance(2))
	}
	// Rollback discards.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("DELETE FROM acct WHERE id = $1", 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if balance(1) != 60 {
		t.Fatal("rollback did not discard the delete")
	}
	// A failed statement aborts the transaction: Commit reports the rollback.
	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE acct SET bal = 0 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO acct VALUES (1, 0)"); phantom.Code(err) != "23505" {
		t.Fatalf("duplicate in tx: %v", err)
	}
	if err := tx.Commit(); !errors.Is(err, ErrTxRolledBack) {
		t.Fatalf("commit of failed tx: %v", err)
	}
	if balance(1) != 60 {
		t.Fatal("failed transaction's write survived")
	}
	// Read-only transactions refuse writes.
	tx, err = db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("DELETE FROM acct"); err == nil {
		t.Fatal("read-only transaction wrote")
	}
	_ = tx.Rollback()
	if _, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelLinearizable}); err == nil {
		t.Fatal("linearizable accepted")
	}
}

// iso2n numbers the isolation levels in the order TestTransactions runs them.
func iso2n(iso sql.IsolationLevel) int {
	return map[sql.IsolationLevel]int{sql.LevelDefault: 0, sql.LevelReadCommitted: 1, sql.LevelRepeatableRead: 2, sql.LevelSerializable: 3}[iso]
}

func TestPreparedStatements(t *testing.T) {
	db, _ := openDB(t, httpapi.Config{}, nil)
	mustExec(t, db, "CREATE TABLE kv (k INT PRIMARY KEY, v TEXT)")
	ins, err := db.Prepare("INSERT INTO kv VALUES ($1, $2)")
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	for i := range 5 {
		if _, err := ins.Exec(i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	get, err := db.Prepare("SELECT v FROM kv WHERE k = $1")
	if err != nil {
		t.Fatal(err)
	}
	defer get.Close()
	for i := range 5 {
		var v string
		if err := get.QueryRow(i).Scan(&v); err != nil || v != fmt.Sprint("v", i) {
			t.Fatalf("k=%d: %q %v", i, v, err)
		}
	}
	// A prepared statement inside a transaction.
	tx, _ := db.Begin()
	if _, err := tx.Stmt(ins).Exec(9, "nine"); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback()
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM kv").Scan(&n); err != nil || n != 5 {
		t.Fatalf("count %d %v", n, err)
	}
}

// sleepHandler holds a query containing "pg_sleep" until its request is
// cancelled (a statement running longer than the client waits) and passes
// every other request to the real API.
type sleepHandler struct {
	api     http.Handler
	aborted chan struct{}
}

func (h *sleepHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/sql" {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "pg_sleep") {
			<-r.Context().Done()
			h.aborted <- struct{}{}
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	h.api.ServeHTTP(w, r)
}

func TestContextCancel(t *testing.T) {
	db, api := openDB(t, httpapi.Config{}, nil)
	h := &sleepHandler{api: api, aborted: make(chan struct{}, 1)}
	srv := httptest.NewServer(h)
	defer srv.Close()
	db, err := sql.Open("phantom", "phantom://"+strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE big (id INT PRIMARY KEY)")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	var n int64
	err = db.QueryRowContext(ctx, "SELECT pg_sleep(60)").Scan(&n)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled query: %v", err)
	}
	<-h.aborted // the HTTP request was aborted, not left running
	// The pool still works: the cancelled connection (its session state
	// unknown) was discarded for a fresh one.
	if err := db.QueryRow("SELECT count(*) FROM big").Scan(&n); err != nil || n != 0 {
		t.Fatalf("after cancel: %d %v", n, err)
	}
}

// closeRecorder counts sessions opened and closed by the API.
type closeRecorder struct {
	httpapi.Session
	closed chan struct{}
}

func (c closeRecorder) Close() {
	c.Session.Close()
	c.closed <- struct{}{}
}

func TestSessionGoneIsBadConn(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	closed := make(chan struct{}, 16)
	var opened atomic.Int32
	db, _ := openDB(t, httpapi.Config{SessionIdleTimeout: 40 * time.Millisecond, Now: clock},
		func(s httpapi.Session) httpapi.Session {
			opened.Add(1)
			return closeRecorder{Session: s, closed: closed}
		})
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	// Time passes: the server's reaper closes the idle session.
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	<-closed
	// Inside a transaction the loss is reported (the transaction is gone).
	if _, err := tx.Exec("SELECT 1"); phantom.Code(err) != "08003" {
		t.Fatalf("tx on a reaped session: %v", err)
	}
	_ = tx.Rollback()
	// Outside one, database/sql retries on a fresh connection.
	var one int64
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after reap: %d %v", one, err)
	}
	if opened.Load() != 2 {
		t.Fatalf("%d sessions opened; want 2", opened.Load())
	}
}

func TestConcurrentUse(t *testing.T) {
	db, _ := openDB(t, httpapi.Config{}, nil)
	db.SetMaxOpenConns(4)
	mustExec(t, db, "CREATE TABLE c (g INT, i INT, PRIMARY KEY (g, i))")
	const workers, per = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Go(func() {
			for i := range per {
				tx, err := db.Begin()
				if err != nil {
					errs <- err
					return
				}
				if _, err := tx.Exec("INSERT INTO c VALUES ($1, $2)", g, i); err != nil {
					_ = tx.Rollback()
					errs <- err
					return
				}
				if err := tx.Commit(); err != nil {
					errs <- err
					return
				}
				var n int64
				if err := db.QueryRow("SELECT count(*) FROM c WHERE g = $1", g).Scan(&n); err != nil || n != int64(i+1) {
					errs <- fmt.Errorf("worker %d: count %d after %d inserts: %v", g, n, i+1, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM c").Scan(&n); err != nil || n != workers*per {
		t.Fatalf("total %d %v", n, err)
	}
	if open := db.Stats().OpenConnections; open > 4 {
		t.Fatalf("%d open connections", open)
	}
}

func TestStrayBeginRolledBackOnReuse(t *testing.T) {
	db, _ := openDB(t, httpapi.Config{}, nil)
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE st (id INT PRIMARY KEY)")
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"BEGIN", "INSERT INTO st VALUES (1)"} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Close() // back to the pool with the transaction open
	// The next use of the pooled connection rolls the stray transaction back.
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM st").Scan(&n); err != nil || n != 0 {
		t.Fatalf("stray transaction survived: %d %v", n, err)
	}
}

// unknownCommit answers every COMMIT with 08007 (outcome unknown) without
// running it.
type unknownCommit struct {
	api     http.Handler
	commits atomic.Int32
}

func (h *unknownCommit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/sql" {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"query":"COMMIT"`) {
			h.commits.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"08007","message":"commit outcome unknown"}}`))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	h.api.ServeHTTP(w, r)
}

// TestCommitOutcomeUnknown: 08007 is reported once (never retried) and the
// connection, whose session state is unknown, is not reused.
func TestCommitOutcomeUnknown(t *testing.T) {
	_, api := openDB(t, httpapi.Config{}, nil)
	h := &unknownCommit{api: api}
	srv := httptest.NewServer(h)
	defer srv.Close()
	db, err := sql.Open("phantom", "phantom://"+strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE u (id INT PRIMARY KEY)")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO u VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); phantom.Code(err) != "08007" || h.commits.Load() != 1 {
		t.Fatalf("commit: %v after %d attempts", err, h.commits.Load())
	}
	// The next statement runs on a fresh session, not inside the old one's
	// still-open transaction.
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM u").Scan(&n); err != nil || n != 0 {
		t.Fatalf("after unknown commit: %d %v", n, err)
	}
	if db.Stats().OpenConnections != 1 {
		t.Fatalf("%d open connections", db.Stats().OpenConnections)
	}
}

// keyAuth admits only the API key "testkey", the one openDB's DSN holds.
type keyAuth struct{}

func (keyAuth) Authenticate(_ context.Context, key string) (auth.Principal, error) {
	if key != "testkey" {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	return auth.Principal{KeyID: "testkey", Tenant: "default", Database: "phantom"}, nil
}

func TestDSNKeyIsSent(t *testing.T) {
	db, api := openDB(t, httpapi.Config{Auth: keyAuth{}}, nil)
	if _, err := db.Exec("CREATE TABLE k (id INT PRIMARY KEY)"); err != nil {
		t.Fatalf("with the DSN's key: %v", err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	nokey, err := sql.Open("phantom", "phantom://"+strings.TrimPrefix(srv.URL, "http://")+"/phantom")
	if err != nil {
		t.Fatal(err)
	}
	defer nokey.Close()
	_, err = nokey.Exec("SELECT 1")
	var pe *phantom.Error
	if !errors.As(err, &pe) || pe.HTTPStatus != http.StatusUnauthorized {
		t.Fatalf("without a key: %v, want 401", err)
	}
}
