package autoscale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	controlplane "github.com/phantom-db/phantom/control-plane"
)

// ReplacerConfig configures a PageServerReplacer.
type ReplacerConfig struct {
	// Nodes answers the membership (page servers carry their shard in
	// Load[controlplane.LoadShard]). Required.
	Nodes func() []controlplane.ClusterNode
	// Start runs a new page server for shard under node id, restoring from
	// the object store, and returns once it serves. Required.
	Start func(ctx context.Context, id string, shard int) error
	// Interval is the time between checks. Default 250 ms.
	Interval time.Duration
	// Active reports whether this control plane replica may act (the Raft
	// leader); while false nothing is started. Default: always.
	Active func() bool
	// Logger receives decisions. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock (node ids). Default time.Now.
	Now func() time.Time
}

// PageServerReplacer starts a page server for every shard whose page
// servers are all dead: a shard is served by another page server, restored
// from object storage, once the membership has declared its last one dead.
//
// Invariants:
//   - A shard with an alive page server gets no replacement (the survivor
//     serves it; computes fail over to it through the membership).
//   - At most one replacement per shard is starting at a time; a failed
//     start is retried after 2 s.
//   - Fencing is not built: a page server declared dead but still running
//     (partitioned from NATS) keeps writing its prefix next to the
//     replacement. See control-plane/DESIGN.md.
type PageServerReplacer struct {
	cfg ReplacerConfig
	*watcher

	mu       sync.Mutex
	starting map[int]bool
	failedAt map[int]time.Time
}

var pageServerReplacements = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "phantom_controlplane_pageserver_replacements_total",
	Help: "Page servers started because every page server of a shard was declared dead, by outcome (ok, error).",
}, []string{"outcome"})

func init() { prometheus.MustRegister(pageServerReplacements) }

// NewPageServerReplacer starts watching; Close stops it.
func NewPageServerReplacer(cfg ReplacerConfig) (*PageServerReplacer, error) {
	if cfg.Nodes == nil || cfg.Start == nil {
		return nil, errors.New("autoscale: replacer: Nodes and Start are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &PageServerReplacer{cfg: cfg, watcher: newWatcher(), starting: map[int]bool{}, failedAt: map[int]time.Time{}}
	r.start(cfg.Interval, r.check)
	return r, nil
}

// Orphans answers the shards that have a dead page server and no alive one.
func Orphans(nodes []controlplane.ClusterNode) map[int][]string {
	alive := map[int]bool{}
	dead := map[int][]string{}
	for _, n := range nodes {
		if n.Role != "pageserver" {
			continue
		}
		shard := int(n.Load[controlplane.LoadShard])
		if n.Health == "alive" {
			alive[shard] = true
		} else {
			dead[shard] = append(dead[shard], n.ID)
		}
	}
	for s := range alive {
		delete(dead, s)
	}
	return dead
}

func (r *PageServerReplacer) check() {
	if r.cfg.Active != nil && !r.cfg.Active() {
		return
	}
	for shard, dead := range Orphans(r.cfg.Nodes()) {
		r.mu.Lock()
		busy := r.starting[shard] || (!r.failedAt[shard].IsZero() && r.cfg.Now().Sub(r.failedAt[shard]) < 2*time.Second)
		if !busy {
			r.starting[shard] = true
		}
		r.mu.Unlock()
		if busy {
			continue
		}
		id := fmt.Sprintf("page-s%d-%d", shard, r.cfg.Now().UnixMilli())
		r.cfg.Logger.Warn("autoscale: every page server of a shard is dead; starting a replacement",
			"shard", shard, "dead", dead, "node", id)
		go func() {
			err := r.cfg.Start(context.Background(), id, shard)
			pageServerReplacements.WithLabelValues(outcome(err)).Inc()
			r.mu.Lock()
			if err != nil {
				r.failedAt[shard] = r.cfg.Now()
			} else {
				delete(r.failedAt, shard)
			}
			// Keep the shard marked until the new node's heartbeat is seen
			// (its first heartbeat is sent before /healthz answers).
			r.mu.Unlock()
			if err != nil {
				r.cfg.Logger.Error("autoscale: start a replacement page server", "shard", shard, "node", id, "err", err)
			} else {
				r.cfg.Logger.Info("autoscale: replacement page server serves", "shard", shard, "node", id)
			}
			r.waitSeen(id, err == nil)
			r.mu.Lock()
			delete(r.starting, shard)
			r.mu.Unlock()
		}()
	}
}

// waitSeen waits (at most 10 s) until the membership lists node id alive,
// so the next check does not start a second replacement.
func (r *PageServerReplacer) waitSeen(id string, started bool) {
	if !started {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range r.cfg.Nodes() {
			if n.ID == id && n.Health == "alive" {
				return
			}
		}
		if !r.sleep(50 * time.Millisecond) {
			return
		}
	}
}
