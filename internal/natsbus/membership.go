package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// EventKind says how a node's membership changed.
type EventKind int

// The membership changes Membership reports.
const (
	// EventJoined: the first heartbeat of a node not known before.
	EventJoined EventKind = iota + 1
	// EventDied: an alive node missed heartbeats for longer than Timeout.
	EventDied
	// EventRevived: a heartbeat from a node declared dead.
	EventRevived
	// EventRestarted: an alive node's heartbeat carries a new StartedAt (it
	// restarted within Timeout, losing its in-memory state).
	EventRestarted
)

// String answers the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventJoined:
		return "joined"
	case EventDied:
		return "died"
	case EventRevived:
		return "revived"
	case EventRestarted:
		return "restarted"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a membership change passed to MembershipConfig.OnChange.
type Event struct {
	// Kind is what changed.
	Kind EventKind
	// Node is the node's status after the change.
	Node NodeStatus
}

// NodeStatus is what Membership knows about one node.
type NodeStatus struct {
	// NodeID identifies the node.
	NodeID string `json:"node_id"`
	// Role is what the node does, from its latest heartbeat.
	Role Role `json:"role"`
	// Address is the node's main API address, from its latest heartbeat.
	Address string `json:"address"`
	// StartedAt is when the node process started, from its latest heartbeat.
	StartedAt time.Time `json:"started_at"`
	// Load is the node's load from its latest heartbeat.
	Load Load `json:"load"`
	// LastSeen is when the latest heartbeat arrived, on Membership's clock.
	LastSeen time.Time `json:"last_seen"`
	// Alive turns false at the first check (every CheckInterval) after the
	// node has sent no heartbeat for longer than MembershipConfig.Timeout,
	// and true again at its next heartbeat.
	Alive bool `json:"alive"`
}

// MembershipConfig configures a Membership.
type MembershipConfig struct {
	// Timeout is how long a node may go without a heartbeat before it is
	// declared dead. Default 10s.
	Timeout time.Duration
	// CheckInterval is how often, in real time, Membership looks for nodes
	// past Timeout and reports them dead. Default 1s.
	CheckInterval time.Duration
	// Now is the clock heartbeats are stamped with and Timeout is measured
	// on; tests inject a fake one to skew time. Default time.Now.
	Now func() time.Time
	// OnChange, if set, is called for every membership change, one at a
	// time and in order, from Membership's goroutine; it must not block for
	// long nor call Close. Default nil.
	OnChange func(Event)
	// Logger receives malformed-heartbeat and membership logs. Default
	// slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (c *MembershipConfig) EnsureDefaults() {
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first invalid field.
func (c *MembershipConfig) Validate() error {
	if c.Timeout <= 0 {
		return fmt.Errorf("natsbus: membership: Timeout %v <= 0", c.Timeout)
	}
	if c.CheckInterval <= 0 {
		return fmt.Errorf("natsbus: membership: CheckInterval %v <= 0", c.CheckInterval)
	}
	if c.CheckInterval > c.Timeout {
		return fmt.Errorf("natsbus: membership: CheckInterval %v > Timeout %v", c.CheckInterval, c.Timeout)
	}
	return nil
}

// Membership is a heartbeat failure detector: it subscribes to
// HeartbeatWildcard, keeps the latest heartbeat of every node and declares a
// node dead once it has sent none for Timeout. Dead nodes stay listed (with
// Alive false) until Forget; a heartbeat revives them.
//
// One goroutine owns all updates (heartbeats and periodic checks), so events
// are delivered in the order the changes happened.
type Membership struct {
	cfg  MembershipConfig
	sub  *nats.Subscription
	msgs chan *nats.Msg
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	nodes map[string]*NodeStatus
}

// msgBuffer is how many heartbeats may queue before the subscription counts
// as a slow consumer and NATS drops messages.
const msgBuffer = 4096

// StartMembership subscribes nc to every node's heartbeats and starts
// tracking membership; the subscription is registered with the server before
// it returns. Call Close to stop.
func StartMembership(nc *nats.Conn, cfg MembershipConfig) (*Membership, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if nc == nil {
		return nil, errors.New("natsbus: membership: nil connection")
	}
	m := &Membership{
		cfg:   cfg,
		msgs:  make(chan *nats.Msg, msgBuffer),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		nodes: make(map[string]*NodeStatus),
	}
	sub, err := nc.ChanSubscribe(HeartbeatWildcard, m.msgs)
	if err != nil {
		return nil, fmt.Errorf("natsbus: membership: subscribe %s: %w", HeartbeatWildcard, err)
	}
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("natsbus: membership: flush subscription: %w", err)
	}
	m.sub = sub
	go m.run()
	return m, nil
}

// Close unsubscribes and stops the membership goroutine. Nodes keeps
// answering the last known state. It is safe to call more than once.
func (m *Membership) Close() error {
	var err error
	m.once.Do(func() {
		err = m.sub.Unsubscribe()
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
			err = nil
		}
		close(m.stop)
		<-m.done
	})
	if err != nil {
		return fmt.Errorf("natsbus: membership: unsubscribe: %w", err)
	}
	return nil
}

func (m *Membership) run() {
	defer close(m.done)
	ticker := time.NewTicker(m.cfg.CheckInterval)
	defer ticker.Stop()
	for {
		select {
		case <-m.stop:
			return
		case msg := <-m.msgs:
			m.observe(msg)
		case <-ticker.C:
			m.check()
		}
	}
}

// observe records a heartbeat message.
func (m *Membership) observe(msg *nats.Msg) {
	hb, err := DecodeHeartbeat(msg.Subject, msg.Data)
	if err != nil {
		m.cfg.Logger.Warn("natsbus: membership: dropped heartbeat", "subject", msg.Subject, "err", err)
		return
	}
	now := m.cfg.Now()
	var ev *Event
	m.mu.Lock()
	n, known := m.nodes[hb.NodeID]
	switch {
	case !known:
		n = &NodeStatus{NodeID: hb.NodeID}
		m.nodes[hb.NodeID] = n
		ev = &Event{Kind: EventJoined}
	case !n.Alive:
		ev = &Event{Kind: EventRevived}
	case !hb.StartedAt.Equal(n.StartedAt):
		ev = &Event{Kind: EventRestarted}
	}
	n.Role, n.Address, n.StartedAt, n.Load = hb.Role, hb.Address, hb.StartedAt, hb.Load
	n.LastSeen, n.Alive = now, true
	if ev != nil {
		ev.Node = clone(n)
	}
	m.mu.Unlock()
	if ev != nil {
		m.emit(*ev)
	}
}

// check declares dead every alive node silent for longer than Timeout.
func (m *Membership) check() {
	now := m.cfg.Now()
	var died []Event
	m.mu.Lock()
	for _, n := range m.nodes {
		if n.Alive && now.Sub(n.LastSeen) > m.cfg.Timeout {
			n.Alive = false
			died = append(died, Event{Kind: EventDied, Node: clone(n)})
		}
	}
	m.mu.Unlock()
	sort.Slice(died, func(i, j int) bool { return died[i].Node.NodeID < died[j].Node.NodeID })
	for _, ev := range died {
		m.emit(ev)
	}
}

func (m *Membership) emit(ev Event) {
	level := slog.LevelInfo
	if ev.Kind == EventDied {
		level = slog.LevelWarn
	}
	m.cfg.Logger.Log(context.Background(), level, "natsbus: membership "+ev.Kind.String(),
		"node", ev.Node.NodeID, "role", ev.Node.Role, "address", ev.Node.Address, "last_seen", ev.Node.LastSeen)
	if m.cfg.OnChange != nil {
		m.cfg.OnChange(ev)
	}
}

// Nodes answers every known node, sorted by NodeID.
func (m *Membership) Nodes() []NodeStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]NodeStatus, 0, len(m.nodes))
	for _, n := range m.nodes {
		out = append(out, clone(n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}

// Node answers the status of one node and whether it is known.
func (m *Membership) Node(nodeID string) (NodeStatus, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[nodeID]
	if !ok {
		return NodeStatus{}, false
	}
	return clone(n), true
}

// Forget drops a node from the membership (for example a dead node whose
// role has been replaced). A later heartbeat from it counts as a new join.
func (m *Membership) Forget(nodeID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.nodes, nodeID)
}

// clone copies a status, including its Load map, so callers cannot race
// with updates.
func clone(n *NodeStatus) NodeStatus {
	c := *n
	if n.Load.Extra != nil {
		c.Load.Extra = make(map[string]float64, len(n.Load.Extra))
		for k, v := range n.Load.Extra {
			c.Load.Extra[k] = v
		}
	}
	return c
}
