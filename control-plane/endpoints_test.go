package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func do(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, path, rec.Body.String(), err)
		}
	}
	return rec.Code, m
}

func TestEndpointsCRUDPersist(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{DataDir: dir, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	h := s.Handler()
	const base = "/v1/tenants/default/databases/phantom/endpoints"
	code, m := do(t, h, "POST", base, `{"name":"main","min_computes":0,"max_computes":3,"idle_timeout_ms":2000,"policy":{"target_in_flight":2,"scale_up_cooldown_ms":1000,"scale_down_cooldown_ms":2000}}`)
	if code != http.StatusCreated || m["id"] != "ep-1" || m["branch"] != "main" || m["mode"] != "read-write" {
		t.Fatalf("create: %d %v", code, m)
	}
	// One read-write endpoint per branch; read-only replicas are fine.
	if code, _ := do(t, h, "POST", base, `{"name":"other"}`); code != http.StatusConflict {
		t.Fatalf("second read-write endpoint on main: %d, want 409", code)
	}
	if code, m := do(t, h, "POST", base, `{"name":"ro","mode":"read-only"}`); code != http.StatusCreated || m["id"] != "ep-2" {
		t.Fatalf("read-only endpoint: %d %v", code, m)
	}
	for _, bad := range []string{
		`{"name":"x","min_computes":4,"max_computes":3,"branch":"b"}`,
		`{"name":"x","max_computes":0,"branch":"b"}`,
		`{"name":"x","mode":"sideways","branch":"b"}`,
		`{"name":"X!"}`,
		`{"name":"x","branch":"b","policy":{"target_in_flight":0}}`,
		`{"name":"x","bogus":1}`,
	} {
		if code, m := do(t, h, "POST", base, bad); code != http.StatusBadRequest || m["error"] == nil {
			t.Fatalf("POST %s: %d %v, want 400 with an error body", bad, code, m)
		}
	}
	if code, _ := do(t, h, "POST", "/v1/tenants/default/databases/nope/endpoints", `{"name":"a"}`); code != http.StatusNotFound {
		t.Fatalf("endpoint of a missing database: %d", code)
	}
	if code, m := do(t, h, "PATCH", base+"/main", `{"min_computes":1}`); code != http.StatusOK || m["min_computes"] != float64(1) || m["max_computes"] != float64(3) {
		t.Fatalf("patch: %d %v", code, m)
	}
	if code, _ := do(t, h, "PATCH", base+"/main", `{"min_computes":9}`); code != http.StatusBadRequest {
		t.Fatalf("patch min > max: %d", code)
	}
	if code, m := do(t, h, "GET", base+"/main/computes", ""); code != http.StatusOK || len(m["computes"].([]any)) != 0 {
		t.Fatalf("computes without a scaler: %d %v", code, m)
	}
	if code, _ := do(t, h, "POST", base+"/main/wake", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("wake without a scaler: %d", code)
	}

	// Restart: the endpoints and the id counter survive; ids are not reused.
	_ = s.Close()
	s2, err := New(Config{DataDir: dir, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	eps, err := s2.Endpoints("default", "phantom")
	if err != nil || len(eps) != 2 || eps[0].MinComputes != 1 || eps[0].IdleTimeoutMS != 2000 || eps[0].Policy.TargetInFlight != 2 {
		t.Fatalf("after restart: %+v %v", eps, err)
	}
	if err := s2.DeleteEndpoint("default", "phantom", "ro"); err != nil {
		t.Fatal(err)
	}
	if err := s2.DeleteEndpoint("default", "phantom", "ro"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	e, err := s2.CreateEndpoint("default", "phantom", EndpointSpec{Name: "ro2", Mode: ModeReadOnly})
	if err != nil || e.ID != "ep-3" {
		t.Fatalf("id after delete: %+v %v", e, err)
	}
	if code, _ := do(t, s2.Handler(), "DELETE", base+"/main", ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
}

type fakeScaler struct{ woke []string }

func (f *fakeScaler) Computes(id string) []Compute {
	if len(f.woke) == 0 {
		return nil
	}
	return []Compute{{ID: id + "-c1", Endpoint: id, HTTPAddr: "127.0.0.1:1", State: "ready"}}
}

func (f *fakeScaler) Wake(ctx context.Context, id string) error {
	f.woke = append(f.woke, id)
	return nil
}

func TestEndpointWakeAndComputes(t *testing.T) {
	s, err := New(Config{DataDir: t.TempDir(), AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.CreateEndpoint("default", "phantom", EndpointSpec{Name: "main"}); err != nil {
		t.Fatal(err)
	}
	f := &fakeScaler{}
	s.SetScaler(f)
	h := s.Handler()
	const base = "/v1/tenants/default/databases/phantom/endpoints/main"
	if code, _ := do(t, h, "POST", base+"/wake?timeout_ms=abc", ""); code != http.StatusBadRequest {
		t.Fatalf("bad timeout: %d", code)
	}
	code, m := do(t, h, "POST", base+"/wake", "")
	if code != http.StatusOK || len(f.woke) != 1 || f.woke[0] != "ep-1" || len(m["computes"].([]any)) != 1 {
		t.Fatalf("wake: %d %v %v", code, m, f.woke)
	}
	if code, _ := do(t, h, "POST", "/v1/tenants/default/databases/phantom/endpoints/none/wake", ""); code != http.StatusNotFound {
		t.Fatalf("wake of a missing endpoint: %d", code)
	}
}
