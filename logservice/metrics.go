package logservice

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the service's Prometheus collectors, registered on
// Config.Registerer with the constant label node=NodeID. Without a
// Registerer they are still updated but never exported.
type metrics struct {
	commits       prometheus.Counter
	aborts        *prometheus.CounterVec
	commitSeconds prometheus.Histogram
	storeSeconds  prometheus.Histogram
	storeEntries  prometheus.Histogram
	applySeconds  prometheus.Histogram
	leaderChanges prometheus.Counter
}

// Abort reasons, the values of the reason label of
// phantom_logservice_commit_aborts_total.
const (
	reasonWriteConflict = "write_conflict"
	reasonReadConflict  = "read_conflict"
	reasonTooOld        = "too_old"
	reasonBadTimestamp  = "bad_timestamp"
	reasonOther         = "other"
)

func abortReason(err error) string {
	switch {
	case errors.Is(err, ErrConflict):
		return reasonWriteConflict
	case errors.Is(err, ErrReadConflict):
		return reasonReadConflict
	case errors.Is(err, ErrTooOld):
		return reasonTooOld
	case errors.Is(err, ErrBadTimestamp):
		return reasonBadTimestamp
	}
	return reasonOther
}

// newMetrics builds the collectors and registers them, plus gauges that read
// s (leadership, first/last log index, truncation floor), on reg if set.
func newMetrics(reg prometheus.Registerer, s *Service) (*metrics, error) {
	labels := prometheus.Labels{"node": s.cfg.NodeID}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "phantom", Subsystem: "logservice", Name: name, Help: help, ConstLabels: labels}
	}
	hist := func(name, help string, buckets []float64) prometheus.Histogram {
		o := opts(name, help)
		return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: o.Namespace, Subsystem: o.Subsystem, Name: o.Name, Help: o.Help, ConstLabels: o.ConstLabels, Buckets: buckets})
	}
	latency := prometheus.ExponentialBuckets(0.0001, 2, 16) // 100µs .. ~3.3s
	m := &metrics{
		commits: prometheus.NewCounter(prometheus.CounterOpts(opts("commits_total", "Commits acknowledged by this leader."))),
		aborts: prometheus.NewCounterVec(prometheus.CounterOpts(opts("commit_aborts_total",
			"Commits the resolver aborted on this leader, by reason.")), []string{"reason"}),
		commitSeconds: hist("commit_duration_seconds", "Leader-side commit latency: TSO, Raft quorum fsync and FSM apply.", latency),
		storeSeconds:  hist("log_store_duration_seconds", "Duration of one raft-wal StoreLogs call (append + fsync).", latency),
		storeEntries:  hist("log_store_batch_entries", "Entries per raft-wal StoreLogs call (group commit size).", prometheus.ExponentialBuckets(1, 2, 11)),
		applySeconds:  hist("fsm_apply_batch_duration_seconds", "Duration of one FSM ApplyBatch (conflict resolution).", latency),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts(opts("leader_epochs_total", "Leadership epochs this node established."))),
	}
	if reg == nil {
		return m, nil
	}
	for _, r := range []string{reasonWriteConflict, reasonReadConflict, reasonTooOld, reasonBadTimestamp} {
		m.aborts.WithLabelValues(r)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts(name, help)), f)
	}
	index := func(get func() (uint64, error)) func() float64 {
		return func() float64 {
			if s.wal == nil {
				return -1
			}
			v, err := get()
			if err != nil {
				return -1
			}
			return float64(v)
		}
	}
	collectors := []prometheus.Collector{
		m.commits, m.aborts, m.commitSeconds, m.storeSeconds, m.storeEntries, m.applySeconds, m.leaderChanges,
		gauge("is_leader", "1 while this node is the ready leader.", func() float64 {
			if s.raft != nil && s.IsLeader() { // nil while New runs
				return 1
			}
			return 0
		}),
		gauge("log_first_index", "First index held by the Raft log store.", index(func() (uint64, error) { return s.wal.FirstIndex() })),
		gauge("log_last_index", "Last index held by the Raft log store.", index(func() (uint64, error) { return s.wal.LastIndex() })),
		gauge("truncation_floor_index", "Minimum consistent index reported by the page servers (0: none).", func() float64 { return float64(s.floorIndex()) }),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range collectors {
				if done == c {
					break
				}
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("logservice: register metrics: %w", err)
		}
	}
	s.unregister = func() {
		for _, c := range collectors {
			reg.Unregister(c)
		}
	}
	return m, nil
}

// StoreLogs implements raft.LogStore, timing each (fsynced) batch.
func (g *guardedLogStore) StoreLogs(logs []*raft.Log) error {
	start := time.Now()
	err := g.WAL.StoreLogs(logs)
	if g.m != nil {
		g.m.storeSeconds.Observe(time.Since(start).Seconds())
		g.m.storeEntries.Observe(float64(len(logs)))
	}
	return err
}

// StoreLog implements raft.LogStore through StoreLogs.
func (g *guardedLogStore) StoreLog(l *raft.Log) error { return g.StoreLogs([]*raft.Log{l}) }
