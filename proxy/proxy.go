// Package proxy is Phantom-DB's front door: it accepts HTTP SQL API
// requests and PostgreSQL connections, finds the compute endpoint serving
// the requested database and branch, wakes it when it is scaled to zero,
// and forwards the work to its least busy ready compute.
//
// Routing:
//   - HTTP: headers Phantom-Tenant, Phantom-Database, Phantom-Branch and
//     Phantom-Endpoint, else the body's "database" field, which may be
//     "db@branch" (rewritten to "db" before forwarding). Defaults: tenant
//     Config.DefaultTenant, database Config.DefaultDatabase, branch
//     Config.DefaultBranch.
//   - PostgreSQL: the startup message's database, "db" or "db@branch"
//     (rewritten to "db" before forwarding); options "-c phantom.branch=b",
//     "-c phantom.endpoint=e" and "-c phantom.tenant=t" override (and are
//     removed before forwarding).
//
// Invariants:
//   - Work goes only to computes the control plane lists as ready; a
//     draining compute gets nothing new. Lists are cached briefly and
//     dropped on every phantom.scale.<endpoint> event.
//   - A request waits for a compute at most Config.WakeTimeout; then HTTP
//     answers 503 and PostgreSQL SQLSTATE 57P03 (cannot_connect_now).
//   - An HTTP request is retried on another compute only when the
//     connection to the first could not be made (it never reached it), so
//     a statement never runs twice.
//   - An HTTP session (POST /v1/sessions) lives on one compute: its id is
//     "<compute id>.<compute's id>" and every request naming it goes to that
//     compute, ready or draining.
//   - A PostgreSQL connection is spliced byte for byte after the startup
//     message, so authentication is between client and compute; the proxy
//     only reads the compute's first messages up to ReadyForQuery to learn
//     the cancel key and route CancelRequests.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	controlplane "github.com/phantom-db/phantom/control-plane"
)

// Target is what a client asks for.
type Target struct {
	Tenant   string
	Database string
	Branch   string
	// Endpoint names an endpoint of the database; "" picks the branch's.
	Endpoint string
}

// ErrNotReady is wrapped when no compute became ready within the wake
// timeout.
var ErrNotReady = errors.New("proxy: no compute ready")

// Config configures a Proxy.
type Config struct {
	// Directory resolves targets to computes. Required.
	Directory Directory
	// DefaultTenant, DefaultDatabase and DefaultBranch fill what a client
	// does not name. Defaults "default", "phantom", "main".
	DefaultTenant   string
	DefaultDatabase string
	DefaultBranch   string
	// WakeTimeout bounds the wait for a ready compute. Default 60 s.
	WakeTimeout time.Duration
	// MaxBodyBytes bounds HTTP request bodies. Default 1 MiB.
	MaxBodyBytes int64
	// DialTimeout bounds connecting to a compute. Default 5 s.
	DialTimeout time.Duration
	// Logger receives logs. Default slog.Default().
	Logger *slog.Logger
}

// Proxy routes HTTP requests and PostgreSQL connections to computes.
type Proxy struct {
	cfg Config

	mu       sync.Mutex
	inflight map[string]int       // compute id -> requests and connections
	avoid    map[string]time.Time // compute id -> unreachable until
	cancels  map[cancelKey]string // PostgreSQL cancel key -> compute pg address
	lis      map[net.Listener]struct{}
	conns    map[net.Conn]struct{} // PostgreSQL client connections
	closed   bool
	wg       sync.WaitGroup
}

type cancelKey struct {
	pid    uint32
	secret string
}

// New answers a Proxy.
func New(cfg Config) (*Proxy, error) {
	if cfg.Directory == nil {
		return nil, errors.New("proxy: Directory is required")
	}
	if cfg.DefaultTenant == "" {
		cfg.DefaultTenant = "default"
	}
	if cfg.DefaultDatabase == "" {
		cfg.DefaultDatabase = "phantom"
	}
	if cfg.DefaultBranch == "" {
		cfg.DefaultBranch = controlplane.DefaultBranch
	}
	if cfg.WakeTimeout <= 0 {
		cfg.WakeTimeout = 60 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Proxy{cfg: cfg, inflight: map[string]int{}, avoid: map[string]time.Time{}, cancels: map[cancelKey]string{},
		lis: map[net.Listener]struct{}{}, conns: map[net.Conn]struct{}{}}, nil
}

// fill completes t with the defaults.
func (p *Proxy) fill(t Target) Target {
	if t.Tenant == "" {
		t.Tenant = p.cfg.DefaultTenant
	}
	if t.Database == "" {
		t.Database = p.cfg.DefaultDatabase
	}
	if db, branch, ok := strings.Cut(t.Database, "@"); ok {
		t.Database = db
		if t.Branch == "" {
			t.Branch = branch
		}
	}
	if t.Branch == "" {
		t.Branch = p.cfg.DefaultBranch
	}
	return t
}

// pick answers a ready compute of t's endpoint, the one with the fewest
// requests and connections from this proxy, waking the endpoint when it
// has none. release must be called when the work is done.
func (p *Proxy) pick(ctx context.Context, t Target) (controlplane.Compute, func(), error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.WakeTimeout)
	defer cancel()
	ep, err := p.cfg.Directory.Resolve(ctx, t)
	if err != nil {
		return controlplane.Compute{}, nil, err
	}
	woke := false
	for {
		cs, err := p.cfg.Directory.Computes(ctx, ep)
		if err != nil && ctx.Err() == nil {
			return controlplane.Compute{}, nil, err
		}
		if c, ok := p.choose(cs); ok {
			return c, p.releaser(c.ID), nil
		}
		if ctx.Err() != nil {
			return controlplane.Compute{}, nil, fmt.Errorf("%w: endpoint %s after %v", ErrNotReady, ep.ID, p.cfg.WakeTimeout)
		}
		if !woke {
			p.cfg.Logger.Info("proxy: waking endpoint", "endpoint", ep.ID)
			wakes.Inc()
		}
		woke = true
		if err := p.cfg.Directory.Wake(ctx, ep); err != nil {
			if ctx.Err() != nil {
				return controlplane.Compute{}, nil, fmt.Errorf("%w: endpoint %s after %v: %v", ErrNotReady, ep.ID, p.cfg.WakeTimeout, err)
			}
			p.cfg.Logger.Warn("proxy: wake", "endpoint", ep.ID, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		if inv, ok := p.cfg.Directory.(interface{ Invalidate(string) }); ok {
			inv.Invalidate(ep.ID)
		}
	}
}

// ErrSessionGone is wrapped when a request names a session whose compute
// no longer runs.
var ErrSessionGone = errors.New("proxy: session not found (its compute is gone)")

// pickByID answers compute id of t's endpoint, ready or draining (a
// session's work finishes on its compute).
func (p *Proxy) pickByID(ctx context.Context, t Target, id string) (controlplane.Compute, func(), error) {
	ep, err := p.cfg.Directory.Resolve(ctx, t)
	if err != nil {
		return controlplane.Compute{}, nil, err
	}
	cs, err := p.cfg.Directory.Computes(ctx, ep)
	if err != nil {
		return controlplane.Compute{}, nil, err
	}
	for _, c := range cs {
		if c.ID == id && (c.State == "ready" || c.State == "draining") {
			p.mu.Lock()
			p.inflight[c.ID]++
			p.mu.Unlock()
			return c, p.releaser(c.ID), nil
		}
	}
	return controlplane.Compute{}, nil, fmt.Errorf("%w: compute %s", ErrSessionGone, id)
}

// choose picks the ready compute with the least in-flight work, skipping
// those recently unreachable unless nothing else is ready; it counts the
// pick.
func (p *Proxy) choose(cs []controlplane.Compute) (controlplane.Compute, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	best, bestAvoided := -1, -1
	for i, c := range cs {
		if c.State != "ready" {
			continue
		}
		if until, bad := p.avoid[c.ID]; bad && now.Before(until) {
			if bestAvoided < 0 || p.inflight[c.ID] < p.inflight[cs[bestAvoided].ID] {
				bestAvoided = i
			}
			continue
		}
		if best < 0 || p.inflight[c.ID] < p.inflight[cs[best].ID] {
			best = i
		}
	}
	if best < 0 {
		best = bestAvoided
	}
	if best < 0 {
		return controlplane.Compute{}, false
	}
	p.inflight[cs[best].ID]++
	return cs[best], true
}

func (p *Proxy) releaser(id string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			if p.inflight[id]--; p.inflight[id] <= 0 {
				delete(p.inflight, id)
			}
			p.mu.Unlock()
		})
	}
}

// markUnreachable keeps new work away from compute id for a few seconds
// and drops the cached compute list.
func (p *Proxy) markUnreachable(c controlplane.Compute) {
	unreachable.Inc()
	p.mu.Lock()
	p.avoid[c.ID] = time.Now().Add(3 * time.Second)
	p.mu.Unlock()
	if inv, ok := p.cfg.Directory.(interface{ Invalidate(string) }); ok {
		inv.Invalidate(c.Endpoint)
	}
}

// InFlight answers the work this proxy has on compute id (for tests).
func (p *Proxy) InFlight(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight[id]
}

// Close stops the PostgreSQL listeners, closes their client connections
// and waits for their goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for l := range p.lis {
		l.Close()
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}
