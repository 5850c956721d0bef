package autoscale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	controlplane "github.com/phantom-db/phantom/control-plane"
	"github.com/phantom-db/phantom/control-plane/provision"
	"github.com/phantom-db/phantom/internal/natsbus"
)

// Config configures a Controller.
type Config struct {
	// Endpoints lists the endpoints to size (the control plane's state).
	// Required.
	Endpoints func() ([]controlplane.Endpoint, error)
	// Provisioner runs the computes. Required.
	Provisioner provision.Provisioner
	// Conn receives load reports and carries scale events; nil runs
	// without load (only min, wake and idle decisions).
	Conn *nats.Conn
	// Interval is the time between decisions. Default 1 s.
	Interval time.Duration
	// LoadMaxAge drops load reports older than this. Default 3 s.
	LoadMaxAge time.Duration
	// Active reports whether this control plane replica may act: only the
	// Raft leader starts and drains computes, so a decision is carried out
	// once; when leadership moves the new leader's controller takes over.
	// While it returns false the controller decides nothing. Default: always
	// active (a single replica).
	Active func() bool
	// Logger receives decisions. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Controller runs the Policy of every endpoint against live load.
type Controller struct {
	cfg  Config
	sub  *nats.Subscription
	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	mu  sync.Mutex
	eps map[string]*endpointState
}

type endpointState struct {
	st       State
	loads    map[string]loadSample
	waiters  int
	pending  int             // starts in progress
	draining map[string]bool // computes being drained
	failedAt time.Time       // last failed start
}

type loadSample struct {
	l  natsbus.ComputeLoad
	at time.Time
}

// New starts a Controller; Close stops it (computes keep running: close
// the provisioner to stop them).
func New(cfg Config) (*Controller, error) {
	if cfg.Endpoints == nil || cfg.Provisioner == nil {
		return nil, errors.New("autoscale: Endpoints and Provisioner are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.LoadMaxAge <= 0 {
		cfg.LoadMaxAge = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Controller{cfg: cfg, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		eps: map[string]*endpointState{}}
	if cfg.Conn != nil {
		sub, err := cfg.Conn.Subscribe(natsbus.ComputeLoadWildcard, c.onLoad)
		if err != nil {
			return nil, fmt.Errorf("autoscale: subscribe %s: %w", natsbus.ComputeLoadWildcard, err)
		}
		c.sub = sub
	}
	go c.run()
	return c, nil
}

// Close stops deciding.
func (c *Controller) Close() error {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
	if c.sub != nil {
		_ = c.sub.Unsubscribe()
	}
	return nil
}

func (c *Controller) onLoad(msg *nats.Msg) {
	l, err := natsbus.DecodeComputeLoad(msg.Subject, msg.Data)
	if err != nil {
		c.cfg.Logger.Debug("autoscale: dropped load report", "err", err)
		return
	}
	c.mu.Lock()
	es := c.state(l.Endpoint)
	es.loads[l.NodeID] = loadSample{l: l, at: c.cfg.Now()}
	c.mu.Unlock()
}

// state answers the state of endpoint id; callers hold c.mu.
func (c *Controller) state(id string) *endpointState {
	es := c.eps[id]
	if es == nil {
		es = &endpointState{loads: map[string]loadSample{}, draining: map[string]bool{}}
		c.eps[id] = es
	}
	return es
}

func (c *Controller) run() {
	defer close(c.done)
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		c.tick()
		select {
		case <-c.stop:
			return
		case <-t.C:
		case <-c.kick:
		}
	}
}

// Changed reports that a compute of endpoint changed state; it publishes a
// scale event so proxies refresh their view at once.
func (c *Controller) Changed(endpoint string) {
	n := 0
	for _, in := range c.cfg.Provisioner.Instances(endpoint) {
		if in.State != provision.StateDraining {
			n++
		}
	}
	c.publish(natsbus.ScaleEvent{Endpoint: endpoint, From: n, To: n, Reason: "computes changed", At: c.cfg.Now().UTC()})
	c.poke()
}

func (c *Controller) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Controller) publish(ev natsbus.ScaleEvent) {
	if c.cfg.Conn == nil {
		return
	}
	subj, err := natsbus.ScaleSubject(ev.Endpoint)
	if err != nil {
		return
	}
	b, _ := json.Marshal(ev)
	if err := c.cfg.Conn.Publish(subj, b); err != nil {
		c.cfg.Logger.Warn("autoscale: publish scale event", "endpoint", ev.Endpoint, "err", err)
	}
}

func (c *Controller) tick() {
	if c.cfg.Active != nil && !c.cfg.Active() {
		return
	}
	eps, err := c.cfg.Endpoints()
	if err != nil {
		c.cfg.Logger.Error("autoscale: list endpoints", "err", err)
		return
	}
	known := map[string]bool{}
	for _, ep := range eps {
		known[ep.ID] = true
		c.decide(ep)
	}
	// Computes of deleted endpoints are drained.
	for _, in := range c.cfg.Provisioner.Instances("") {
		if !known[in.Endpoint] && in.State == provision.StateReady {
			c.mu.Lock()
			es := c.state(in.Endpoint)
			already := es.draining[in.ID]
			es.draining[in.ID] = true
			c.mu.Unlock()
			if !already {
				c.cfg.Logger.Info("autoscale: draining a compute of a deleted endpoint", "compute", in.ID)
				go c.drain(in.Endpoint, in.ID)
			}
		}
	}
	c.mu.Lock()
	for id, es := range c.eps {
		if !known[id] && es.pending == 0 && len(es.draining) == 0 && es.waiters == 0 {
			delete(c.eps, id)
		}
	}
	c.mu.Unlock()
}

// PolicyOf answers the Policy of an endpoint's settings.
func PolicyOf(ep controlplane.Endpoint) Policy {
	return Policy{Min: ep.MinComputes, Max: ep.MaxComputes, TargetInFlight: ep.Policy.TargetInFlight,
		ScaleUpCooldown:   time.Duration(ep.Policy.ScaleUpCooldownMS) * time.Millisecond,
		ScaleDownCooldown: time.Duration(ep.Policy.ScaleDownCooldownMS) * time.Millisecond,
		IdleTimeout:       ep.IdleTimeout()}
}

func (c *Controller) decide(ep controlplane.Endpoint) {
	now := c.cfg.Now()
	insts := c.cfg.Provisioner.Instances(ep.ID)
	c.mu.Lock()
	es := c.state(ep.ID)
	var ready []provision.Instance
	live := map[string]bool{}
	for _, in := range insts {
		live[in.ID] = true
		if in.State == provision.StateReady && !es.draining[in.ID] {
			ready = append(ready, in)
		}
	}
	for id := range es.draining {
		if !live[id] {
			delete(es.draining, id)
		}
	}
	o := Observation{Now: now, Current: len(ready) + es.pending, Wake: es.waiters > 0}
	for id, s := range es.loads {
		if !live[id] || now.Sub(s.at) > c.cfg.LoadMaxAge {
			delete(es.loads, id)
			continue
		}
		if es.draining[id] {
			continue
		}
		o.Concurrency += s.l.Concurrency
		o.InFlight += s.l.InFlight
		o.Sessions += s.l.ActiveSessions
		o.QPS += s.l.QueriesPerSec
	}
	for _, in := range ready {
		if _, ok := es.loads[in.ID]; !ok {
			o.Unreported++
		}
	}
	d := PolicyOf(ep).Decide(&es.st, o)
	if d.Target > o.Current && !es.failedAt.IsZero() && now.Sub(es.failedAt) < 2*time.Second {
		c.mu.Unlock()
		return // back off after a failed start
	}
	var victims []provision.Instance
	if d.Target < o.Current {
		// Drain the least busy computes, newest first among equals.
		sort.SliceStable(ready, func(i, j int) bool {
			bi, bj := busy(es.loads[ready[i].ID]), busy(es.loads[ready[j].ID])
			if bi != bj {
				return bi < bj
			}
			return ready[i].StartedAt.After(ready[j].StartedAt)
		})
		n := min(o.Current-d.Target, len(ready))
		victims = ready[:n]
		for _, v := range victims {
			es.draining[v.ID] = true
		}
	}
	starts := 0
	if d.Target > o.Current {
		starts = d.Target - o.Current
		es.pending += starts
	}
	c.mu.Unlock()
	if d.Target == o.Current {
		return
	}
	c.cfg.Logger.Info("autoscale: scaling", "endpoint", ep.ID, "from", o.Current, "to", d.Target, "reason", d.Reason,
		"concurrency", o.Concurrency, "in_flight", o.InFlight, "sessions", o.Sessions, "qps", o.QPS)
	c.publish(natsbus.ScaleEvent{Endpoint: ep.ID, From: o.Current, To: d.Target, Reason: d.Reason, At: now.UTC()})
	for i := 0; i < starts; i++ {
		go c.start(ep)
	}
	for _, v := range victims {
		go c.drain(ep.ID, v.ID)
	}
}

func busy(s loadSample) float64 {
	return float64(s.l.ActiveSessions) + float64(s.l.InFlight) + s.l.Concurrency
}

func (c *Controller) start(ep controlplane.Endpoint) {
	_, err := c.cfg.Provisioner.Start(context.Background(),
		provision.Spec{Endpoint: ep.ID, Tenant: ep.Tenant, Database: ep.Database, Branch: ep.Branch})
	c.mu.Lock()
	es := c.state(ep.ID)
	es.pending--
	if err != nil {
		es.failedAt = c.cfg.Now()
	}
	c.mu.Unlock()
	if err != nil {
		c.cfg.Logger.Error("autoscale: start compute", "endpoint", ep.ID, "err", err)
	}
	c.poke()
}

func (c *Controller) drain(endpoint, id string) {
	if err := c.cfg.Provisioner.Drain(context.Background(), id); err != nil && !errors.Is(err, provision.ErrNotFound) {
		c.cfg.Logger.Error("autoscale: drain compute", "compute", id, "err", err)
	}
	c.mu.Lock()
	delete(c.state(endpoint).draining, id)
	c.mu.Unlock()
	c.poke()
}

// Computes lists the computes of an endpoint (controlplane.Scaler).
func (c *Controller) Computes(endpoint string) []controlplane.Compute {
	insts := c.cfg.Provisioner.Instances(endpoint)
	c.mu.Lock()
	es := c.eps[endpoint]
	c.mu.Unlock()
	out := make([]controlplane.Compute, 0, len(insts))
	for _, in := range insts {
		state := in.State
		if es != nil {
			c.mu.Lock()
			if es.draining[in.ID] {
				state = provision.StateDraining
			}
			c.mu.Unlock()
		}
		out = append(out, controlplane.Compute{ID: in.ID, Endpoint: in.Endpoint, HTTPAddr: in.HTTPAddr, PGAddr: in.PGAddr,
			State: state, StartedAt: in.StartedAt, ReadyAt: in.ReadyAt})
	}
	return out
}

// Wake asks for a compute of endpoint and waits until one is ready
// (controlplane.Scaler).
func (c *Controller) Wake(ctx context.Context, endpoint string) error {
	c.mu.Lock()
	c.state(endpoint).waiters++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.state(endpoint).waiters--
		c.mu.Unlock()
	}()
	c.poke()
	for {
		for _, cp := range c.Computes(endpoint) {
			if cp.State == provision.StateReady {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("autoscale: wake %s: %w", endpoint, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
