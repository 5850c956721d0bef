package logservice

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phantom-db/phantom/internal/raftnode"
)

// DefaultRaftPeerURI is the URI SAN a Raft peer's certificate must carry
// when Config.RaftTLS is set: the role marker of a log service replica.
const DefaultRaftPeerURI = "spiffe://phantom/logservice"

// ErrPeerIdentity: a Raft peer's certificate does not chain to the
// configured CA or lacks the log service role URI.
var ErrPeerIdentity = raftnode.ErrPeerIdentity

// Peer is one voter of the Raft group, as named at bootstrap.
type Peer struct {
	// ID is the peer's Raft server ID (its NodeID). Required.
	ID string
	// RaftAddr is the peer's Raft TCP address (host:port), required to
	// bootstrap. For the entry whose ID equals Config.NodeID it may be empty
	// or differ: the locally bound address is used.
	RaftAddr string
	// RaftAdvertiseAddr is the host:port peers dial to reach this replica's
	// Raft transport and the address recorded for it in the group
	// configuration (at bootstrap, and when a leader adds it). It may differ
	// from RaftAddr behind NAT, a proxy or a fault-injecting test proxy.
	// Default "": the bound RaftAddr.
	RaftAdvertiseAddr string
	// APIAddr is the peer's gRPC address (host:port), optional. When set, a
	// follower names it to clients as the leader's address.
	APIAddr string
}

// Config configures one log service replica. The zero value plus NodeID and
// DataDir is usable after EnsureDefaults.
type Config struct {
	// NodeID is this replica's Raft server ID; unique within the group.
	// Required.
	NodeID string
	// DataDir holds the raft-wal log and stable store (DataDir/raft) and the
	// file snapshot store (DataDir/snapshots). Required.
	DataDir string
	// RaftAddr is the TCP address the Raft transport binds; "127.0.0.1:0"
	// picks a free port (Service.RaftBindAddr reports the bound address). It
	// must be advertisable (not 0.0.0.0) unless RaftAdvertiseAddr is set.
	// Default "127.0.0.1:0".
	RaftAddr string
	// RaftAdvertiseAddr is the host:port peers dial to reach this replica's
	// Raft transport and the address recorded for it in the group
	// configuration (at bootstrap, and when a leader adds it). It may differ
	// from RaftAddr behind NAT, a proxy or a fault-injecting test proxy.
	// Default "": the bound RaftAddr.
	RaftAdvertiseAddr string
	// RaftTLS, when set, puts mutual TLS 1.3 on every Raft connection: its
	// Certificates (or GetCertificate) are this replica's certificate in
	// both directions, and RootCAs is the CA pool peers are verified
	// against. A peer must also carry the URI SAN RaftPeerURI. Default nil:
	// plain TCP.
	RaftTLS *tls.Config
	// RaftPeerURI is the URI SAN a Raft peer's certificate must carry when
	// RaftTLS is set. Default DefaultRaftPeerURI.
	RaftPeerURI string
	// APIAddr is this replica's own gRPC address as clients reach it,
	// optional; reported by Status and in not-leader answers. Default "".
	APIAddr string
	// Bootstrap makes this node bootstrap the group from Peers when its data
	// directory holds no Raft state yet. It is ignored on a restart. Default
	// false.
	Bootstrap bool
	// Peers are the voters to bootstrap with; empty means just this node.
	// Without Bootstrap only their APIAddr values are used (to name the
	// leader to clients), and RaftAddr may be empty.
	Peers []Peer

	// ForwardToLeader makes a follower forward GetTimestamp and Commit to
	// the leader (when it knows the leader's gRPC address) instead of
	// answering FAILED_PRECONDITION; a forwarded request is never forwarded
	// again. Default false.
	ForwardToLeader bool

	// TSOWindow is how far ahead of the wall clock the persisted timestamp
	// high-water mark runs: the leader writes one Raft entry per window.
	// Default 3s.
	TSOWindow time.Duration
	// CommitWait bounds how long a proposal may wait to be enqueued into
	// Raft, and how long leader establishment waits for its barrier.
	// Default 5s.
	CommitWait time.Duration
	// ReadWait bounds how long GetTimestamp waits for the FSM to apply the
	// commits proposed before the timestamp. Default 5s.
	ReadWait time.Duration
	// MaxResolverKeys is how many keys the conflict resolver remembers; older
	// writes are forgotten and commits that started before them abort as too
	// old. Default 1,000,000.
	MaxResolverKeys int

	// HeartbeatTimeout is Raft's follower heartbeat timeout: a follower that
	// hears nothing from the leader this long starts an election. Together
	// with ElectionTimeout it bounds failover time. Default 500ms.
	HeartbeatTimeout time.Duration
	// ElectionTimeout is Raft's candidate election timeout. Default 500ms.
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader stays without quorum contact
	// before stepping down; at most HeartbeatTimeout. Default 250ms.
	LeaderLeaseTimeout time.Duration
	// RaftCommitTimeout is Raft's idle heartbeat interval for commit index
	// propagation. Default 50ms.
	RaftCommitTimeout time.Duration
	// MaxAppendEntries is the maximum number of entries in one Raft append
	// (and one group-commit batch). At most 1024. Default 256.
	MaxAppendEntries int
	// SnapshotThreshold is how many new log entries trigger an FSM snapshot.
	// Default 65536.
	SnapshotThreshold uint64
	// SnapshotInterval is how often Raft checks whether to snapshot.
	// Default 2m.
	SnapshotInterval time.Duration
	// SnapshotRetain is how many snapshots are kept on disk. Default 2.
	SnapshotRetain int
	// TrailingLogs is how many log entries (at least 1) a snapshot leaves
	// behind, so lagging followers catch up by replay. Independently of it,
	// no entry above the truncation floor (the minimum consistent index the
	// page servers reported) is ever dropped, and nothing is dropped before
	// any page server reported. Default 1024.
	TrailingLogs uint64
	// TruncateInterval is how often the replica tries to truncate its log
	// below the truncation floor (Service.Truncate). Default 1m.
	TruncateInterval time.Duration
	// TransportTimeout is the Raft TCP transport I/O timeout. Default 10s.
	TransportTimeout time.Duration
	// TransportMaxPool is the Raft TCP connection pool size per peer.
	// Default 3.
	TransportMaxPool int

	// Registerer receives the service's Prometheus collectors (labelled
	// node=NodeID): commits, aborts by reason, commit/fsync/apply latency,
	// leader epochs, log first/last index. Default nil: not exported.
	Registerer prometheus.Registerer
	// Logger receives the service's and Raft's logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the wall clock the timestamp oracle reads; tests skew it.
	// Default time.Now.
	Now func() time.Time
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.RaftAddr == "" {
		c.RaftAddr = "127.0.0.1:0"
	}
	if c.RaftPeerURI == "" {
		c.RaftPeerURI = DefaultRaftPeerURI
	}
	if c.TSOWindow == 0 {
		c.TSOWindow = 3 * time.Second
	}
	if c.CommitWait == 0 {
		c.CommitWait = 5 * time.Second
	}
	if c.ReadWait == 0 {
		c.ReadWait = 5 * time.Second
	}
	if c.MaxResolverKeys == 0 {
		c.MaxResolverKeys = 1_000_000
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = 500 * time.Millisecond
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = 500 * time.Millisecond
	}
	if c.LeaderLeaseTimeout == 0 {
		c.LeaderLeaseTimeout = min(250*time.Millisecond, c.HeartbeatTimeout)
	}
	if c.RaftCommitTimeout == 0 {
		c.RaftCommitTimeout = 50 * time.Millisecond
	}
	if c.MaxAppendEntries == 0 {
		c.MaxAppendEntries = 256
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 65536
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = 2 * time.Minute
	}
	if c.SnapshotRetain == 0 {
		c.SnapshotRetain = 2
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 1024
	}
	if c.TruncateInterval == 0 {
		c.TruncateInterval = time.Minute
	}
	if c.TransportTimeout == 0 {
		c.TransportTimeout = 10 * time.Second
	}
	if c.TransportMaxPool == 0 {
		c.TransportMaxPool = 3
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports the first invalid field. Call EnsureDefaults first.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("NodeID is required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if c.TSOWindow < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("TSOWindow %s is below 10ms", c.TSOWindow))
	}
	if c.CommitWait <= 0 || c.ReadWait <= 0 {
		errs = append(errs, errors.New("CommitWait and ReadWait must be positive"))
	}
	if c.MaxResolverKeys < 1 {
		errs = append(errs, fmt.Errorf("MaxResolverKeys %d must be positive", c.MaxResolverKeys))
	}
	if c.MaxAppendEntries < 1 || c.MaxAppendEntries > 1024 {
		errs = append(errs, fmt.Errorf("MaxAppendEntries %d must be in [1, 1024]", c.MaxAppendEntries))
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		errs = append(errs, fmt.Errorf("LeaderLeaseTimeout %s exceeds HeartbeatTimeout %s", c.LeaderLeaseTimeout, c.HeartbeatTimeout))
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		errs = append(errs, fmt.Errorf("ElectionTimeout %s is below HeartbeatTimeout %s", c.ElectionTimeout, c.HeartbeatTimeout))
	}
	if c.TruncateInterval <= 0 {
		errs = append(errs, fmt.Errorf("TruncateInterval %s must be positive", c.TruncateInterval))
	}
	if c.SnapshotRetain < 1 {
		errs = append(errs, fmt.Errorf("SnapshotRetain %d must be positive", c.SnapshotRetain))
	}
	if c.RaftTLS != nil {
		if _, _, err := raftnode.PeerTLS(c.RaftTLS, c.RaftPeerURI); err != nil {
			errs = append(errs, fmt.Errorf("RaftTLS: %w", err))
		}
	}
	if c.RaftAdvertiseAddr != "" {
		if err := raftnode.ValidateAdvertise(c.RaftAdvertiseAddr); err != nil {
			errs = append(errs, fmt.Errorf("RaftAdvertiseAddr: %w", err))
		}
	}
	seen := map[string]bool{}
	for _, p := range c.Peers {
		if p.ID == "" {
			errs = append(errs, errors.New("Peers: empty ID"))
			continue
		}
		if seen[p.ID] {
			errs = append(errs, fmt.Errorf("Peers: duplicate ID %q", p.ID))
		}
		seen[p.ID] = true
		if c.Bootstrap && p.ID != c.NodeID && p.RaftAddr == "" {
			errs = append(errs, fmt.Errorf("Peers: %q has no RaftAddr", p.ID))
		}
	}
	if len(c.Peers) > 0 && !seen[c.NodeID] {
		errs = append(errs, fmt.Errorf("Peers does not include NodeID %q", c.NodeID))
	}
	if c.Logger == nil || c.Now == nil {
		errs = append(errs, errors.New("Logger and Now must be set (call EnsureDefaults)"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("logservice: invalid config: %w", err)
	}
	return nil
}
