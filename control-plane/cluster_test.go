package controlplane

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fakeMembers lists fixed nodes.
type fakeMembers struct{ nodes []ClusterNode }

func (f fakeMembers) Nodes() any                  { return f.nodes }
func (f fakeMembers) ClusterNodes() []ClusterNode { return f.nodes }

// listScaler lists fixed computes per endpoint id.
type listScaler map[string][]Compute

func (f listScaler) Computes(id string) []Compute                    { return f[id] }
func (f listScaler) Wake(ctx context.Context, endpoint string) error { return nil }

func TestClusterView(t *testing.T) {
	now := time.Now().UTC()
	members := fakeMembers{nodes: []ClusterNode{
		{ID: "page-1", Role: "pageserver", Address: "127.0.0.1:1", Health: "alive", LastSeen: now,
			Load: map[string]float64{LoadShard: 0, LoadAppliedIndex: 40, LoadCheckpointIndex: 30}},
		{ID: "page-2", Role: "pageserver", Address: "127.0.0.1:2", Health: "alive", LastSeen: now,
			Load: map[string]float64{LoadShard: 0, LoadAppliedIndex: 42, LoadCheckpointIndex: 12}},
		{ID: "page-3", Role: "pageserver", Address: "127.0.0.1:3", Health: "dead", LastSeen: now.Add(-time.Minute),
			Load: map[string]float64{LoadShard: 1, LoadAppliedIndex: 99}},
		{ID: "ep-1-c1", Role: "compute", Address: "127.0.0.1:4", Health: "alive", LastSeen: now},
	}}
	s, err := New(Config{DataDir: t.TempDir(), AdminToken: testAdminToken, Members: members})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	const base = "/v1/tenants/default/databases/phantom/endpoints"
	if code, m := do(t, h, "POST", base, `{"name":"main","min_computes":1,"max_computes":3}`); code != http.StatusCreated {
		t.Fatalf("create endpoint: %d %v", code, m)
	}
	s.SetScaler(listScaler{"ep-1": {{ID: "ep-1-c1", State: "ready"}, {ID: "ep-1-c2", State: "starting"}, {ID: "ep-1-c0", State: "draining"}}})

	// The admin token is required.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/cluster", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/cluster without a token: %d", rec.Code)
	}

	c, err := s.ClusterView()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nodes) != 4 {
		t.Fatalf("nodes: %+v", c.Nodes)
	}
	// Shard 0 has two alive page servers; shard 1's only one is dead, so
	// it is not served.
	if len(c.Shards) != 1 || c.Shards[0].ID != 0 || len(c.Shards[0].PageServers) != 2 ||
		c.Shards[0].AppliedIndex != 42 || c.Shards[0].CheckpointIndex != 30 {
		t.Fatalf("shards: %+v", c.Shards)
	}
	if len(c.Endpoints) != 1 {
		t.Fatalf("endpoints: %+v", c.Endpoints)
	}
	ep := c.Endpoints[0]
	if ep.Name != "main" || ep.Computes != 2 || ep.Ready != 1 || ep.MinComputes != 1 || ep.MaxComputes != 3 || len(ep.ComputeIDs) != 3 {
		t.Fatalf("endpoint: %+v", ep)
	}
	code, m := do(t, h, "GET", "/v1/cluster", "")
	if code != http.StatusOK || len(m["nodes"].([]any)) != 4 || len(m["endpoints"].([]any)) != 1 {
		t.Fatalf("GET /v1/cluster: %d %v", code, m)
	}
}

func TestShardOfPrefix(t *testing.T) {
	for in, want := range map[string]int{"shards/0/": 0, "shards/12/": 12, "shards/x/": -1, "other/": -1, "shards/": -1, "shards/-1/": -1} {
		if got := ShardOfPrefix(in); got != want {
			t.Errorf("ShardOfPrefix(%q) = %d, want %d", in, got, want)
		}
	}
}
