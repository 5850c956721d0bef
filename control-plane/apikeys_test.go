package controlplane

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

const testAdminToken = "test-admin-token-0123456789"

// apiCall is a JSON call to the control plane API with an optional bearer
// token.
func apiCall(t *testing.T, base, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode, m
}

func TestAdminTokenRequired(t *testing.T) {
	if _, err := New(Config{DataDir: t.TempDir()}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("New without an admin token: %v, want ErrInvalid", err)
	}
	s, err := New(Config{DataDir: t.TempDir(), AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if code, _ := apiCall(t, srv.URL, "", "GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz without token: %d", code)
	}
	for _, tok := range []string{"", "wrong-token", testAdminToken + "x"} {
		for _, path := range []string{"/v1/tenants", "/v1/tenants/default/api-keys", "/v1/nodes"} {
			code, m := apiCall(t, srv.URL, tok, "GET", path, "")
			if code != 401 || m["error"].(map[string]any)["code"] != "unauthenticated" {
				t.Fatalf("GET %s with token %q: %d %v", path, tok, code, m)
			}
		}
	}
	if code, _ := apiCall(t, srv.URL, testAdminToken, "GET", "/v1/tenants", ""); code != 200 {
		t.Fatalf("with the admin token: %d", code)
	}
}

func TestAPIKeysLifecycle(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{DataDir: dir, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	call := func(method, path, body string) (int, map[string]any) {
		return apiCall(t, srv.URL, testAdminToken, method, path, body)
	}
	code, m := call("POST", "/v1/tenants/default/api-keys", `{"database":"phantom","read_only":true}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	key, id := m["key"].(string), m["id"].(string)
	if !strings.HasPrefix(key, "phk_"+id+"_") || m["read_only"] != true || m["database"] != "phantom" {
		t.Fatalf("created key: %v", m)
	}
	// The secret is stored only as a digest: no file of the replica (Raft
	// log, stable store, snapshots) holds it.
	secret := strings.TrimPrefix(key, "phk_"+id+"_")
	var files int
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if strings.Contains(string(raw), secret) {
			t.Errorf("%s holds the secret in the clear", path)
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("walk %s: %d files, %v", dir, files, err)
	}
	if code, m = call("POST", "/v1/auth/verify", `{"key":"`+key+`"}`); code != 200 || m["id"] != id || m["tenant"] != "default" {
		t.Fatalf("verify: %d %v", code, m)
	}
	bad := key[:len(key)-1] + map[bool]string{true: "0", false: "1"}[key[len(key)-1] != '0']
	for _, k := range []string{bad, "phk_nothing", "", "Bearer " + key} {
		if code, m = call("POST", "/v1/auth/verify", `{"key":"`+k+`"}`); code != 401 {
			t.Fatalf("verify %q: %d %v", k, code, m)
		}
	}
	code, m = call("GET", "/v1/tenants/default/api-keys", "")
	if code != 200 || len(m["api_keys"].([]any)) != 1 || strings.Contains(mustJSON(t, m), secret) {
		t.Fatalf("list: %d %v", code, m)
	}
	if code, _ = call("POST", "/v1/tenants/default/api-keys", `{"database":"ghost"}`); code != 404 {
		t.Fatalf("key for a missing database: %d", code)
	}
	if code, _ = call("POST", "/v1/tenants/ghost/api-keys", `{}`); code != 404 {
		t.Fatalf("key for a missing tenant: %d", code)
	}

	// Keys survive a restart and revocation is durable.
	_ = s.Close()
	s2, err := New(Config{DataDir: dir, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	srv.Config.Handler = s2.Handler()
	if _, err := s2.VerifyAPIKey(key); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if code, _ = call("DELETE", "/v1/tenants/other/api-keys/"+id, ""); code != 404 {
		t.Fatalf("revoke through another tenant: %d", code)
	}
	if code, _ = call("DELETE", "/v1/tenants/default/api-keys/"+id, ""); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ = call("POST", "/v1/auth/verify", `{"key":"`+key+`"}`); code != 401 {
		t.Fatalf("verify after revoke: %d", code)
	}
	_ = s2.Close()
	s3, err := New(Config{DataDir: dir, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s3.Close() })
	if _, err := s3.VerifyAPIKey(key); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked key after restart: %v", err)
	}
}

func TestRolesStoreSCRAMVerifier(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{DataDir: dir, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	call := func(method, path, body string) (int, map[string]any) {
		return apiCall(t, srv.URL, testAdminToken, method, path, body)
	}
	const password = "correct horse battery staple"
	if code, m := call("POST", "/v1/tenants/default/roles", `{"name":"app","password":"`+password+`"}`); code != 201 || m["name"] != "app" {
		t.Fatalf("create role: %d %v", code, m)
	}
	if code, _ := call("POST", "/v1/tenants/default/roles", `{"name":"app","password":"x"}`); code != 409 {
		t.Fatalf("duplicate role: %d", code)
	}
	if code, _ := call("POST", "/v1/tenants/default/roles", `{"name":"empty","password":""}`); code != 400 {
		t.Fatalf("empty password: %d", code)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "auth.json"))
	if strings.Contains(string(raw), password) {
		t.Fatal("auth.json holds the password")
	}
	code, m := call("GET", "/v1/tenants/default/roles/app/scram", "")
	if code != 200 {
		t.Fatalf("verifier: %d %v", code, m)
	}
	// The verifier is the one RFC 5802 defines for this password.
	salt, _ := base64.StdEncoding.DecodeString(m["salt"].(string))
	c, _ := scram.SHA256.NewClient("app", password, "")
	want := c.GetStoredCredentials(scram.KeyFactors{Salt: string(salt), Iters: int(m["iterations"].(float64))})
	if m["stored_key"] != base64.StdEncoding.EncodeToString(want.StoredKey) ||
		m["server_key"] != base64.StdEncoding.EncodeToString(want.ServerKey) {
		t.Fatalf("verifier %v does not match the password", m)
	}
	if code, _ := call("GET", "/v1/tenants/other/roles/app/scram", ""); code != 404 {
		t.Fatalf("role through another tenant: %d", code)
	}
	if code, _ := call("DELETE", "/v1/tenants/default/roles/app", ""); code != 204 {
		t.Fatalf("drop role: %d", code)
	}
	if code, _ := call("GET", "/v1/tenants/default/roles/app/scram", ""); code != 404 {
		t.Fatalf("dropped role: %d", code)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
