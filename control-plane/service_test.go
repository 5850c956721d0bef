package controlplane

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDefaultsPersistAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{DataDir: dir, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	d, err := s.Database("default", "phantom")
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != 1 {
		t.Fatalf("default database id = %d, want 1", d.ID)
	}
	d2, err := s.CreateDatabase("default", "second")
	if err != nil {
		t.Fatal(err)
	}
	if d2.ID != 2 {
		t.Fatalf("second database id = %d, want 2", d2.ID)
	}
	_ = s.Close()
	s2, err := New(Config{DataDir: dir, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	got, err := s2.Database("default", "second")
	if err != nil || got.ID != 2 {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	d3, err := s2.CreateDatabase("default", "third")
	if err != nil || d3.ID != 3 {
		t.Fatalf("ids must never be reused: %+v, %v", d3, err)
	}
	if _, err := s2.CreateDatabase("default", "second"); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate database: %v", err)
	}
	if _, err := s2.CreateDatabase("nope", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing tenant: %v", err)
	}
}

func TestHTTPAPI(t *testing.T) {
	s, err := New(Config{DataDir: t.TempDir(), MaxBodyBytes: 64, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: content type %q", method, path, ct)
		}
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp.StatusCode, m
	}

	if code, _ := do("GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	code, m := do("GET", "/v1/tenants/default/databases/phantom", "")
	if code != 200 || m["id"].(float64) != 1 {
		t.Fatalf("get default db: %d %v", code, m)
	}
	if code, m = do("POST", "/v1/tenants/default/databases", `{"name":"app"}`); code != 201 {
		t.Fatalf("create db: %d %v", code, m)
	}
	if code, _ = do("POST", "/v1/tenants/default/databases", `{"name":"app"}`); code != 409 {
		t.Fatalf("duplicate create: %d", code)
	}
	if code, _ = do("POST", "/v1/tenants/default/databases", `{"name":"Bad Name"}`); code != 400 {
		t.Fatalf("bad name: %d", code)
	}
	if code, _ = do("POST", "/v1/tenants/default/databases", `{"name":`); code != 400 {
		t.Fatalf("bad json: %d", code)
	}
	if code, _ = do("POST", "/v1/tenants/default/databases", `{"name":"`+strings.Repeat("a", 100)+`"}`); code != 413 {
		t.Fatalf("oversized body: %d", code)
	}
	if code, m = do("GET", "/v1/tenants/ghost/databases", ""); code != 404 {
		t.Fatalf("missing tenant: %d", code)
	}
	if m["error"].(map[string]any)["code"] != "not_found" {
		t.Fatalf("error body: %v", m)
	}
	if code, m = do("GET", "/v1/nodes", ""); code != 200 {
		t.Fatalf("nodes: %d %v", code, m)
	}
}
