package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	controlplane "github.com/phantom-db/phantom/control-plane"
)

func TestStatusCommand(t *testing.T) {
	now := time.Now().UTC()
	view := controlplane.Cluster{At: now,
		Nodes: []controlplane.ClusterNode{
			{ID: "page-1", Role: "pageserver", Address: "127.0.0.1:1", Health: "alive", LastSeen: now.Add(-time.Second),
				Load: map[string]float64{"shard": 0, "applied_index": 42}},
			{ID: "ep-1-c1", Role: "compute", Address: "127.0.0.1:2", Health: "dead", LastSeen: now.Add(-time.Minute)},
		},
		Shards:    []controlplane.ClusterShard{{ID: 0, PageServers: []string{"page-1"}, AppliedIndex: 42, CheckpointIndex: 40}},
		Endpoints: []controlplane.ClusterEndpoint{{ID: "ep-1", Name: "main", Tenant: "default", Database: "phantom", Branch: "main", Mode: "read-write", MinComputes: 1, MaxComputes: 3, Computes: 1, Ready: 1, ComputeIDs: []string{"ep-1-c2:ready"}}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/cluster" || r.Header.Get("Authorization") != "Bearer good-token" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unauthenticated","message":"missing or wrong admin token"}}`))
			return
		}
		_ = json.NewEncoder(w).Encode(view)
	}))
	defer srv.Close()
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := statusCommand(&out).ParseAndRun(context.Background(), args)
		return out.String(), err
	}
	out, err := run("--control-plane", srv.URL, "--control-plane-token", "good-token")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ID       ROLE        ADDRESS      HEALTH  LAST SEEN  LOAD",
		"ep-1-c1  compute     127.0.0.1:2  dead    1m0s ago   -",
		"page-1   pageserver  127.0.0.1:1  alive   1s ago     applied_index=42 shard=0",
		"0      page-1        42             40",
		"ep-1  main  default/phantom  main    read-write  1         1      1    3    ep-1-c2:ready",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("status lacks %q:\n%s", want, out)
		}
	}
	out, err = run("--json", "--control-plane", srv.URL, "--control-plane-token", "good-token")
	var back controlplane.Cluster
	if err != nil || json.Unmarshal([]byte(out), &back) != nil || len(back.Nodes) != 2 {
		t.Fatalf("--json: %v %s", err, out)
	}
	if _, err := run("--control-plane", srv.URL, "--control-plane-token", "bad"); err == nil || !strings.Contains(err.Error(), "refused the token") {
		t.Fatalf("wrong token: %v", err)
	}
}
