package main

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/natsbus"
)

// TestPageServersFollowHeartbeats: the compute's page server list starts
// with --pageserver, adds page servers of its shard that heartbeat, skips
// other shards and drops a page server once it stops heartbeating.
func TestPageServersFollowHeartbeats(t *testing.T) {
	ns, err := natsbus.StartEmbedded(natsbus.ServerConfig{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	p, err := newPageServers("10.0.0.1:1, 10.0.0.2:2", ns.ClientURL(), 0, 500*time.Millisecond, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	addrs := func() []string {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.Clone(p.last)
	}
	if got := addrs(); !slices.Equal(got, []string{"10.0.0.1:1", "10.0.0.2:2"}) {
		t.Fatalf("initial list %v", got)
	}
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	beat := func(id, addr string, shard float64) func() {
		stop, err := natsbus.StartPublisher(t.Context(), nc, natsbus.PublisherConfig{Interval: 50 * time.Millisecond,
			Heartbeat: func() natsbus.Heartbeat {
				return natsbus.Heartbeat{NodeID: id, Role: natsbus.RolePageServer, Address: addr, StartedAt: time.Unix(1, 0),
					Load: natsbus.Load{Extra: map[string]float64{"shard": shard}}}
			}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return stop
	}
	wait := func(what string, want []string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !slices.Equal(addrs(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: list %v, want %v", what, addrs(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stopA := beat("page-a", "10.0.0.1:1", 0)
	stopOther := beat("page-x", "10.0.0.9:9", 1) // another shard
	defer stopOther()
	stopB := beat("page-b", "10.0.0.3:3", 0)
	defer stopB()
	wait("a and b heartbeat", []string{"10.0.0.1:1", "10.0.0.2:2", "10.0.0.3:3"})
	stopA()
	wait("a declared dead", []string{"10.0.0.2:2", "10.0.0.3:3"})
}
