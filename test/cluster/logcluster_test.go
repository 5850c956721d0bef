package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/wirepb"
)

func TestLogClusterFailoverAndPartition(t *testing.T) {
	c := StartLogCluster(t, LogClusterConfig{Proxies: true})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl := c.Client()
	commit := func(key string) uint64 {
		t.Helper()
		for {
			start, _, err := cl.GetTimestamp(ctx, 1)
			if err == nil {
				var idx uint64
				_, idx, err = cl.Commit(ctx, start, []*wirepb.Mutation{{Key: []byte(key), Value: []byte("v")}}, nil)
				if err == nil {
					return idx
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("commit %s: %v", key, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var idx []uint64
	idx = append(idx, commit("a"))

	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Kill(leader)
	idx = append(idx, commit("b"))
	next, err := c.Leader(ctx)
	if err != nil || next == leader {
		t.Fatalf("leader after kill: %d (was %d), %v", next, leader, err)
	}
	c.Restart(leader)

	follower := (next + 1) % len(c.Nodes)
	c.Partition(follower)
	idx = append(idx, commit("c"))
	c.Heal(follower)
	idx = append(idx, commit("d"))

	for i := range c.Nodes {
		got, err := c.ReadLog(ctx, i, idx[len(idx)-1])
		if err != nil {
			t.Fatal(err)
		}
		var have []uint64
		for _, e := range got {
			have = append(have, e.GetIndex())
		}
		for _, want := range idx {
			found := false
			for _, h := range have {
				found = found || h == want
			}
			if !found {
				t.Fatalf("%s: log indexes %v miss acknowledged commit %d", c.Nodes[i].ID, have, want)
			}
		}
	}
}
