package autoscale

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	controlplane "github.com/phantom-db/phantom/control-plane"
	"github.com/phantom-db/phantom/control-plane/provision"
	"github.com/phantom-db/phantom/internal/natsbus"
)

// fakeProv is an in-memory Provisioner: Start makes an instance ready at
// once, Drain removes it.
type fakeProv struct {
	mu     sync.Mutex
	n      int
	insts  map[string]provision.Instance
	starts int
	drains []string
}

func (f *fakeProv) Start(ctx context.Context, s provision.Spec) (provision.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.starts++
	in := provision.Instance{ID: fmt.Sprintf("%s-c%d", s.Endpoint, f.n), Endpoint: s.Endpoint, HTTPAddr: "127.0.0.1:1",
		State: provision.StateReady, StartedAt: time.Now(), ReadyAt: time.Now()}
	f.insts[in.ID] = in
	return in, nil
}

func (f *fakeProv) Drain(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.insts, id)
	f.drains = append(f.drains, id)
	return nil
}

func (f *fakeProv) Instances(ep string) []provision.Instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []provision.Instance
	for _, in := range f.insts {
		if ep == "" || in.Endpoint == ep {
			out = append(out, in)
		}
	}
	return out
}

func (f *fakeProv) Close() error { return nil }

func (f *fakeProv) count(ep string) int { return len(f.Instances(ep)) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestControllerWakeLoadIdleAndDelete(t *testing.T) {
	ns, err := natsbus.StartEmbedded(natsbus.ServerConfig{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	events := make(chan natsbus.ScaleEvent, 100)
	if _, err := nc.Subscribe(natsbus.ScaleWildcard, func(m *nats.Msg) {
		if ev, err := natsbus.DecodeScaleEvent(m.Subject, m.Data); err == nil {
			events <- ev
		}
	}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	eps := []controlplane.Endpoint{{ID: "ep-1", Tenant: "default", Database: "phantom", Branch: "main", MinComputes: 0, MaxComputes: 3,
		IdleTimeoutMS: 600, Policy: controlplane.ScalingPolicy{TargetInFlight: 1}}}
	prov := &fakeProv{insts: map[string]provision.Instance{}}
	c, err := New(Config{
		Endpoints: func() ([]controlplane.Endpoint, error) {
			mu.Lock()
			defer mu.Unlock()
			return append([]controlplane.Endpoint(nil), eps...), nil
		},
		Provisioner: prov, Conn: nc, Interval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	time.Sleep(100 * time.Millisecond)
	if prov.count("ep-1") != 0 {
		t.Fatal("min 0 endpoint started a compute without a wake")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Wake(ctx, "ep-1"); err != nil {
		t.Fatal(err)
	}
	if n := prov.count("ep-1"); n != 1 {
		t.Fatalf("after wake: %d computes", n)
	}
	if cs := c.Computes("ep-1"); len(cs) != 1 || cs[0].State != provision.StateReady {
		t.Fatalf("computes: %+v", cs)
	}

	// Load 2.5 on the one compute: 3 computes (target 1 per compute).
	id := prov.Instances("ep-1")[0].ID
	publishLoad := func(node string, conc float64) {
		b, _ := json.Marshal(natsbus.ComputeLoad{Endpoint: "ep-1", NodeID: node, HTTPAddr: "x", Concurrency: conc, InFlight: int(conc)})
		subj, _ := natsbus.ComputeLoadSubject("ep-1")
		if err := nc.Publish(subj, b); err != nil {
			t.Fatal(err)
		}
	}
	publishLoad(id, 2.5)
	waitFor(t, "3 computes under load", func() bool { return prov.count("ep-1") == 3 })
	sawUp := false
	for len(events) > 0 {
		if ev := <-events; ev.To == 3 && ev.Reason == "load" {
			sawUp = true
		}
	}
	if !sawUp {
		t.Fatal("no scale event 1->3 published")
	}
	// No load reports (they age out): back to one. A compute without
	// reports counts as active, so it goes to zero only once it reports
	// no load for the idle timeout.
	waitFor(t, "scale down to one", func() bool { return prov.count("ep-1") == 1 })
	time.Sleep(800 * time.Millisecond)
	if prov.count("ep-1") != 1 {
		t.Fatal("a compute without load reports was stopped as idle")
	}
	waitFor(t, "scale to zero", func() bool {
		for _, in := range prov.Instances("ep-1") {
			publishLoad(in.ID, 0)
		}
		return prov.count("ep-1") == 0
	})

	// A deleted endpoint's computes are drained.
	if err := c.Wake(ctx, "ep-1"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	eps = nil
	mu.Unlock()
	waitFor(t, "drain of a deleted endpoint", func() bool { return prov.count("") == 0 })
}

// TestInactiveReplicaActsNot: a controller whose replica is not the leader
// starts nothing, even for an endpoint below its minimum; once it becomes
// the leader it brings the endpoint to its minimum.
func TestInactiveReplicaActsNot(t *testing.T) {
	var leader sync.Mutex
	isLeader := false
	eps := []controlplane.Endpoint{{ID: "ep-1", Tenant: "default", Database: "phantom", Branch: "main", MinComputes: 2, MaxComputes: 3,
		Policy: controlplane.ScalingPolicy{TargetInFlight: 1}}}
	prov := &fakeProv{insts: map[string]provision.Instance{}}
	c, err := New(Config{
		Endpoints:   func() ([]controlplane.Endpoint, error) { return eps, nil },
		Provisioner: prov, Interval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		Active: func() bool {
			leader.Lock()
			defer leader.Unlock()
			return isLeader
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// 30 decision intervals as a follower: nothing may start.
	time.Sleep(300 * time.Millisecond)
	if n := prov.count("ep-1"); n != 0 {
		t.Fatalf("a follower's controller started %d computes", n)
	}
	leader.Lock()
	isLeader = true
	leader.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for prov.count("ep-1") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("as leader: %d computes, want min 2", prov.count("ep-1"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
