package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/timeline"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// fakeLog is an in-memory LogService: a clock of hybrid timestamps and the
// latest value of every committed key.
type fakeLog struct {
	mu   sync.Mutex
	ts   uint64
	kv   map[string][]byte
	fail error
}

func newFakeLog(now time.Time) *fakeLog {
	return &fakeLog{ts: uint64(now.UnixMilli()) << hybridLogicalBits, kv: map[string][]byte{}}
}

func (l *fakeLog) GetTimestamp(ctx context.Context, n uint32) (uint64, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return 0, 0, l.fail
	}
	l.ts++
	return l.ts, 1, nil
}

func (l *fakeLog) Commit(ctx context.Context, startTS uint64, muts []*wirepb.Mutation, reads []*wirepb.KeyRange) (uint64, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ts++
	for _, m := range muts {
		if m.GetDelete() {
			delete(l.kv, string(m.GetKey()))
		} else {
			l.kv[string(m.GetKey())] = m.GetValue()
		}
	}
	return l.ts, 1, nil
}

func (l *fakeLog) get(k []byte) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.kv[string(k)]
	return v, ok
}

func TestBranchesHTTP(t *testing.T) {
	now := time.Now()
	log := newFakeLog(now)
	dir := t.TempDir()
	s, err := New(Config{DataDir: dir, Log: log, Retention: time.Hour, AdminToken: testAdminToken})
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
		var m map[string]any
		if resp.StatusCode != http.StatusNoContent {
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
		return resp.StatusCode, m
	}
	const base = "/v1/tenants/default/databases/phantom/branches"

	// A branch in the past, by RFC 3339 time.
	past := now.Add(-10 * time.Minute).UTC()
	code, m := do("POST", base, fmt.Sprintf(`{"name":"dev","at":%q}`, past.Format(time.RFC3339Nano)))
	if code != 201 {
		t.Fatalf("create dev: %d %v", code, m)
	}
	devID := uint64(m["id"].(float64))
	wantFork := uint64(past.UnixMilli())<<hybridLogicalBits | (1<<hybridLogicalBits - 1)
	if devID != 2 || m["parent"] != "main" || m["name"] != "dev" {
		t.Fatalf("create dev answered %v", m)
	}
	// The records went through the log.
	v, ok := log.get(keys.TimelineKey(devID))
	if !ok {
		t.Fatal("no timeline record committed")
	}
	tl, err := timeline.DecodeTimeline(devID, v)
	if err != nil || tl.Parent != 1 || tl.ForkTS != wantFork {
		t.Fatalf("timeline record %+v, %v; want parent 1 fork %d", tl, err, wantFork)
	}
	v, ok = log.get(keys.BranchKey(1, "dev"))
	if !ok {
		t.Fatal("no branch record committed")
	}
	br, err := timeline.DecodeBranch(v)
	if err != nil || br.ID != devID || br.ParentID != 1 || br.Database != 1 || br.ForkTS != wantFork {
		t.Fatalf("branch record %+v, %v", br, err)
	}

	// A branch of the branch, now (the default), by hybrid timestamp number.
	if code, m = do("POST", base, `{"name":"feature","parent":"dev"}`); code != 201 || m["parent"] != "dev" || m["id"].(float64) != 3 {
		t.Fatalf("create feature: %d %v", code, m)
	}
	v, _ = log.get(keys.TimelineKey(3))
	if tl, err = timeline.DecodeTimeline(3, v); err != nil || tl.Parent != devID {
		t.Fatalf("feature's timeline %+v, %v", tl, err)
	}
	hybrid := uint64(now.Add(-time.Minute).UnixMilli()) << hybridLogicalBits
	if code, m = do("POST", base, fmt.Sprintf(`{"name":"num","at":%d}`, hybrid+5)); code != 201 {
		t.Fatalf("create by number: %d %v", code, m)
	}
	v, _ = log.get(keys.TimelineKey(uint64(m["id"].(float64))))
	if tl, err = timeline.DecodeTimeline(4, v); err != nil || tl.ForkTS != hybrid+5 {
		t.Fatalf("num's timeline %+v, %v; want fork %d (exact, not through a float)", tl, err, hybrid+5)
	}

	bad := []struct {
		body string
		code int
	}{
		{`{"name":"main"}`, 400},
		{`{"name":"Bad Name"}`, 400},
		{`{"name":"dev"}`, 409},
		{`{"name":"x","parent":"ghost"}`, 404},
		{fmt.Sprintf(`{"name":"x","at":%q}`, now.Add(time.Hour).Format(time.RFC3339)), 400},
		{fmt.Sprintf(`{"name":"x","at":%q}`, now.Add(-2*time.Hour).Format(time.RFC3339)), 400},
		{`{"name":"x","at":"yesterday"}`, 400},
		{`{"name":"x","at":true}`, 400},
	}
	for _, c := range bad {
		if code, m := do("POST", base, c.body); code != c.code || m["error"] == nil {
			t.Errorf("POST %s: %d %v, want %d with an error body", c.body, code, m, c.code)
		}
	}
	if code, _ := do("POST", "/v1/tenants/default/databases/ghost/branches", `{"name":"x"}`); code != 404 {
		t.Errorf("branch of a missing database: %d", code)
	}

	code, m = do("GET", base, "")
	if code != 200 || len(m["branches"].([]any)) != 3 {
		t.Fatalf("list: %d %v", code, m)
	}
	if code, m = do("GET", base+"/feature", ""); code != 200 || m["parent"] != "dev" {
		t.Fatalf("get feature: %d %v", code, m)
	}

	// A parent with a live child cannot go.
	if code, m = do("DELETE", base+"/dev", ""); code != 409 {
		t.Fatalf("delete a parent: %d %v", code, m)
	}
	if code, _ = do("DELETE", base+"/feature", ""); code != 204 {
		t.Fatalf("delete feature: %d", code)
	}
	if _, ok := log.get(keys.TimelineKey(3)); ok {
		t.Fatal("feature's timeline record survived its deletion")
	}
	if _, ok := log.get(keys.BranchKey(1, "feature")); ok {
		t.Fatal("feature's branch record survived its deletion")
	}
	if code, _ = do("DELETE", base+"/dev", ""); code != 204 {
		t.Fatalf("delete dev: %d", code)
	}
	if code, _ = do("DELETE", base+"/dev", ""); code != 404 {
		t.Fatalf("delete dev again: %d", code)
	}

	// Ids are never reused, also across a restart.
	_ = s.Close()
	s2, err := New(Config{DataDir: dir, Log: log, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	b, err := s2.CreateBranch(context.Background(), "default", "phantom", "dev", "", 0)
	if err != nil || b.ID != 5 {
		t.Fatalf("re-created dev: %+v, %v; want id 5", b, err)
	}
	if bs, _ := s2.Branches("default", "phantom"); len(bs) != 2 {
		t.Fatalf("after restart: %d branches, want 2 (num, dev)", len(bs))
	}
}

func TestBranchesWithoutLogService(t *testing.T) {
	s, err := New(Config{DataDir: t.TempDir(), AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/tenants/default/databases/phantom/branches", strings.NewReader(`{"name":"dev"}`))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("create without a log service: %d, want 503", resp.StatusCode)
	}
}
