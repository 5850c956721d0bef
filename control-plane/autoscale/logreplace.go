package autoscale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	controlplane "github.com/phantom-db/phantom/control-plane"
	"github.com/phantom-db/phantom/control-plane/provision"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// LogAdmin is the part of the log service's membership admin the
// LogReplacer uses (*logclient.Admin implements it).
type LogAdmin interface {
	Configuration(ctx context.Context) (*wirepb.ConfigurationResponse, error)
	RemoveServer(ctx context.Context, id string) (*wirepb.ConfigurationResponse, error)
	AddVoter(ctx context.Context, id, raftAddr, apiAddr string) (*wirepb.ConfigurationResponse, error)
}

// LogReplicaStarter starts and stops replacement log replicas
// (*provision.LocalLogReplicas implements it).
type LogReplicaStarter interface {
	Start(ctx context.Context, id string) (provision.LogReplica, error)
	Stop(id string)
}

// LogReplacerConfig configures a LogReplacer.
type LogReplacerConfig struct {
	// Nodes answers the membership. Required.
	Nodes func() []controlplane.ClusterNode
	// Admin changes the log group's membership. Required.
	Admin LogAdmin
	// Replicas starts new replicas. Required.
	Replicas LogReplicaStarter
	// Interval is the time between checks. Default 500 ms.
	Interval time.Duration
	// Active reports whether this control plane replica may act (the Raft
	// leader); while false nothing is changed. Default: always.
	Active func() bool
	// Timeout bounds one replacement's admin calls. Default 30 s.
	Timeout time.Duration
	// Logger receives decisions. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock (node ids). Default time.Now.
	Now func() time.Time
}

// LogReplacer replaces a log replica the membership declared dead through
// Raft membership changes: it removes the dead member from the group, then
// starts a new replica (--bootstrap=false) and adds it as a voter, so the
// group is back at its size. One replacement runs at a time.
//
// Invariants:
//   - Only a member of the group's configuration whose heartbeats stopped
//     for the heartbeat timeout is removed; a node never in the
//     configuration is ignored.
//   - Removal comes first: with 3 voters and one dead, the 2 alive form the
//     quorum of the 2-voter group and commit the addition of the third.
//     Until the new voter has caught up the group tolerates no further
//     failure.
//   - The group's clients keep the addresses they were given; the new
//     replica is found through leader redirects from the surviving ones.
type LogReplacer struct {
	cfg LogReplacerConfig
	*watcher
}

var logReplacements = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "phantom_controlplane_log_replica_replacements_total",
	Help: "Dead log replicas replaced through a membership change, by outcome (ok, error).",
}, []string{"outcome"})

func init() { prometheus.MustRegister(logReplacements) }

// NewLogReplacer starts watching; Close stops it.
func NewLogReplacer(cfg LogReplacerConfig) (*LogReplacer, error) {
	if cfg.Nodes == nil || cfg.Admin == nil || cfg.Replicas == nil {
		return nil, errors.New("autoscale: log replacer: Nodes, Admin and Replicas are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &LogReplacer{cfg: cfg, watcher: newWatcher()}
	r.start(cfg.Interval, r.tick)
	return r, nil
}

// tick runs one check; after a failure it waits 2 s before the next.
func (r *LogReplacer) tick() {
	if err := r.check(); err != nil {
		logReplacements.WithLabelValues("error").Inc()
		r.cfg.Logger.Error("autoscale: replace a dead log replica", "err", err)
		r.sleep(2 * time.Second)
	}
}

// check replaces one dead member of the log group, if there is one.
func (r *LogReplacer) check() error {
	if r.cfg.Active != nil && !r.cfg.Active() {
		return nil
	}
	dead := map[string]bool{}
	for _, n := range r.cfg.Nodes() {
		if n.Role == "logservice" && n.Health == "dead" {
			dead[n.ID] = true
		}
	}
	if len(dead) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	conf, err := r.cfg.Admin.Configuration(ctx)
	if err != nil {
		return fmt.Errorf("read the configuration: %w", err)
	}
	victim := ""
	for _, s := range conf.GetServers() {
		if dead[s.GetId()] {
			victim = s.GetId()
			break
		}
	}
	if victim == "" {
		return nil
	}
	r.cfg.Logger.Warn("autoscale: log replica declared dead; replacing it", "node", victim, "members", len(conf.GetServers()))
	if _, err := r.cfg.Admin.RemoveServer(ctx, victim); err != nil {
		return fmt.Errorf("remove %s: %w", victim, err)
	}
	id := fmt.Sprintf("log-r%d", r.cfg.Now().UnixMilli())
	rep, err := r.cfg.Replicas.Start(ctx, id)
	if err != nil {
		return fmt.Errorf("start a replica for %s: %w", victim, err)
	}
	if _, err := r.cfg.Admin.AddVoter(ctx, rep.ID, rep.RaftAddr, rep.GRPCAddr); err != nil {
		r.cfg.Replicas.Stop(rep.ID)
		return fmt.Errorf("add %s as a voter: %w", rep.ID, err)
	}
	logReplacements.WithLabelValues("ok").Inc()
	r.cfg.Logger.Info("autoscale: log replica replaced", "dead", victim, "new", rep.ID, "grpc", rep.GRPCAddr, "raft", rep.RaftAddr)
	return nil
}
