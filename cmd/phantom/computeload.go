package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/phantom-db/phantom/internal/natsbus"
)

// publishLoad publishes the node's load on phantom.compute.<endpoint>.load
// every second when the node belongs to an endpoint and NATS is set.
func publishLoad(ctx context.Context, f computeFlags, n *computeNode, log *slog.Logger) (stop func(), err error) {
	if f.endpoint == "" || f.natsURL == "" {
		return func() {}, nil
	}
	subj, err := natsbus.ComputeLoadSubject(f.endpoint)
	if err != nil {
		return nil, fmt.Errorf("--endpoint: %w", err)
	}
	nc, err := nats.Connect(f.natsURL, nats.Name("phantom-compute-load-"+f.nodeID), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect nats %s: %w", f.natsURL, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s := n.load.Snapshot()
			n.lastLoad.Store(&natsbus.Load{ActiveSessions: s.Sessions, QueriesPerSec: s.QPS, CPU: s.CPU, P99Millis: s.P99Millis,
				Extra: map[string]float64{"in_flight": float64(s.InFlight), "concurrency": s.Concurrency}})
			l := natsbus.ComputeLoad{Endpoint: f.endpoint, NodeID: f.nodeID, HTTPAddr: n.http.Addr(), PGAddr: n.PGAddr(),
				ActiveSessions: s.Sessions, InFlight: s.InFlight, Concurrency: s.Concurrency, QueriesPerSec: s.QPS,
				P99Millis: s.P99Millis, CPU: s.CPU, Draining: s.Draining, SentAt: time.Now().UTC()}
			if err := l.Validate(); err != nil {
				log.Error("invalid load report not sent", "err", err)
				continue
			}
			b, _ := json.Marshal(l)
			if err := nc.Publish(subj, b); err != nil {
				log.Warn("publish load", "subject", subj, "err", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
		nc.Close()
	}, nil
}

// heartbeatLoad answers the load the node's heartbeat carries: the latest
// load report (none before the first, or without an endpoint).
func (n *computeNode) heartbeatLoad() natsbus.Load {
	if l := n.lastLoad.Load(); l != nil {
		return *l
	}
	return natsbus.Load{}
}
