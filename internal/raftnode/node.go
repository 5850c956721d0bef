// Package raftnode is the hashicorp/raft wiring shared by Phantom-DB's
// replicated services (the log service and the control plane): a raft-wal
// log and stable store (every append batch fsynced), a file snapshot store,
// a TCP transport (optionally with mutual TLS) that advertises an address
// other than the bound one, bootstrap from a list of peers, and an hclog
// adapter onto log/slog. The service brings its own raft.FSM.
//
// Layout under Config.DataDir: raft/ (raft-wal segments and wal-meta.db, the
// stable store) and snapshots/.
//
// Invariants:
//   - An entry is stored only after raft-wal fsynced its batch, so a quorum
//     has an entry on disk before Raft counts it committed.
//   - Bootstrap happens only on a data directory with no Raft state: a
//     restart never re-bootstraps nor changes the group.
package raftnode

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// Peer is one voter of the group, as named at bootstrap.
type Peer struct {
	// ID is the peer's Raft server ID. Required.
	ID string
	// RaftAddr is the address the group configuration records for the peer
	// (the one other voters dial). Ignored for the entry of Config.NodeID,
	// which uses this node's advertised address.
	RaftAddr string
}

// Config configures one Raft replica.
type Config struct {
	// NodeID is this replica's Raft server ID; unique within the group.
	// Required.
	NodeID string
	// DataDir holds raft/ (the raft-wal log and stable store) and
	// snapshots/. Required.
	DataDir string
	// RaftAddr is the TCP address the transport binds ("127.0.0.1:0": a
	// free port). Empty: no network transport at all (an in-memory one);
	// the group can then only be this one voter, and Peers must name no
	// one else.
	RaftAddr string
	// RaftAdvertiseAddr is the host:port peers dial and the group
	// configuration records for this node. Default: the bound address,
	// which must then be a specific IP.
	RaftAdvertiseAddr string
	// TLS, when set, puts mutual TLS 1.3 on every Raft connection (see
	// PeerTLS); PeerURI is then the URI SAN every peer must carry.
	TLS     *tls.Config
	PeerURI string
	// Bootstrap makes this node bootstrap the group from Peers (empty:
	// itself alone) when its data directory holds no Raft state.
	Bootstrap bool
	Peers     []Peer

	// Raft timing and batching; zero values keep raft.DefaultConfig's.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	MaxAppendEntries   int
	BatchApplyCh       bool
	SnapshotThreshold  uint64
	SnapshotInterval   time.Duration
	TrailingLogs       uint64
	// SnapshotRetain is how many snapshots are kept. Default 2.
	SnapshotRetain int
	// TransportTimeout is the TCP transport's I/O timeout. Default 10s.
	TransportTimeout time.Duration
	// TransportMaxPool is the connection pool size per peer. Default 3.
	TransportMaxPool int
	// LogCacheSize is how many of the newest entries Raft keeps in memory
	// (write-through) so the leader replicates fresh entries without
	// reading them back from disk. Default 1024.
	LogCacheSize int
	// WrapLogStore, when set, wraps the WAL before Raft sees it as its log
	// store (the log service clamps truncation there). The WAL stays the
	// stable store.
	WrapLogStore func(*raftwal.WAL) raft.LogStore
	// Logger receives Raft's, raft-wal's and this package's logs. Default
	// slog.Default().
	Logger *slog.Logger
}

func (c *Config) ensureDefaults() {
	if c.SnapshotRetain == 0 {
		c.SnapshotRetain = 2
	}
	if c.TransportTimeout == 0 {
		c.TransportTimeout = 10 * time.Second
	}
	if c.TransportMaxPool == 0 {
		c.TransportMaxPool = 3
	}
	if c.LogCacheSize == 0 {
		c.LogCacheSize = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the configuration errors this package can judge.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("NodeID is required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if c.TLS != nil {
		if c.PeerURI == "" {
			errs = append(errs, errors.New("TLS needs PeerURI"))
		} else if _, _, err := PeerTLS(c.TLS, c.PeerURI); err != nil {
			errs = append(errs, fmt.Errorf("TLS: %w", err))
		}
	}
	if c.RaftAdvertiseAddr != "" {
		if err := ValidateAdvertise(c.RaftAdvertiseAddr); err != nil {
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
		if p.ID != c.NodeID {
			if c.RaftAddr == "" {
				errs = append(errs, fmt.Errorf("Peers: %q needs a network transport: set RaftAddr", p.ID))
			}
			if c.Bootstrap && p.RaftAddr == "" {
				errs = append(errs, fmt.Errorf("Peers: %q has no RaftAddr", p.ID))
			}
		}
	}
	if len(c.Peers) > 0 && !seen[c.NodeID] {
		errs = append(errs, fmt.Errorf("Peers does not include NodeID %q", c.NodeID))
	}
	return errors.Join(errs...)
}

// Node is an open Raft replica: its stores, its transport and the running
// *raft.Raft.
type Node struct {
	// Raft is the running replica.
	Raft *raft.Raft
	// WAL is the raft-wal log and stable store.
	WAL *raftwal.WAL

	meta   *metadb.BoltMetaDB // raft-wal's stable store; WAL.Close leaves it open
	trans  raft.Transport
	closer interface{ Close() error }
	bind   string
}

// Open opens (or creates) the stores under cfg.DataDir, binds the
// transport, bootstraps the group when asked and the directory holds no
// Raft state, and starts Raft with fsm. It does not wait for a leader. On
// error everything it opened is closed.
func Open(cfg Config, fsm raft.FSM) (*Node, error) {
	cfg.ensureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("raftnode: invalid config: %w", err)
	}
	n := &Node{}
	if err := n.open(cfg, fsm); err != nil {
		_ = n.closeStores()
		return nil, err
	}
	return n, nil
}

func (n *Node) open(cfg Config, fsm raft.FSM) error {
	hlog := NewHCLog(cfg.Logger.With("node", cfg.NodeID), "raft")
	raftDir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(raftDir, 0o755); err != nil {
		return fmt.Errorf("raftnode: create raft dir: %w", err)
	}
	// raft-wal fsyncs every StoreLogs batch (segment writer commit frame);
	// there is no option to turn that off. Its stable store is a bbolt file
	// (wal-meta.db), synced on every Set; WAL.Close does not close it, so
	// closeStores does.
	n.meta = &metadb.BoltMetaDB{}
	w, err := raftwal.Open(raftDir, raftwal.WithLogger(hlog.Named("wal")), raftwal.WithMetaStore(n.meta))
	if err != nil {
		return fmt.Errorf("raftnode: open wal %s: %w", raftDir, err)
	}
	n.WAL = w
	// The store adds the "snapshots" directory under its base.
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.SnapshotRetain, hlog.Named("snapshots"))
	if err != nil {
		return fmt.Errorf("raftnode: open snapshot store: %w", err)
	}
	if cfg.RaftAddr == "" {
		addr, t := raft.NewInmemTransport(raft.ServerAddress("local/" + cfg.NodeID))
		n.trans, n.closer, n.bind = t, t, string(addr)
	} else {
		stream, err := listenRaft(cfg.RaftAddr, cfg.RaftAdvertiseAddr)
		if err != nil {
			return fmt.Errorf("raftnode: bind raft transport %s: %w", cfg.RaftAddr, err)
		}
		n.bind = stream.listener.Addr().String()
		var layer raft.StreamLayer = stream
		if cfg.TLS != nil {
			server, client, err := PeerTLS(cfg.TLS, cfg.PeerURI)
			if err != nil {
				_ = stream.Close()
				return fmt.Errorf("raftnode: raft tls: %w", err)
			}
			layer = &tlsStreamLayer{tcpStreamLayer: stream, server: server, client: client}
		}
		t := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream:  layer,
			MaxPool: cfg.TransportMaxPool,
			Timeout: cfg.TransportTimeout,
			Logger:  hlog.Named("transport"),
		})
		n.trans, n.closer = t, t
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	setDur(&rc.HeartbeatTimeout, cfg.HeartbeatTimeout)
	setDur(&rc.ElectionTimeout, cfg.ElectionTimeout)
	setDur(&rc.LeaderLeaseTimeout, cfg.LeaderLeaseTimeout)
	setDur(&rc.CommitTimeout, cfg.CommitTimeout)
	setDur(&rc.SnapshotInterval, cfg.SnapshotInterval)
	if cfg.MaxAppendEntries != 0 {
		rc.MaxAppendEntries = cfg.MaxAppendEntries
	}
	if cfg.SnapshotThreshold != 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.TrailingLogs != 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	rc.BatchApplyCh = cfg.BatchApplyCh
	rc.NoLegacyTelemetry = true
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("raftnode: raft config: %w", err)
	}

	if cfg.Bootstrap {
		has, err := raft.HasExistingState(w, w, snaps)
		if err != nil {
			return fmt.Errorf("raftnode: inspect raft state: %w", err)
		}
		if !has {
			conf := bootstrapConfiguration(cfg, n.trans.LocalAddr())
			if err := raft.BootstrapCluster(rc, w, w, snaps, n.trans, conf); err != nil {
				return fmt.Errorf("raftnode: bootstrap: %w", err)
			}
			cfg.Logger.Info("bootstrapped raft group", "node", cfg.NodeID, "servers", len(conf.Servers))
		}
	}
	var logs raft.LogStore = w
	if cfg.WrapLogStore != nil {
		logs = cfg.WrapLogStore(w)
	}
	cached, err := raft.NewLogCache(cfg.LogCacheSize, logs)
	if err != nil {
		return fmt.Errorf("raftnode: log cache: %w", err)
	}
	r, err := raft.NewRaft(rc, fsm, cached, w, snaps, n.trans)
	if err != nil {
		return fmt.Errorf("raftnode: start raft: %w", err)
	}
	n.Raft = r
	cfg.Logger.Info("raft started", "node", cfg.NodeID, "raft_addr", n.trans.LocalAddr(), "raft_bind", n.bind)
	return nil
}

func setDur(dst *time.Duration, v time.Duration) {
	if v != 0 {
		*dst = v
	}
}

func bootstrapConfiguration(cfg Config, self raft.ServerAddress) raft.Configuration {
	me := raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(cfg.NodeID), Address: self}
	if len(cfg.Peers) == 0 {
		return raft.Configuration{Servers: []raft.Server{me}}
	}
	var conf raft.Configuration
	for _, p := range cfg.Peers {
		if p.ID == cfg.NodeID {
			conf.Servers = append(conf.Servers, me)
			continue
		}
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr)})
	}
	return conf
}

// RaftAddr returns the advertised Raft address: the one peers dial and the
// group configuration records.
func (n *Node) RaftAddr() string { return string(n.trans.LocalAddr()) }

// BindAddr returns the address the transport is bound to (with the port
// chosen when Config.RaftAddr asked for port 0).
func (n *Node) BindAddr() string { return n.bind }

// Shutdown stops Raft; the stores stay open until Close.
func (n *Node) Shutdown() error {
	if err := n.Raft.Shutdown().Error(); err != nil {
		return fmt.Errorf("raftnode: raft shutdown: %w", err)
	}
	return nil
}

// Close closes the transport and the stores. Call it after Shutdown (and
// after whatever still reads the WAL has stopped).
func (n *Node) Close() error { return n.closeStores() }

func (n *Node) closeStores() error {
	var errs []error
	if n.closer != nil {
		if err := n.closer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("transport: %w", err))
		}
		n.closer = nil
	}
	if n.WAL != nil {
		if err := n.WAL.Close(); err != nil {
			errs = append(errs, fmt.Errorf("wal: %w", err))
		}
		n.WAL = nil
	}
	if n.meta != nil {
		if err := n.meta.Close(); err != nil {
			errs = append(errs, fmt.Errorf("wal meta db: %w", err))
		}
		n.meta = nil
	}
	return errors.Join(errs...)
}
