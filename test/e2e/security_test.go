package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phantom-db/phantom/test/cluster"
)

// secureDev is a `phantom dev` with authentication on, and what its
// dev.json says.
type secureDev struct {
	proc *cluster.Process
	dir  string
	info struct {
		SQLURL       string `json:"sql_url"`
		PGAddr       string `json:"pg_addr"`
		ControlPlane string `json:"control_plane_url"`
		AdminToken   string `json:"admin_token"`
		APIKey       string `json:"api_key"`
		PGUser       string `json:"pg_user"`
		PGPassword   string `json:"pg_password"`
		TLSCert      string `json:"tls_cert"`
	}
}

func startSecureDev(t *testing.T, extra ...string) *secureDev {
	t.Helper()
	d := &secureDev{dir: t.TempDir()}
	base := cluster.FreePortBase(t, 11)
	args := append([]string{"dev", "--data-dir", d.dir, "--port-base", strconv.Itoa(base), "--log-level", "warn"}, extra...)
	d.proc = cluster.Start(t, "dev", args...)
	cluster.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", base), 60*time.Second, d.proc)
	// dev.json is written once every service is ready.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(d.dir, "dev.json"))
		if err == nil && json.Unmarshal(b, &d.info) == nil && d.info.APIKey != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev.json not written: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

type httpAnswer struct {
	status int
	body   string
	code   string
}

// call makes an HTTP request with an optional bearer token.
func call(t *testing.T, method, url, token, body string) httpAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
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
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct {
			Code any `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return httpAnswer{status: resp.StatusCode, body: string(b), code: fmt.Sprint(e.Error.Code)}
}

func sqlBody(query string) string {
	b, _ := json.Marshal(map[string]any{"query": query})
	return string(b)
}

// TestSecurityHTTP runs the HTTP API's security checks against a real
// `phantom dev` with API keys: no key, a key of another tenant, a
// read-only key, an oversized body, a runaway query; the server stays
// healthy through all of them.
func TestSecurityHTTP(t *testing.T) {
	d := startSecureDev(t)
	sql, key, admin, cp := d.info.SQLURL+"/v1/sql", d.info.APIKey, d.info.AdminToken, d.info.ControlPlane

	if a := call(t, "POST", sql, key, sqlBody("CREATE TABLE vault (id INT PRIMARY KEY, secret TEXT)")); a.status != 200 {
		t.Fatalf("create with the dev key: %+v", a)
	}
	if a := call(t, "POST", sql, key, sqlBody("INSERT INTO vault VALUES (1, 'default-tenant-secret')")); a.status != 200 {
		t.Fatalf("insert: %+v", a)
	}

	// No key.
	if a := call(t, "POST", sql, "", sqlBody("SELECT secret FROM vault")); a.status != 401 || a.code != "28000" {
		t.Fatalf("no key: %+v", a)
	}
	// The control plane API itself needs the admin token.
	if a := call(t, "GET", cp+"/v1/tenants", "", ""); a.status != 401 {
		t.Fatalf("control plane without the admin token: %+v", a)
	}
	if a := call(t, "POST", cp+"/v1/tenants/default/api-keys", key, `{}`); a.status != 401 {
		t.Fatalf("an API key is not an admin token: %+v", a)
	}
	// A key of another tenant: 403, never the data.
	if a := call(t, "POST", cp+"/v1/tenants", admin, `{"name":"mallory"}`); a.status != 201 {
		t.Fatalf("create tenant: %+v", a)
	}
	if a := call(t, "POST", cp+"/v1/tenants/mallory/databases", admin, `{"name":"phantom"}`); a.status != 201 {
		t.Fatalf("create database: %+v", a)
	}
	var other struct {
		Key string `json:"key"`
	}
	a := call(t, "POST", cp+"/v1/tenants/mallory/api-keys", admin, `{"database":"phantom"}`)
	if a.status != 201 || json.Unmarshal([]byte(a.body), &other) != nil || other.Key == "" {
		t.Fatalf("create key of another tenant: %+v", a)
	}
	for _, q := range []string{"SELECT secret FROM vault", "DELETE FROM vault"} {
		a := call(t, "POST", sql, other.Key, sqlBody(q))
		if a.status != 403 || a.code != "42501" || strings.Contains(a.body, "default-tenant-secret") {
			t.Fatalf("other tenant's key, %s: %+v", q, a)
		}
	}
	if a := call(t, "POST", d.info.SQLURL+"/v1/sessions", other.Key, ""); a.status != 403 {
		t.Fatalf("other tenant's key opening a session: %+v", a)
	}
	// A read-only key reads but cannot write.
	var ro struct {
		Key string `json:"key"`
	}
	a = call(t, "POST", cp+"/v1/tenants/default/api-keys", admin, `{"database":"phantom","read_only":true}`)
	if a.status != 201 || json.Unmarshal([]byte(a.body), &ro) != nil {
		t.Fatalf("create read-only key: %+v", a)
	}
	if a := call(t, "POST", sql, ro.Key, sqlBody("SELECT secret FROM vault")); a.status != 200 || !strings.Contains(a.body, "default-tenant-secret") {
		t.Fatalf("read-only key reading: %+v", a)
	}
	for _, q := range []string{"INSERT INTO vault VALUES (2, 'x')", "DROP TABLE vault", "BEGIN READ WRITE; DELETE FROM vault; COMMIT"} {
		if a := call(t, "POST", sql, ro.Key, sqlBody(q)); a.status != 403 || a.code != "25006" {
			t.Fatalf("read-only key, %s: %+v", q, a)
		}
	}
	// Oversized body.
	big := sqlBody("SELECT '" + strings.Repeat("x", 2<<20) + "'")
	if a := call(t, "POST", sql, key, big); a.status != 413 || a.code != "54000" {
		t.Fatalf("oversized body: %d %s", a.status, a.code)
	}
	// A runaway query ends at its timeout with 57014: an aggregate over
	// 20,000 rows cannot finish within 1 ms.
	var ins strings.Builder
	ins.WriteString("INSERT INTO vault VALUES ")
	for i := 2; i < 20_002; i++ {
		if i > 2 {
			ins.WriteString(", ")
		}
		fmt.Fprintf(&ins, "(%d, 'row-%d')", i, i)
	}
	if a := call(t, "POST", sql, key, sqlBody(ins.String())); a.status != 200 {
		t.Fatalf("bulk insert: %d %.300s", a.status, a.body)
	}
	body, _ := json.Marshal(map[string]any{"query": "SELECT count(*), max(secret), min(secret) FROM vault WHERE secret LIKE '%9%'", "timeout_ms": 1})
	if a := call(t, "POST", sql, key, string(body)); a.status != 408 || a.code != "57014" {
		t.Fatalf("runaway query: %+v", a)
	}
	// None of it left the server unhealthy.
	if a := call(t, "GET", d.info.SQLURL+"/healthz", "", ""); a.status != 200 {
		t.Fatalf("healthz: %+v", a)
	}
	if a := call(t, "POST", sql, key, sqlBody("SELECT count(*) FROM vault")); a.status != 200 || !strings.Contains(a.body, "20001") {
		t.Fatalf("after the checks: %+v", a)
	}
}

// TestSecurityPostgres: SCRAM over TLS with pgx (verify-full against the
// dev certificate), a wrong password (28P01), and statement_timeout
// (57014) on the PostgreSQL protocol.
func TestSecurityPostgres(t *testing.T) {
	d := startSecureDev(t)
	host, port, _ := strings.Cut(d.info.PGAddr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn := fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=phantom", host, port, d.info.PGUser, d.info.PGPassword)

	for _, mode := range []string{"sslmode=require", "sslmode=verify-full sslrootcert=" + d.info.TLSCert} {
		conn, err := pgx.Connect(ctx, dsn+" "+mode)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if _, ok := conn.PgConn().Conn().(*tls.Conn); !ok {
			t.Fatalf("%s: not a TLS connection", mode)
		}
		var v string
		if err := conn.QueryRow(ctx, "SELECT 'scram over tls'").Scan(&v); err != nil || v != "scram over tls" {
			t.Fatalf("%s: %q %v", mode, v, err)
		}
		conn.Close(ctx)
	}

	wrong := fmt.Sprintf("host=%s port=%s user=%s password=not-it dbname=phantom sslmode=require", host, port, d.info.PGUser)
	_, err := pgx.Connect(ctx, wrong)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("wrong password: %v, want 28P01", err)
	}

	conn, err := pgx.Connect(ctx, dsn+" sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE big (id INT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	var rows strings.Builder
	for i := 0; i < 20_000; i++ {
		fmt.Fprintf(&rows, "%d\tvalue-%d\n", i, i)
	}
	if _, err := conn.PgConn().CopyFrom(ctx, strings.NewReader(rows.String()), "COPY big FROM STDIN"); err != nil {
		t.Fatalf("copy: %v", err)
	}
	if _, err := conn.Exec(ctx, "SET statement_timeout = 1"); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "SELECT count(*), max(v) FROM big WHERE v LIKE '%7%'")
	if !errors.As(err, &pe) || pe.Code != "57014" || !strings.Contains(pe.Message, "statement timeout") {
		t.Fatalf("runaway query: %v, want 57014", err)
	}
	if _, err := conn.Exec(ctx, "SET statement_timeout = 0"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM big").Scan(&n); err != nil || n != 20_000 {
		t.Fatalf("after the timeout: %d %v", n, err)
	}
}

// TestPsql drives the real psql against `phantom dev`: SCRAM over TLS, a
// transaction, \copy from a file, and an error shown with its position.
func TestPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatal("psql is not installed; this test needs it")
	}
	d := startSecureDev(t)
	host, port, _ := strings.Cut(d.info.PGAddr, ":")
	csv := filepath.Join(t.TempDir(), "films.csv")
	if err := os.WriteFile(csv, []byte("id,title,year\n1,Alien,1979\n2,\"Heat, the film\",1995\n3,Up,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `CREATE TABLE films (id INT PRIMARY KEY, title TEXT NOT NULL, year INT);
BEGIN;
INSERT INTO films VALUES (10, 'Rolled back', 2000);
ROLLBACK;
BEGIN;
INSERT INTO films VALUES (20, 'Committed', 2001);
COMMIT;
\copy films FROM '` + csv + `' WITH (FORMAT csv, HEADER)
SELECT id, title, year FROM films ORDER BY id;
SELECT * FROM films WHERE;
\copy (SELECT id, title FROM films ORDER BY id) TO STDOUT WITH (FORMAT csv)
\dt
\d films
`
	run := func(password, sslmode string) (string, error) {
		cmd := exec.Command(psql, "-X", "-v", "ON_ERROR_STOP=0", "-h", host, "-p", port, "-U", d.info.PGUser, "-d", "phantom", "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGSSLMODE="+sslmode, "PGCONNECT_TIMEOUT=10")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	out, err := run(d.info.PGPassword, "require")
	if err != nil && !strings.Contains(out, "ERROR") {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	for _, want := range []string{
		"COPY 3",
		" 1 | Alien          | 1979",
		" 2 | Heat, the film | 1995",
		" 3 | Up             |     \n",
		"20 | Committed      | 2001",
		"(4 rows)",
		`syntax error at or near ";"`,
		"LINE 1: SELECT * FROM films WHERE;",
		"1,Alien\n2,\"Heat, the film\"\n3,Up\n20,Committed",
		// \dt and \d films read pg_catalog through the real page server.
		" public | films | table |",
		`Table "public.films"`,
		" title  | text    |           | not null | ",
		`"films_pkey" PRIMARY KEY, btree (id)`,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("psql output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Rolled back") {
		t.Fatalf("a rolled back row is visible:\n%s", out)
	}
	// The caret under the error position: psql prints it under the column
	// the server's position names.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "LINE 1: SELECT * FROM films WHERE;") {
			if i+1 >= len(lines) || strings.Index(lines[i+1], "^") != len("LINE 1: SELECT * FROM films WHERE") {
				t.Fatalf("caret misplaced:\n%s\n%s", l, lines[min(i+1, len(lines)-1)])
			}
		}
	}

	out, err = run("wrong-password", "require")
	if err == nil || !strings.Contains(out, "password authentication failed") {
		t.Fatalf("psql with a wrong password: %v\n%s", err, out)
	}
}

// TestHTTPS: with --http-tls the HTTP API is served over HTTPS with the dev
// certificate, which verifies for 127.0.0.1; plaintext HTTP gets no answer.
func TestHTTPS(t *testing.T) {
	d := startSecureDevTLS(t)
	if !strings.HasPrefix(d.info.SQLURL, "https://") {
		t.Fatalf("sql_url %q is not https", d.info.SQLURL)
	}
	pem, err := os.ReadFile(d.info.TLSCert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("dev certificate does not parse")
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("POST", d.info.SQLURL+"/v1/sql", strings.NewReader(sqlBody("SELECT 'over https'")))
	req.Header.Set("Authorization", "Bearer "+d.info.APIKey)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("https: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "over https") {
		t.Fatalf("https answer %d %s", resp.StatusCode, b)
	}
	plain := "http://" + strings.TrimPrefix(d.info.SQLURL, "https://") + "/v1/sql"
	if resp, err := http.Post(plain, "application/json", strings.NewReader(sqlBody("SELECT 1"))); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plaintext HTTP was served")
		}
	}
}

// startSecureDevTLS is startSecureDev with --http-tls: readiness is polled
// over HTTPS without verification (the test verifies afterwards).
func startSecureDevTLS(t *testing.T) *secureDev {
	t.Helper()
	d := &secureDev{dir: t.TempDir()}
	base := cluster.FreePortBase(t, 11)
	d.proc = cluster.Start(t, "dev", "dev", "--data-dir", d.dir, "--port-base", strconv.Itoa(base), "--http-tls", "--log-level", "warn")
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(d.dir, "dev.json"))
		if err == nil && json.Unmarshal(b, &d.info) == nil && d.info.APIKey != "" {
			return d
		}
		if d.proc.Exited() || time.Now().After(deadline) {
			t.Fatalf("dev with --http-tls did not become ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
