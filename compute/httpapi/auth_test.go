package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phantom-db/phantom/compute/auth"
	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage/memkv"
	controlplane "github.com/phantom-db/phantom/control-plane"
)

const testAdmin = "httpapi-test-admin-token"

// authFixture is a real control plane on loopback, the compute-side
// verifier against it, and an API server for tenant default, database
// phantom, holding a row only its tenant may see.
type authFixture struct {
	cp     *controlplane.Service
	url    string
	clock  *testClock
	engine *sql.Engine
	// keys by role
	rw, ro, otherTenant, otherDB, tenantWide string
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// gate blocks "SELECT 'block'" until released, to hold requests in flight.
type gate struct {
	Executor
	entered chan struct{}
	release chan struct{}
}

func (g gate) Execute(ctx context.Context, query string, params []any) ([]*sql.Result, error) {
	if query == "SELECT 'block'" {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.Executor.Execute(ctx, query, params)
}

func newAuthFixture(t *testing.T, cfg Config) *authFixture { return newAuthFixtureWrap(t, cfg, nil) }

// newAuthFixtureWrap is newAuthFixture with the engine wrapped as the
// executor by wrap.
func newAuthFixtureWrap(t *testing.T, cfg Config, wrap func(Executor) Executor) *authFixture {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cp, err := controlplane.New(controlplane.Config{DataDir: t.TempDir(), AdminToken: testAdmin, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cpSrv := httptest.NewServer(cp.Handler())
	t.Cleanup(cpSrv.Close)
	if _, err := cp.CreateTenant("acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.CreateDatabase("acme", "phantom"); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.CreateDatabase("default", "other"); err != nil {
		t.Fatal(err)
	}
	f := &authFixture{cp: cp, clock: &testClock{now: time.Unix(1_000_000, 0)}}
	key := func(tenant, db string, ro bool) string {
		k, err := cp.CreateAPIKey(tenant, db, ro)
		if err != nil {
			t.Fatal(err)
		}
		return k.Key
	}
	f.rw, f.ro = key("default", "phantom", false), key("default", "phantom", true)
	f.otherTenant, f.otherDB, f.tenantWide = key("acme", "phantom", false), key("default", "other", false), key("default", "", false)
	verifier, err := auth.New(auth.Config{URL: cpSrv.URL, Token: testAdmin, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := memkv.New(memkv.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f.engine, err = sql.New(sql.Config{KV: kv, DatabaseID: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Auth, cfg.Tenant, cfg.Database = verifier, "default", "phantom"
	cfg.Executor = f.engine
	if wrap != nil {
		cfg.Executor = wrap(f.engine)
	}
	cfg.NewSession = func() Session { return f.engine.NewSession() }
	cfg.NewReadOnlySession = func() Session { s := f.engine.NewSession(); s.RestrictToReads(); return s }
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	f.url = serve(t, s).URL
	if a := f.do(t, f.rw, "/v1/sql", `{"query": "CREATE TABLE secrets (id INT PRIMARY KEY, v TEXT); INSERT INTO secrets VALUES (1, 'tenant-default-secret')"}`); a.status != 200 {
		t.Fatalf("setup: %+v", a)
	}
	return f
}

type rawAnswer struct {
	status int
	body   string
	err    ErrorDetail
	hdr    http.Header
}

// do POSTs body to path with key as the bearer token ("" sends none).
func (f *authFixture) do(t *testing.T, key, path, body string) rawAnswer {
	t.Helper()
	return f.call(t, key, http.MethodPost, path, body)
}

func (f *authFixture) call(t *testing.T, key, method, path, body string) rawAnswer {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e ErrorBody
	_ = json.Unmarshal(b, &e)
	return rawAnswer{status: resp.StatusCode, body: string(b), err: e.Error, hdr: resp.Header}
}

func TestAuthDeniesByDefault(t *testing.T) {
	f := newAuthFixture(t, Config{})
	read := `{"query": "SELECT v FROM secrets"}`
	for _, c := range []struct {
		name, key, path, body string
		status                int
		code                  string
	}{
		{"no key", "", "/v1/sql", read, 401, "28000"},
		{"no key batch", "", "/v1/sql/batch", `{"statements": [{"query": "SELECT v FROM secrets"}]}`, 401, "28000"},
		{"no key session", "", "/v1/sessions", ``, 401, "28000"},
		{"garbage key", "nonsense", "/v1/sql", read, 401, "28000"},
		{"wrong secret", f.rw[:len(f.rw)-4] + "0000", "/v1/sql", read, 401, "28000"},
		{"other tenant", f.otherTenant, "/v1/sql", read, 403, "42501"},
		{"other tenant batch", f.otherTenant, "/v1/sql/batch", `{"statements": [{"query": "SELECT v FROM secrets"}]}`, 403, "42501"},
		{"other tenant session", f.otherTenant, "/v1/sessions", ``, 403, "42501"},
		{"other database", f.otherDB, "/v1/sql", read, 403, "42501"},
	} {
		a := f.do(t, c.key, c.path, c.body)
		if a.status != c.status || a.err.Code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, a.status, a.body, c.status, c.code)
		}
		if strings.Contains(a.body, "tenant-default-secret") {
			t.Errorf("%s: the answer leaks the tenant's data: %s", c.name, a.body)
		}
		if a.status == 401 && a.hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
	}
	// Open endpoints.
	if a := f.call(t, "", http.MethodGet, "/healthz", ""); a.status != 200 {
		t.Fatalf("healthz: %d", a.status)
	}
	// The right keys read the data.
	for _, k := range []string{f.rw, f.ro, f.tenantWide} {
		if a := f.do(t, k, "/v1/sql", read); a.status != 200 || !strings.Contains(a.body, "tenant-default-secret") {
			t.Fatalf("allowed key: %d %s", a.status, a.body)
		}
	}
	// An oversized body is 413 for an authenticated caller too.
	big := `{"query": "SELECT '` + strings.Repeat("x", 2<<20) + `'"}`
	if a := f.do(t, f.rw, "/v1/sql", big); a.status != 413 || a.err.Code != "54000" {
		t.Fatalf("oversized: %d %s", a.status, a.err.Code)
	}
}

func TestReadOnlyKeyCannotWrite(t *testing.T) {
	f := newAuthFixture(t, Config{})
	for _, q := range []string{
		"INSERT INTO secrets VALUES (2, 'x')",
		"UPDATE secrets SET v = 'y'",
		"DELETE FROM secrets",
		"CREATE TABLE t2 (id INT PRIMARY KEY)",
		"SET default_transaction_read_only = off; INSERT INTO secrets VALUES (3, 'x')",
		"BEGIN READ WRITE; INSERT INTO secrets VALUES (4, 'x'); COMMIT",
	} {
		body, _ := json.Marshal(map[string]string{"query": q})
		if a := f.do(t, f.ro, "/v1/sql", string(body)); a.status != 403 || a.err.Code != "25006" {
			t.Errorf("%s: %d %s, want 403 25006", q, a.status, a.body)
		}
	}
	if a := f.do(t, f.ro, "/v1/sql/batch", `{"statements": [{"query": "INSERT INTO secrets VALUES (5, 'x')"}]}`); a.status != 403 || a.err.Code != "25006" {
		t.Errorf("batch: %d %s", a.status, a.body)
	}
	// In a session of the read-only key.
	a := f.do(t, f.ro, "/v1/sessions", "")
	var sess SessionResponse
	_ = json.Unmarshal([]byte(a.body), &sess)
	if a.status != 201 {
		t.Fatalf("open session: %d %s", a.status, a.body)
	}
	if a := f.do(t, f.ro, "/v1/sql", `{"session": "`+sess.Session+`", "query": "BEGIN"}`); a.status != 200 {
		t.Fatalf("begin: %s", a.body)
	}
	if a := f.do(t, f.ro, "/v1/sql", `{"session": "`+sess.Session+`", "query": "INSERT INTO secrets VALUES (6, 'x')"}`); a.status != 403 || a.err.Code != "25006" {
		t.Errorf("session write: %d %s", a.status, a.body)
	}
	// Nothing was written.
	if a := f.do(t, f.rw, "/v1/sql", `{"query": "SELECT count(*) FROM secrets"}`); !strings.Contains(a.body, `"rows":[[1]]`) {
		t.Fatalf("after refused writes: %s", a.body)
	}
}

func TestSessionsBelongToTheirKey(t *testing.T) {
	f := newAuthFixture(t, Config{})
	a := f.do(t, f.rw, "/v1/sessions", "")
	var sess SessionResponse
	if err := json.Unmarshal([]byte(a.body), &sess); err != nil || a.status != 201 {
		t.Fatalf("open: %d %s", a.status, a.body)
	}
	if a := f.do(t, f.rw, "/v1/sql", `{"session": "`+sess.Session+`", "query": "BEGIN; INSERT INTO secrets VALUES (7, 'pending')"}`); a.status != 200 {
		t.Fatalf("owner: %s", a.body)
	}
	// Another key of the same tenant cannot use, see or close it.
	if a := f.do(t, f.tenantWide, "/v1/sql", `{"session": "`+sess.Session+`", "query": "SELECT v FROM secrets"}`); a.status != 404 || strings.Contains(a.body, "pending") {
		t.Fatalf("foreign use: %d %s", a.status, a.body)
	}
	if a := f.call(t, f.tenantWide, http.MethodDelete, "/v1/sessions/"+sess.Session, ""); a.status != 404 {
		t.Fatalf("foreign close: %d", a.status)
	}
	if a := f.call(t, f.rw, http.MethodDelete, "/v1/sessions/"+sess.Session, ""); a.status != 204 {
		t.Fatalf("owner close: %d %s", a.status, a.body)
	}
}

func TestRevokedKeyStopsWithinTTL(t *testing.T) {
	f := newAuthFixture(t, Config{})
	read := `{"query": "SELECT 1"}`
	if a := f.do(t, f.tenantWide, "/v1/sql", read); a.status != 200 {
		t.Fatal(a.body)
	}
	keys, _ := f.cp.APIKeys("default")
	for _, k := range keys {
		if strings.HasPrefix(f.tenantWide, "phk_"+k.ID+"_") {
			if err := f.cp.RevokeAPIKey("default", k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.clock.add(31 * time.Second) // past the default 30 s TTL
	if a := f.do(t, f.tenantWide, "/v1/sql", read); a.status != 401 {
		t.Fatalf("revoked key after the TTL: %d %s", a.status, a.body)
	}
}

func TestConcurrentRequestsPerKey(t *testing.T) {
	g := gate{entered: make(chan struct{}, 4), release: make(chan struct{})}
	f := newAuthFixtureWrap(t, Config{MaxConcurrentPerKey: 2}, func(e Executor) Executor { g.Executor = e; return g })
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, f.url+"/v1/sql", strings.NewReader(`{"query": "SELECT 'block'"}`))
			req.Header.Set("Authorization", "Bearer "+f.rw)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	<-g.entered
	<-g.entered
	if a := f.do(t, f.rw, "/v1/sql", `{"query": "SELECT 1"}`); a.status != 429 || a.err.Code != "53300" {
		t.Errorf("third request of the key: %d %s, want 429", a.status, a.body)
	}
	// Another key is not limited by the first one's requests.
	if a := f.do(t, f.tenantWide, "/v1/sql", `{"query": "SELECT 1"}`); a.status != 200 {
		t.Errorf("other key: %d %s", a.status, a.body)
	}
	close(g.release)
	wg.Wait()
	if a := f.do(t, f.rw, "/v1/sql", `{"query": "SELECT 1"}`); a.status != 200 {
		t.Errorf("after the slow requests ended: %d %s", a.status, a.body)
	}
}
