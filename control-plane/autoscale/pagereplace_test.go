package autoscale

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	controlplane "github.com/phantom-db/phantom/control-plane"
)

func pageNode(id string, shard int, alive bool) controlplane.ClusterNode {
	h := "dead"
	if alive {
		h = "alive"
	}
	return controlplane.ClusterNode{ID: id, Role: "pageserver", Health: h, Load: map[string]float64{controlplane.LoadShard: float64(shard)}}
}

func TestOrphans(t *testing.T) {
	got := Orphans([]controlplane.ClusterNode{
		pageNode("a", 0, false), pageNode("b", 0, true), // shard 0 still served
		pageNode("c", 1, false), pageNode("d", 1, false), // shard 1 orphaned
		{ID: "x", Role: "compute", Health: "dead"},
	})
	if len(got) != 1 || len(got[1]) != 2 {
		t.Fatalf("orphans %v, want shard 1 with c and d", got)
	}
}

// TestReplacerStartsOnePerShard: an orphaned shard gets exactly one
// replacement, even across many checks, and none once it is alive.
func TestReplacerStartsOnePerShard(t *testing.T) {
	var mu sync.Mutex
	nodes := []controlplane.ClusterNode{pageNode("page-1", 0, true)}
	var started []string
	r, err := NewPageServerReplacer(ReplacerConfig{
		Nodes: func() []controlplane.ClusterNode {
			mu.Lock()
			defer mu.Unlock()
			return append([]controlplane.ClusterNode(nil), nodes...)
		},
		Start: func(ctx context.Context, id string, shard int) error {
			time.Sleep(50 * time.Millisecond) // a start takes several checks
			mu.Lock()
			defer mu.Unlock()
			started = append(started, id)
			nodes = append(nodes, pageNode(id, shard, true))
			return nil
		},
		Interval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	if len(started) != 0 {
		t.Fatalf("started %v while the shard was served", started)
	}
	nodes[0] = pageNode("page-1", 0, false)
	mu.Unlock()
	waitFor(t, "a replacement", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(started) == 1
	})
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(started) != 1 {
		t.Fatalf("started %v, want exactly one replacement", started)
	}
}
