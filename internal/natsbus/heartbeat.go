package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Role is what a node does in the cluster.
type Role string

// The roles a node can announce.
const (
	RoleCompute      Role = "compute"
	RoleLogService   Role = "logservice"
	RolePageServer   Role = "pageserver"
	RoleControlPlane Role = "control-plane"
	RoleProxy        Role = "proxy"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleCompute, RoleLogService, RolePageServer, RoleControlPlane, RoleProxy:
		return true
	}
	return false
}

// Load is a node's self-reported load. Fields that do not apply to a role
// stay zero.
type Load struct {
	// ActiveSessions is the number of open client sessions (compute).
	ActiveSessions int `json:"active_sessions,omitempty"`
	// QueriesPerSec is the recent query rate, in queries per second.
	QueriesPerSec float64 `json:"qps,omitempty"`
	// CPU is the recent CPU use of the process, in cores (1.5 = one and a
	// half cores busy).
	CPU float64 `json:"cpu,omitempty"`
	// P99Millis is the recent 99th-percentile request latency, in
	// milliseconds.
	P99Millis float64 `json:"p99_ms,omitempty"`
	// Extra holds role-specific gauges by name (for example a page server's
	// "shards" or a log replica's "lag_entries").
	Extra map[string]float64 `json:"extra,omitempty"`
}

// Heartbeat is the message every node publishes on HeartbeatSubject(NodeID)
// as JSON.
type Heartbeat struct {
	// NodeID identifies the node; it is a token of the heartbeat subject and
	// must match it.
	NodeID string `json:"node_id"`
	// Role is what the node does.
	Role Role `json:"role"`
	// Address is the node's main API address (host:port).
	Address string `json:"address"`
	// StartedAt is when the node process started; a new value means the node
	// restarted.
	StartedAt time.Time `json:"started_at"`
	// SentAt is when the heartbeat was sent, on the sender's clock
	// (informational: membership uses its own clock).
	SentAt time.Time `json:"sent_at"`
	// Seq numbers the heartbeats of one process run, from 1.
	Seq uint64 `json:"seq"`
	// Load is the node's load at SentAt.
	Load Load `json:"load"`
}

// Validate reports whether hb can be published.
func (hb *Heartbeat) Validate() error {
	if err := ValidateID(hb.NodeID); err != nil {
		return fmt.Errorf("natsbus: heartbeat NodeID: %w", err)
	}
	if !hb.Role.Valid() {
		return fmt.Errorf("natsbus: heartbeat from %q: unknown role %q", hb.NodeID, hb.Role)
	}
	if hb.Address == "" {
		return fmt.Errorf("natsbus: heartbeat from %q: empty Address", hb.NodeID)
	}
	return nil
}

// DecodeHeartbeat parses and validates a heartbeat received on subj; the
// subject's node id must match the message's.
func DecodeHeartbeat(subj string, data []byte) (Heartbeat, error) {
	id, err := NodeIDFromHeartbeatSubject(subj)
	if err != nil {
		return Heartbeat{}, err
	}
	var hb Heartbeat
	if err := json.Unmarshal(data, &hb); err != nil {
		return Heartbeat{}, fmt.Errorf("natsbus: heartbeat on %q: %w", subj, err)
	}
	if hb.NodeID != id {
		return Heartbeat{}, fmt.Errorf("natsbus: heartbeat on %q claims node %q", subj, hb.NodeID)
	}
	if err := hb.Validate(); err != nil {
		return Heartbeat{}, err
	}
	return hb, nil
}

// PublisherConfig configures a heartbeat publisher.
type PublisherConfig struct {
	// Interval is the time between heartbeats. Default 1s; keep it well
	// below MembershipConfig.Timeout (a few heartbeats per timeout).
	Interval time.Duration
	// Heartbeat answers the heartbeat to send; called once per interval from
	// the publisher's goroutine. SentAt and Seq are filled in by the
	// publisher. Required.
	Heartbeat func() Heartbeat
	// Now is the clock stamping SentAt. Default time.Now.
	Now func() time.Time
	// Logger receives publish errors. Default slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (c *PublisherConfig) EnsureDefaults() {
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first invalid field.
func (c *PublisherConfig) Validate() error {
	if c.Interval <= 0 {
		return fmt.Errorf("natsbus: publisher: Interval %v <= 0", c.Interval)
	}
	if c.Heartbeat == nil {
		return errors.New("natsbus: publisher: nil Heartbeat func")
	}
	return nil
}

// StartHeartbeats publishes hb() on the node's heartbeat subject right away
// and then every interval, until ctx is done or stop is called. stop waits
// for the publishing goroutine to exit and may be called more than once.
// Heartbeats that fail validation or publishing are logged to slog.Default()
// and skipped; use StartPublisher to choose the logger and clock.
func StartHeartbeats(ctx context.Context, nc *nats.Conn, interval time.Duration, hb func() Heartbeat) (stop func()) {
	stop, err := StartPublisher(ctx, nc, PublisherConfig{Interval: interval, Heartbeat: hb})
	if err != nil {
		slog.Default().Error("natsbus: heartbeats not started", "err", err)
		return func() {}
	}
	return stop
}

// StartPublisher is StartHeartbeats with a full configuration; it answers an
// error for an invalid configuration.
func StartPublisher(ctx context.Context, nc *nats.Conn, cfg PublisherConfig) (stop func(), err error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if nc == nil {
		return nil, errors.New("natsbus: publisher: nil connection")
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var seq uint64
		ticker := time.NewTicker(cfg.Interval)
		defer ticker.Stop()
		for {
			seq++
			publishHeartbeat(nc, cfg, seq)
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}, nil
}

func publishHeartbeat(nc *nats.Conn, cfg PublisherConfig, seq uint64) {
	hb := cfg.Heartbeat()
	hb.SentAt = cfg.Now()
	hb.Seq = seq
	if err := hb.Validate(); err != nil {
		cfg.Logger.Error("natsbus: invalid heartbeat not sent", "err", err)
		return
	}
	subj, err := HeartbeatSubject(hb.NodeID)
	if err != nil {
		cfg.Logger.Error("natsbus: invalid heartbeat not sent", "err", err)
		return
	}
	data, err := json.Marshal(hb)
	if err != nil {
		cfg.Logger.Error("natsbus: encode heartbeat", "node", hb.NodeID, "err", err)
		return
	}
	if err := nc.Publish(subj, data); err != nil {
		// A disconnected client buffers publishes and reconnects on its own;
		// a closed one cannot send until the node restarts.
		cfg.Logger.Warn("natsbus: publish heartbeat", "node", hb.NodeID, "subject", subj, "err", err)
	}
}
