package proxy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phantom-db/phantom/compute/pgwire"
	"github.com/phantom-db/phantom/compute/sql"
	controlplane "github.com/phantom-db/phantom/control-plane"
)

// fakeDir is an in-memory Directory: one database "phantom" with endpoint
// "main" (branch main) and "dev" (branch dev, no computes ever).
type fakeDir struct {
	mu       sync.Mutex
	computes []controlplane.Compute
	wake     func() // called by Wake when set (starts a backend)
	wakes    int
}

var mainEP = controlplane.Endpoint{ID: "ep-1", Name: "main", Tenant: "default", Database: "phantom", Branch: "main", Mode: controlplane.ModeReadWrite}
var devEP = controlplane.Endpoint{ID: "ep-2", Name: "dev", Tenant: "default", Database: "phantom", Branch: "dev", Mode: controlplane.ModeReadWrite}

func (d *fakeDir) Resolve(ctx context.Context, t Target) (controlplane.Endpoint, error) {
	if t.Tenant != "default" || t.Database != "phantom" {
		return controlplane.Endpoint{}, ErrUnknown
	}
	return choose([]controlplane.Endpoint{mainEP, devEP}, t)
}

func (d *fakeDir) Computes(ctx context.Context, ep controlplane.Endpoint) ([]controlplane.Compute, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ep.ID != mainEP.ID {
		return nil, nil
	}
	return append([]controlplane.Compute(nil), d.computes...), nil
}

func (d *fakeDir) Wake(ctx context.Context, ep controlplane.Endpoint) error {
	d.mu.Lock()
	d.wakes++
	w := d.wake
	d.wake = nil
	d.mu.Unlock()
	if w != nil && ep.ID == mainEP.ID {
		w()
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (d *fakeDir) set(cs ...controlplane.Compute) {
	d.mu.Lock()
	d.computes = cs
	d.mu.Unlock()
}

// backend is a fake compute's HTTP API: it records the bodies it got and
// can hold requests until released.
type backend struct {
	srv    *httptest.Server
	id     string
	hits   atomic.Int64
	hold   chan struct{}
	bodies chan string
}

func newBackend(t *testing.T, id string) *backend {
	b := &backend{id: id, bodies: make(chan string, 100)}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method == "POST" && r.URL.Path == "/v1/sessions":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"session":"s1","idle_timeout_ms":1000}`))
			return
		case r.Method == "DELETE":
			if r.URL.Path != "/v1/sessions/s1" {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		b.hits.Add(1)
		b.bodies <- string(body)
		if b.hold != nil {
			<-b.hold
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"served_by":"` + id + `"}`))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) compute(state string) controlplane.Compute {
	return controlplane.Compute{ID: b.id, Endpoint: mainEP.ID, HTTPAddr: strings.TrimPrefix(b.srv.URL, "http://"), State: state}
}

func newProxy(t *testing.T, d Directory, wake time.Duration) (*Proxy, *httptest.Server) {
	p, err := New(Config{Directory: d, WakeTimeout: wake, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(func() { srv.Close(); p.Close() })
	return p, srv
}

func post(t *testing.T, url, body string, hdr map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/sql", strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

func TestHTTPLeastInFlightSkipsDraining(t *testing.T) {
	a, b, c := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")
	a.hold = make(chan struct{})
	d := &fakeDir{}
	d.set(a.compute("ready"), b.compute("ready"), c.compute("draining"))
	p, srv := newProxy(t, d, time.Second)

	// A request held on a: the next ones go to b, the least busy.
	first := make(chan int, 1)
	go func() {
		code, _, _ := post(t, srv.URL, `{"query":"SELECT 1"}`, nil)
		first <- code
	}()
	<-a.bodies
	if p.InFlight("a") != 1 {
		t.Fatalf("in flight on a = %d", p.InFlight("a"))
	}
	for i := 0; i < 5; i++ {
		code, m, h := post(t, srv.URL, `{"query":"SELECT 1"}`, nil)
		if code != 200 || m["served_by"] != "b" || h.Get(HeaderCompute) != "b" {
			t.Fatalf("request %d: %d %v", i, code, m)
		}
	}
	close(a.hold)
	if code := <-first; code != 200 {
		t.Fatalf("held request: %d", code)
	}
	if c.hits.Load() != 0 {
		t.Fatalf("draining compute got %d requests", c.hits.Load())
	}
	// The handler releases right after the response is written.
	for deadline := time.Now().Add(2 * time.Second); p.InFlight("a") != 0 || p.InFlight("b") != 0; {
		if time.Now().After(deadline) {
			t.Fatal("in-flight counts not released")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHTTPRoutingFieldsAndErrors(t *testing.T) {
	a := newBackend(t, "a")
	d := &fakeDir{}
	d.set(a.compute("ready"))
	_, srv := newProxy(t, d, 300*time.Millisecond)

	// db@branch in the body is rewritten to db for the compute.
	if code, _, _ := post(t, srv.URL, `{"query":"SELECT 1","database":"phantom@main"}`, nil); code != 200 {
		t.Fatalf("db@branch: %d", code)
	}
	var fwd map[string]any
	_ = json.Unmarshal([]byte(<-a.bodies), &fwd)
	if fwd["database"] != "phantom" || fwd["query"] != "SELECT 1" {
		t.Fatalf("forwarded body %v", fwd)
	}
	// Unknown database or branch: 404 with SQLSTATE 3D000.
	code, m, _ := post(t, srv.URL, `{"query":"SELECT 1","database":"nope"}`, nil)
	if code != 404 || m["error"].(map[string]any)["code"] != "3D000" {
		t.Fatalf("unknown database: %d %v", code, m)
	}
	// A branch without an endpoint goes to the database's endpoint, named
	// in the body (the compute answers 3D000 if it does not exist); one
	// named in the body routes the same way and is kept.
	for _, c := range []struct {
		body string
		hdr  map[string]string
	}{
		{`{"query":"SELECT 1"}`, map[string]string{HeaderBranch: "feature"}},
		{`{"query":"SELECT 1","database":"phantom@feature"}`, nil},
		{`{"query":"SELECT 1","branch":"feature"}`, nil},
	} {
		if code, m, _ := post(t, srv.URL, c.body, c.hdr); code != 200 {
			t.Fatalf("%s %v: %d %v", c.body, c.hdr, code, m)
		}
		fwd = nil
		_ = json.Unmarshal([]byte(<-a.bodies), &fwd)
		if fwd["branch"] != "feature" {
			t.Fatalf("%s %v: forwarded body %v, want branch feature", c.body, c.hdr, fwd)
		}
	}
	// The default branch is not written into the body.
	post(t, srv.URL, `{"query":"SELECT 1"}`, nil)
	fwd = nil
	_ = json.Unmarshal([]byte(<-a.bodies), &fwd)
	if _, ok := fwd["branch"]; ok {
		t.Fatalf("forwarded body %v names a branch", fwd)
	}
	// A header and a body naming different branches: 400.
	if code, _, _ := post(t, srv.URL, `{"query":"SELECT 1","branch":"x"}`, map[string]string{HeaderBranch: "y"}); code != 400 {
		t.Fatalf("conflicting branches: %d", code)
	}
	// A body branch that routes to dev's endpoint (no computes ever).
	if code, _, _ := post(t, srv.URL, `{"query":"SELECT 1","branch":"dev"}`, nil); code != 503 {
		t.Fatalf("body branch dev: %d, want 503 from dev's endpoint", code)
	}
	// Branch dev never gets a compute: 503 57P03 after the wake timeout.
	code, m, h := post(t, srv.URL, `{"query":"SELECT 1"}`, map[string]string{HeaderBranch: "dev"})
	if code != 503 || m["error"].(map[string]any)["code"] != "57P03" || h.Get("Retry-After") == "" {
		t.Fatalf("no compute: %d %v", code, m)
	}
	if code, _, _ := post(t, srv.URL, `{not json`, nil); code != 400 {
		t.Fatalf("bad JSON: %d", code)
	}
}

func TestHTTPSessionAffinity(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	d := &fakeDir{}
	d.set(a.compute("ready"), b.compute("ready"))
	_, srv := newProxy(t, d, 300*time.Millisecond)
	resp, err := http.Post(srv.URL+"/v1/sessions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var opened map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&opened)
	resp.Body.Close()
	sess, _ := opened["session"].(string)
	home, _, _ := strings.Cut(sess, ".")
	if resp.StatusCode != http.StatusCreated || (sess != "a.s1" && sess != "b.s1") || opened["idle_timeout_ms"] != float64(1000) {
		t.Fatalf("open session: %d %v", resp.StatusCode, opened)
	}
	homeB, other := a, b
	if home == "b" {
		homeB, other = b, a
	}
	// Every request of the session goes to its compute, with the
	// compute's own id, even once the compute drains.
	for i := 0; i < 4; i++ {
		if i == 2 {
			d.set(homeB.compute("draining"), other.compute("ready"))
		}
		code, m, _ := post(t, srv.URL, `{"query":"SELECT 1","session":"`+sess+`"}`, nil)
		if code != 200 || m["served_by"] != home {
			t.Fatalf("session request %d: %d %v", i, code, m)
		}
		var fwd map[string]any
		_ = json.Unmarshal([]byte(<-homeB.bodies), &fwd)
		if fwd["session"] != "s1" {
			t.Fatalf("forwarded session %v", fwd["session"])
		}
	}
	if code, m, _ := post(t, srv.URL, `{"query":"SELECT 1"}`, nil); code != 200 || m["served_by"] != other.id {
		t.Fatalf("sessionless request while the session's compute drains: %d %v", code, m)
	}
	for s, want := range map[string]int{"zz.s1": 404, "nodot": 400} {
		code, m, _ := post(t, srv.URL, `{"query":"SELECT 1","session":"`+s+`"}`, nil)
		if code != want || m["error"].(map[string]any)["code"] != "08003" {
			t.Fatalf("session %q: %d %v", s, code, m)
		}
	}
	req, _ := http.NewRequest("DELETE", srv.URL+"/v1/sessions/"+sess, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("close session: %d", resp.StatusCode)
	}
}

func TestHTTPWakeFromZeroAndRetryUnreachable(t *testing.T) {
	a := newBackend(t, "a")
	d := &fakeDir{}
	// The endpoint is at zero; waking it makes a ready after 200 ms.
	d.wake = func() {
		time.Sleep(200 * time.Millisecond)
		d.set(a.compute("ready"))
	}
	_, srv := newProxy(t, d, 5*time.Second)
	if code, m, _ := post(t, srv.URL, `{"query":"SELECT 1"}`, nil); code != 200 || m["served_by"] != "a" {
		t.Fatalf("wake from zero: %d %v", code, m)
	}
	if d.wakes != 1 {
		t.Fatalf("wakes = %d, want 1", d.wakes)
	}
	// A compute that refuses connections is skipped for another.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	d.set(controlplane.Compute{ID: "dead", Endpoint: mainEP.ID, HTTPAddr: dead, State: "ready"}, a.compute("ready"))
	for i := 0; i < 3; i++ {
		if code, m, _ := post(t, srv.URL, `{"query":"SELECT 1"}`, nil); code != 200 || m["served_by"] != "a" {
			t.Fatalf("with a dead compute: %d %v", code, m)
		}
	}
}

// setSession answers every statement with "SET".
type setSession struct{}

func (setSession) Execute(ctx context.Context, q string, p []any) ([]*sql.Result, error) {
	return []*sql.Result{{Command: "SET"}}, nil
}
func (setSession) TxStatus() byte { return 'I' }
func (setSession) Close()         {}

func TestPGWakeRewriteAndErrors(t *testing.T) {
	srv, err := pgwire.New(pgwire.Config{Trust: true, NewSession: func() pgwire.Session { return setSession{} }, Database: "phantom"})
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(pl)
	t.Cleanup(func() { srv.Close() })

	d := &fakeDir{}
	d.wake = func() {
		d.set(controlplane.Compute{ID: "pg", Endpoint: mainEP.ID, HTTPAddr: "unused:1", PGAddr: pl.Addr().String(), State: "ready"})
	}
	p, err := New(Config{Directory: d, WakeTimeout: 500 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go p.ServePG(ln)
	t.Cleanup(func() { p.Close() })
	addr := ln.Addr().String()
	ctx := context.Background()

	// The compute only accepts database "phantom": connecting as
	// "phantom@main" works only if the proxy rewrote it. sslmode=prefer
	// exercises the SSLRequest 'N' answer.
	conn, err := pgx.Connect(ctx, "postgres://u@"+addr+"/phantom@main?sslmode=prefer&options=-c%20phantom.endpoint%3Dmain")
	if err != nil {
		t.Fatalf("connect through the proxy (wakes the endpoint): %v", err)
	}
	tag, err := conn.Exec(ctx, "SET x = 1")
	if err != nil || tag.String() != "SET" {
		t.Fatalf("exec: %v %v", tag, err)
	}
	if p.InFlight("pg") != 1 {
		t.Fatalf("in flight on pg = %d, want 1 open connection", p.InFlight("pg"))
	}
	conn.Close(ctx)

	for dsn, code := range map[string]string{
		"postgres://u@" + addr + "/nope?sslmode=disable":        "3D000",
		"postgres://u@" + addr + "/phantom@dev?sslmode=disable": "57P03",
	} {
		_, err := pgx.Connect(ctx, dsn)
		if err == nil || !strings.Contains(err.Error(), code) {
			t.Fatalf("%s: %v, want SQLSTATE %s", dsn, err, code)
		}
	}
}

func TestParseOptions(t *testing.T) {
	keep, set := parseOptions("-c phantom.branch=dev -c statement_timeout=5 --phantom.endpoint=e1 -cphantom.tenant=t")
	if keep != "-c statement_timeout=5" || set["phantom.branch"] != "dev" || set["phantom.endpoint"] != "e1" || set["phantom.tenant"] != "t" {
		t.Fatalf("keep %q set %v", keep, set)
	}
}
