package natsbus_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phantom-db/phantom/internal/natsbus"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// events collects membership events for tests to wait on.
type events struct {
	ch chan natsbus.Event
}

func newEvents() *events { return &events{ch: make(chan natsbus.Event, 256)} }

func (e *events) on(ev natsbus.Event) { e.ch <- ev }

// wait answers the next event, failing the test after 5s.
func (e *events) wait(t *testing.T) natsbus.Event {
	t.Helper()
	select {
	case ev := <-e.ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no membership event within 5s")
		return natsbus.Event{}
	}
}

// waitFor answers the next event of kind for node, skipping others.
func (e *events) waitFor(t *testing.T, kind natsbus.EventKind, node string) natsbus.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-e.ch:
			if ev.Kind == kind && ev.Node.NodeID == node {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v event for %s within 5s", kind, node)
		}
	}
}

func (e *events) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev := <-e.ch:
		t.Fatalf("unexpected event %v for %s", ev.Kind, ev.Node.NodeID)
	case <-time.After(d):
	}
}

func startMembership(t *testing.T, nc *nats.Conn, cfg natsbus.MembershipConfig) *natsbus.Membership {
	t.Helper()
	cfg.Logger = quietLogger()
	m, err := natsbus.StartMembership(nc, cfg)
	if err != nil {
		t.Fatalf("StartMembership: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func heartbeats(t *testing.T, nc *nats.Conn, id string, role natsbus.Role, started time.Time, load natsbus.Load) (stop func()) {
	t.Helper()
	stop, err := natsbus.StartPublisher(context.Background(), nc, natsbus.PublisherConfig{
		Interval: 10 * time.Millisecond,
		Heartbeat: func() natsbus.Heartbeat {
			return natsbus.Heartbeat{NodeID: id, Role: role, Address: "127.0.0.1:" + id, StartedAt: started, Load: load}
		},
		Logger: quietLogger(),
	})
	if err != nil {
		t.Fatalf("StartPublisher: %v", err)
	}
	t.Cleanup(stop)
	return stop
}

func TestMembershipJoinDieReviveRestart(t *testing.T) {
	srv := startServer(t)
	clock := newFakeClock()
	evs := newEvents()
	m := startMembership(t, connect(t, srv), natsbus.MembershipConfig{
		Timeout:       10 * time.Second, // on the fake clock
		CheckInterval: 5 * time.Millisecond,
		Now:           clock.Now,
		OnChange:      evs.on,
	})
	started := clock.Now().Add(-time.Hour)
	load := natsbus.Load{ActiveSessions: 3, QueriesPerSec: 120.5, CPU: 0.75, P99Millis: 4.2, Extra: map[string]float64{"shards": 2}}
	// Each node publishes over its own connection, as real nodes do.
	heartbeats(t, connect(t, srv), "compute-1", natsbus.RoleCompute, started, load)
	stopPS := heartbeats(t, connect(t, srv), "ps-1", natsbus.RolePageServer, started, natsbus.Load{})

	joined := map[string]natsbus.NodeStatus{}
	for range 2 {
		ev := evs.wait(t)
		if ev.Kind != natsbus.EventJoined {
			t.Fatalf("event %v for %s, want joined", ev.Kind, ev.Node.NodeID)
		}
		joined[ev.Node.NodeID] = ev.Node
	}
	c := joined["compute-1"]
	if c.Role != natsbus.RoleCompute || c.Address != "127.0.0.1:compute-1" || !c.Alive ||
		!c.StartedAt.Equal(started) || !c.LastSeen.Equal(clock.Now()) || c.Load.QueriesPerSec != 120.5 || c.Load.Extra["shards"] != 2 {
		t.Fatalf("joined compute-1 = %+v", c)
	}
	if p := joined["ps-1"]; p.Role != natsbus.RolePageServer || !p.Alive {
		t.Fatalf("joined ps-1 = %+v", p)
	}
	nodes := m.Nodes()
	if len(nodes) != 2 || nodes[0].NodeID != "compute-1" || nodes[1].NodeID != "ps-1" || !nodes[0].Alive || !nodes[1].Alive {
		t.Fatalf("Nodes = %+v, want compute-1 and ps-1 alive", nodes)
	}

	// ps-1 stops; time passes beyond Timeout. compute-1 keeps beating, so
	// only ps-1 dies.
	// The clock moves in steps shorter than Timeout with real time between
	// them for compute-1's heartbeats (every 10ms) to land.
	stopPS()
	// Four steps: a heartbeat of ps-1 still in flight during the first step
	// leaves it 12s (> Timeout) silent after the last.
	for range 4 {
		clock.Advance(4 * time.Second)
		time.Sleep(40 * time.Millisecond)
	}
	died := evs.wait(t)
	if died.Kind != natsbus.EventDied || died.Node.NodeID != "ps-1" {
		t.Fatalf("event %v for %s, want ps-1 died", died.Kind, died.Node.NodeID)
	}
	if died.Node.Alive {
		t.Fatalf("died event says alive: %+v", died.Node)
	}
	if n, ok := m.Node("ps-1"); !ok || n.Alive {
		t.Fatalf("Node(ps-1) = %+v, %v; want known and dead", n, ok)
	}
	if n, _ := m.Node("compute-1"); !n.Alive {
		t.Fatalf("compute-1 declared dead while heartbeating: %+v", n)
	}
	evs.none(t, 50*time.Millisecond)

	// ps-1 comes back with the same process: revived.
	stopPS = heartbeats(t, connect(t, srv), "ps-1", natsbus.RolePageServer, started, natsbus.Load{})
	evs.waitFor(t, natsbus.EventRevived, "ps-1")
	stopPS()

	// ps-1 restarts quickly, within Timeout: restarted.
	restarted := started.Add(time.Hour)
	heartbeats(t, connect(t, srv), "ps-1", natsbus.RolePageServer, restarted, natsbus.Load{})
	ev := evs.waitFor(t, natsbus.EventRestarted, "ps-1")
	if !ev.Node.StartedAt.Equal(restarted) {
		t.Fatalf("restarted StartedAt = %v, want %v", ev.Node.StartedAt, restarted)
	}

	// Forget drops a node; its next heartbeat is a fresh join.
	m.Forget("ps-1")
	evs.waitFor(t, natsbus.EventJoined, "ps-1")
}

func TestMembershipRealClockTimeout(t *testing.T) {
	srv := startServer(t)
	evs := newEvents()
	m := startMembership(t, connect(t, srv), natsbus.MembershipConfig{
		Timeout:       200 * time.Millisecond,
		CheckInterval: 10 * time.Millisecond,
		OnChange:      evs.on,
	})
	stop := heartbeats(t, connect(t, srv), "log-1", natsbus.RoleLogService, time.Now(), natsbus.Load{})
	evs.waitFor(t, natsbus.EventJoined, "log-1")
	// Several timeouts' worth of heartbeats: never declared dead.
	time.Sleep(500 * time.Millisecond)
	if n, _ := m.Node("log-1"); !n.Alive {
		t.Fatalf("log-1 dead while heartbeating every 10ms: %+v", n)
	}
	stopped := time.Now()
	stop()
	ev := evs.waitFor(t, natsbus.EventDied, "log-1")
	if waited := time.Since(stopped); waited < 150*time.Millisecond {
		t.Fatalf("declared dead %v after the last heartbeat, before the 200ms timeout", waited)
	}
	if ev.Node.Role != natsbus.RoleLogService {
		t.Fatalf("died node %+v", ev.Node)
	}
}

func TestMembershipDropsMalformedHeartbeats(t *testing.T) {
	srv := startServer(t)
	evs := newEvents()
	m := startMembership(t, connect(t, srv), natsbus.MembershipConfig{OnChange: evs.on})
	nc := connect(t, srv)
	good := natsbus.Heartbeat{NodeID: "good", Role: natsbus.RoleControlPlane, Address: "127.0.0.1:1"}
	spoof := good
	spoof.NodeID = "spoofed"
	badRole := natsbus.Heartbeat{NodeID: "badrole", Role: "janitor", Address: "127.0.0.1:1"}
	noAddr := natsbus.Heartbeat{NodeID: "noaddr", Role: natsbus.RoleCompute}
	publish := func(subj string, v any) {
		t.Helper()
		data, ok := v.([]byte)
		if !ok {
			var err error
			if data, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.Publish(subj, data); err != nil {
			t.Fatal(err)
		}
	}
	publish("phantom.node.x.heartbeat", []byte("{not json"))
	publish("phantom.node.x.heartbeat", spoof) // id does not match subject
	publish("phantom.node.badrole.heartbeat", badRole)
	publish("phantom.node.noaddr.heartbeat", noAddr)
	publish("phantom.node.good.heartbeat", good)
	// One connection's messages arrive in order: once good joined, the
	// malformed ones before it have been seen and dropped.
	if ev := evs.wait(t); ev.Kind != natsbus.EventJoined || ev.Node.NodeID != "good" {
		t.Fatalf("first event %v for %s, want good joined", ev.Kind, ev.Node.NodeID)
	}
	if nodes := m.Nodes(); len(nodes) != 1 {
		t.Fatalf("Nodes = %+v, want only good", nodes)
	}
}

func TestPublisherStampsAndStops(t *testing.T) {
	srv := startServer(t)
	nc := connect(t, srv)
	sub, err := nc.SubscribeSync(natsbus.HeartbeatWildcard)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	stop, err := natsbus.StartPublisher(context.Background(), connect(t, srv), natsbus.PublisherConfig{
		Interval: 5 * time.Millisecond,
		Heartbeat: func() natsbus.Heartbeat {
			return natsbus.Heartbeat{NodeID: "n1", Role: natsbus.RoleCompute, Address: "a:1"}
		},
		Now:    clock.Now,
		Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 3; want++ {
		msg, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("heartbeat %d: %v", want, err)
		}
		hb, err := natsbus.DecodeHeartbeat(msg.Subject, msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Subject != "phantom.node.n1.heartbeat" || hb.Seq != want || !hb.SentAt.Equal(clock.Now()) {
			t.Fatalf("heartbeat %d = %s %+v", want, msg.Subject, hb)
		}
	}
	stop()
	stop() // idempotent
	// Drain what was in flight, then nothing more arrives.
	for {
		if _, err := sub.NextMsg(50 * time.Millisecond); err != nil {
			break
		}
	}
	if msg, err := sub.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("heartbeat after stop: %s", msg.Data)
	}
}

func TestStartHeartbeatsStopsWithContext(t *testing.T) {
	srv := startServer(t)
	nc := connect(t, srv)
	sub, err := nc.SubscribeSync("phantom.node.ctx-node.heartbeat")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop := natsbus.StartHeartbeats(ctx, connect(t, srv), 5*time.Millisecond, func() natsbus.Heartbeat {
		return natsbus.Heartbeat{NodeID: "ctx-node", Role: natsbus.RoleLogService, Address: "h:1"}
	})
	defer stop()
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("first heartbeat: %v", err)
	}
	cancel()
	stop() // returns once the goroutine has exited
	for {
		if _, err := sub.NextMsg(50 * time.Millisecond); err != nil {
			break
		}
	}
	if msg, err := sub.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("heartbeat after cancel: %s", msg.Data)
	}
}

func TestConfigValidation(t *testing.T) {
	var mc natsbus.MembershipConfig
	mc.EnsureDefaults()
	if mc.Timeout != 10*time.Second || mc.CheckInterval != time.Second || mc.Now == nil || mc.Logger == nil {
		t.Fatalf("membership defaults = %+v", mc)
	}
	for i, c := range []natsbus.MembershipConfig{
		{Timeout: -1},
		{CheckInterval: -1},
		{Timeout: time.Second, CheckInterval: 2 * time.Second},
	} {
		c.EnsureDefaults()
		if err := c.Validate(); err == nil {
			t.Errorf("membership case %d: Validate = nil", i)
		}
	}
	if _, err := natsbus.StartPublisher(context.Background(), nil, natsbus.PublisherConfig{}); err == nil {
		t.Error("StartPublisher without Heartbeat func succeeded")
	}
	for _, hb := range []natsbus.Heartbeat{
		{NodeID: "a.b", Role: natsbus.RoleCompute, Address: "x"},
		{NodeID: "a", Role: "nope", Address: "x"},
		{NodeID: "a", Role: natsbus.RoleCompute},
	} {
		if err := hb.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", hb)
		}
	}
	for _, k := range []natsbus.EventKind{natsbus.EventJoined, natsbus.EventDied, natsbus.EventRevived, natsbus.EventRestarted, 99} {
		if s := k.String(); s == "" {
			t.Errorf("EventKind(%d).String() empty", int(k))
		}
	}
}
