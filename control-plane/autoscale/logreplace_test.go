package autoscale

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	controlplane "github.com/phantom-db/phantom/control-plane"
	"github.com/phantom-db/phantom/control-plane/provision"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// fakeGroup is a log group configuration with the calls made to it.
type fakeGroup struct {
	mu      sync.Mutex
	members []string
	calls   []string
}

func (g *fakeGroup) conf() *wirepb.ConfigurationResponse {
	var out []*wirepb.ServerInfo
	for _, m := range g.members {
		out = append(out, &wirepb.ServerInfo{Id: m, Suffrage: "Voter"})
	}
	return &wirepb.ConfigurationResponse{Servers: out}
}

func (g *fakeGroup) Configuration(ctx context.Context) (*wirepb.ConfigurationResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conf(), nil
}

func (g *fakeGroup) RemoveServer(ctx context.Context, id string) (*wirepb.ConfigurationResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, "remove "+id)
	g.members = slices.DeleteFunc(g.members, func(m string) bool { return m == id })
	return g.conf(), nil
}

func (g *fakeGroup) AddVoter(ctx context.Context, id, raftAddr, apiAddr string) (*wirepb.ConfigurationResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, "add "+raftAddr)
	g.members = append(g.members, id)
	return g.conf(), nil
}

type fakeReplicas struct{ started int }

func (f *fakeReplicas) Start(ctx context.Context, id string) (provision.LogReplica, error) {
	f.started++
	return provision.LogReplica{ID: id, GRPCAddr: "g", RaftAddr: "r"}, nil
}

func (f *fakeReplicas) Stop(string) {}

// TestLogReplacer: a dead member is removed, then a new replica added as a
// voter, once; a dead node that is not a member is ignored.
func TestLogReplacer(t *testing.T) {
	g := &fakeGroup{members: []string{"log-1", "log-2", "log-3"}}
	nodes := []controlplane.ClusterNode{
		{ID: "log-1", Role: "logservice", Health: "alive"},
		{ID: "log-2", Role: "logservice", Health: "dead"},
		{ID: "log-9", Role: "logservice", Health: "dead"}, // removed long ago
	}
	reps := &fakeReplicas{}
	r, err := NewLogReplacer(LogReplacerConfig{Nodes: func() []controlplane.ClusterNode { return nodes }, Admin: g, Replicas: reps,
		Interval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a replacement", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.calls) == 2
	})
	time.Sleep(50 * time.Millisecond)
	r.Close()
	g.mu.Lock()
	defer g.mu.Unlock()
	if !slices.Equal(g.calls, []string{"remove log-2", "add r"}) || len(g.members) != 3 || reps.started != 1 {
		t.Fatalf("calls %v, members %v, %d started", g.calls, g.members, reps.started)
	}
}
