// Package logservice is the Raft-replicated write-ahead log of one shard.
//
// It owns, per replica, a hashicorp/raft node whose log and stable store is a
// raft-wal WAL under DataDir/raft (every append batch is fsynced before Raft
// counts it) and whose snapshots live under DataDir/snapshots. The leader
// runs the timestamp oracle (TSO) and orders commits; the replicated state
// machine (FSM) resolves write-write conflicts deterministically; every
// replica streams the committed records to page servers (ReadLog).
//
// Invariants:
//   - Durability: a commit is acknowledged only after its Raft entry is
//     committed (fsynced by a quorum) and applied to the leader's FSM.
//   - Monotonic timestamps: hybrid timestamps never go backwards, across
//     restarts and leader changes; the leader hands out timestamps only
//     below a high-water mark already committed through Raft.
//   - Log order == commit_ts order: the leader takes commit_ts and enqueues
//     the proposal under one mutex.
//   - Read rule: GetTimestamp answers T only after every commit with
//     commit_ts < T is applied, and its commit_index covers them; every later
//     commit gets a commit_ts > T.
//   - Determinism: the FSM reads only log entries, so replicas agree.
//   - Truncation: no entry above the minimum consistent index the page
//     servers reported (the floor, replicated through Raft) is dropped.
//
// See DESIGN.md for the request paths.
package logservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"google.golang.org/grpc"

	"github.com/phantom-db/phantom/internal/raftnode"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// Sentinel errors. gRPC answers carry them in their status message.
var (
	// ErrNotLeader: the node is not the ready leader of its group.
	ErrNotLeader = errors.New("logservice: not leader")
	// ErrUnavailable: the outcome could not be established in time (lost
	// leadership, shutdown, a timeout); a commit may or may not have applied.
	ErrUnavailable = errors.New("logservice: unavailable")
	// ErrClosed: the service is shut down.
	ErrClosed = errors.New("logservice: closed")
)

// Service is one replica of a log group. Create it with New, expose it with
// Register and stop it with Close.
type Service struct {
	cfg        Config
	log        *slog.Logger
	fsm        *fsm
	node       *raftnode.Node // stores, transport and Raft (internal/raftnode)
	wal        *raftwal.WAL   // node.WAL
	raft       *raft.Raft     // node.Raft
	m          *metrics
	unregister func() // removes the collectors from Config.Registerer
	// apiAddrs maps Raft server IDs to gRPC addresses, from Config.Peers.
	apiAddrs map[raft.ServerID]string

	// mu orders timestamp allocation with proposal enqueueing, so log order
	// equals commit_ts order and GetTimestamp sees every earlier proposal.
	mu    sync.Mutex
	ready bool // leader with an initialised TSO in this epoch
	tso   tsoState
	// lastProposedTS is the commit_ts of the newest proposal of this epoch
	// (0 if none): GetTimestamp waits until the FSM processed it.
	lastProposedTS uint64
	// epochDone is closed when the current leadership epoch ends, waking
	// waiters that can no longer be satisfied.
	epochDone chan struct{}

	leader    *leaderCheck  // confirms leadership before a timestamp is handed out
	fwd       forwarder     // connections to the leader (Config.ForwardToLeader)
	truncMu   sync.Mutex    // serialises Truncate
	truncDone chan struct{} // closed when truncateLoop returns
	resync    chan struct{} // asks the leader loop to re-establish
	closing   chan struct{}
	loopDone  chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// New opens (or creates) the replica's stores under cfg.DataDir, binds the
// Raft transport, bootstraps the group when asked and the directory is new,
// and starts Raft. It does not wait for a leader; see WaitLeader.
func New(ctx context.Context, cfg Config) (*Service, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &Service{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "logservice", "node", cfg.NodeID),
		fsm:       newFSM(cfg.MaxResolverKeys),
		apiAddrs:  map[raft.ServerID]string{},
		epochDone: make(chan struct{}),
		resync:    make(chan struct{}, 1),
		closing:   make(chan struct{}),
		loopDone:  make(chan struct{}),
		truncDone: make(chan struct{}),
	}
	for _, p := range cfg.Peers {
		if p.APIAddr != "" {
			s.apiAddrs[raft.ServerID(p.ID)] = p.APIAddr
		}
	}
	if cfg.APIAddr != "" {
		s.apiAddrs[raft.ServerID(cfg.NodeID)] = cfg.APIAddr
	}
	m, err := newMetrics(cfg.Registerer, s)
	if err != nil {
		return nil, err
	}
	s.m = m
	s.fsm.observe = func(d time.Duration) { m.applySeconds.Observe(d.Seconds()) }
	if err := s.open(); err != nil {
		s.closeStores()
		return nil, err
	}
	go s.leaderLoop()
	go s.truncateLoop()
	return s, nil
}

func (s *Service) open() error {
	cfg := &s.cfg
	peers := make([]raftnode.Peer, 0, len(cfg.Peers))
	for _, p := range cfg.Peers {
		peers = append(peers, raftnode.Peer{ID: p.ID, RaftAddr: p.RaftAddr})
	}
	node, err := raftnode.Open(raftnode.Config{
		NodeID:             cfg.NodeID,
		DataDir:            cfg.DataDir,
		RaftAddr:           cfg.RaftAddr,
		RaftAdvertiseAddr:  cfg.RaftAdvertiseAddr,
		TLS:                cfg.RaftTLS,
		PeerURI:            cfg.RaftPeerURI,
		Bootstrap:          cfg.Bootstrap,
		Peers:              peers,
		HeartbeatTimeout:   cfg.HeartbeatTimeout,
		ElectionTimeout:    cfg.ElectionTimeout,
		LeaderLeaseTimeout: cfg.LeaderLeaseTimeout,
		CommitTimeout:      cfg.RaftCommitTimeout,
		MaxAppendEntries:   cfg.MaxAppendEntries,
		BatchApplyCh:       true,
		SnapshotThreshold:  cfg.SnapshotThreshold,
		SnapshotInterval:   cfg.SnapshotInterval,
		TrailingLogs:       cfg.TrailingLogs,
		SnapshotRetain:     cfg.SnapshotRetain,
		TransportTimeout:   cfg.TransportTimeout,
		TransportMaxPool:   cfg.TransportMaxPool,
		// Raft sees the WAL through guardedLogStore (truncate.go):
		// truncation clamp and StoreLogs timing.
		WrapLogStore: func(w *raftwal.WAL) raft.LogStore {
			s.wal = w
			return &guardedLogStore{WAL: w, floor: s.floorIndex, log: s.log, m: s.m}
		},
		Logger: cfg.Logger,
	}, s.fsm)
	if err != nil {
		return fmt.Errorf("logservice: %w", err)
	}
	s.node, s.wal, s.raft = node, node.WAL, node.Raft
	s.leader = newLeaderCheck(s.raft)
	return nil
}

// Register registers the LogService gRPC server on g. The caller owns g and
// its listener.
func (s *Service) Register(g *grpc.Server) {
	wirepb.RegisterLogServiceServer(g, &server{s: s})
}

// RaftAddr returns the advertised Raft address: the one peers dial and the
// group configuration records (Config.RaftAdvertiseAddr, else the bound
// address).
func (s *Service) RaftAddr() string { return s.node.RaftAddr() }

// RaftBindAddr returns the address the Raft transport is bound to (with the
// port chosen when Config.RaftAddr asked for port 0).
func (s *Service) RaftBindAddr() string { return s.node.BindAddr() }

// IsLeader reports whether this replica is the leader and its timestamp
// oracle is ready to serve.
func (s *Service) IsLeader() bool {
	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	return ready && s.raft.State() == raft.Leader
}

// WaitLeader blocks until the group has a leader this replica knows of and,
// when that leader is this replica, it is ready to serve.
func (s *Service) WaitLeader(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		_, id := s.raft.LeaderWithID()
		if id != "" && (id != raft.ServerID(s.cfg.NodeID) || s.IsLeader()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("logservice: wait for leader: %w", ctx.Err())
		case <-s.closing:
			return ErrClosed
		case <-t.C:
		}
	}
}

// Close shuts Raft down cleanly, stops the leader loop and closes the
// transport and the stores. It is safe to call more than once.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		var errs []error
		if err := s.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
		}
		<-s.loopDone
		<-s.truncDone
		errs = append(errs, s.fwd.close(), s.closeStores())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("logservice: close: %w", err)
		}
	})
	return s.closeErr
}

func (s *Service) closeStores() error {
	if s.unregister != nil {
		s.unregister()
	}
	if s.node != nil {
		return s.node.Close()
	}
	return nil
}

// leaderLoop follows leadership changes: on any change it ends the current
// epoch, and while this node is leader it establishes a new one.
func (s *Service) leaderLoop() {
	defer close(s.loopDone)
	leaderCh := s.raft.LeaderCh()
	for {
		select {
		case <-s.closing:
			s.stepDown()
			return
		case <-leaderCh:
		case <-s.resync:
		}
		s.stepDown()
		for s.raft.State() == raft.Leader {
			err := s.establish()
			if err == nil {
				break
			}
			s.log.Warn("establishing leadership failed; retrying", "err", err)
			select {
			case <-s.closing:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// requestResync asks the leader loop to end the epoch and, if still leader,
// start a new one: after a proposal failed its timestamp may never be
// applied, so waiters on it must be released and the TSO re-based.
func (s *Service) requestResync() {
	select {
	case s.resync <- struct{}{}:
	default:
	}
}

// stepDown ends the current epoch.
func (s *Service) stepDown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		s.ready = false
		close(s.epochDone)
		s.log.Info("leadership epoch ended")
	}
}

// establish starts a leadership epoch: a barrier makes the FSM apply every
// earlier entry, then the TSO starts above everything any earlier leader
// could have handed out, and a new high-water mark is committed before the
// first timestamp is handed out.
func (s *Service) establish() error {
	if err := s.raft.Barrier(s.cfg.CommitWait).Error(); err != nil {
		return fmt.Errorf("barrier: %w", err)
	}
	// Record this leader's gRPC address, so members that were added later
	// (and have no Config.Peers entry for it) can name it to clients.
	if a := s.cfg.APIAddr; a != "" && s.fsm.memberAddr(s.cfg.NodeID) != a {
		if err := s.raft.Apply(encodeMemberAddr(s.cfg.NodeID, a), s.cfg.CommitWait).Error(); err != nil {
			return fmt.Errorf("record api address: %w", err)
		}
	}
	v, _ := s.fsm.view()
	s.mu.Lock()
	defer s.mu.Unlock()
	base := max(v.hwm, v.lastCommitTS, v.lastProcessedTS)
	s.tso = tsoState{last: base, limit: base}
	if err := s.extendLocked(base + 1); err != nil {
		return err
	}
	// Every proposal of earlier epochs is applied (barrier) or will never be.
	s.lastProposedTS = 0
	s.epochDone = make(chan struct{})
	s.ready = true
	s.m.leaderChanges.Inc()
	s.log.Info("leadership established", "tso_floor", base, "hwm", s.tso.limit)
	return nil
}

// extendLocked commits a high-water mark covering end plus one window, and
// raises the TSO limit to it. Called with mu held: allocation waits for it.
func (s *Service) extendLocked(end uint64) error {
	hwm := max(TimestampAt(s.cfg.Now()), end) + durationTS(s.cfg.TSOWindow)
	f := s.raft.Apply(encodeHWM(hwm), s.cfg.CommitWait)
	if err := f.Error(); err != nil {
		return fmt.Errorf("%w: persist timestamp high-water mark: %w", ErrUnavailable, err)
	}
	if res, ok := f.Response().(*applyResult); ok && res.err != nil {
		return fmt.Errorf("persist timestamp high-water mark: %w", res.err)
	}
	s.tso.limit = hwm
	return nil
}

// allocLocked hands out n consecutive timestamps, persisting a new
// high-water mark first when they would pass the current one.
func (s *Service) allocLocked(n uint32) (uint64, error) {
	first, end, need := s.tso.next(n, TimestampAt(s.cfg.Now()))
	if need {
		if err := s.extendLocked(end); err != nil {
			return 0, err
		}
	}
	s.tso.last = end
	return first, nil
}

// waitFuture waits for a Raft future, or for ctx.
func waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commit proposes a commit record and waits until it is committed by a
// quorum and applied. It answers the FSM's verdict.
func (s *Service) commit(ctx context.Context, startTS uint64, muts []*wirepb.Mutation, reads []*wirepb.KeyRange) (commitTS, index uint64, err error) {
	began := time.Now()
	commitTS, index, err = s.commitOnce(ctx, startTS, muts, reads)
	switch {
	case err == nil:
		s.m.commits.Inc()
		s.m.commitSeconds.Observe(time.Since(began).Seconds())
	case errors.Is(err, ErrConflict), errors.Is(err, ErrReadConflict), errors.Is(err, ErrTooOld), errors.Is(err, ErrBadTimestamp):
		s.m.aborts.WithLabelValues(abortReason(err)).Inc()
		s.m.commitSeconds.Observe(time.Since(began).Seconds())
	}
	return commitTS, index, err
}

func (s *Service) commitOnce(ctx context.Context, startTS uint64, muts []*wirepb.Mutation, reads []*wirepb.KeyRange) (commitTS, index uint64, err error) {
	if err := validateRanges(reads); err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	if !s.ready {
		s.mu.Unlock()
		return 0, 0, ErrNotLeader
	}
	if startTS > s.tso.last {
		last := s.tso.last
		s.mu.Unlock()
		return 0, 0, fmt.Errorf("%w: start_ts %d was never issued (newest %d)", errInvalid, startTS, last)
	}
	commitTS, err = s.allocLocked(1)
	if err != nil {
		s.mu.Unlock()
		s.requestResync()
		return 0, 0, err
	}
	f := s.raft.Apply(encodeCommit(startTS, commitTS, muts, reads), s.cfg.CommitWait)
	s.lastProposedTS = commitTS
	s.mu.Unlock()

	if err := waitFuture(ctx, f); err != nil {
		if ctx.Err() != nil {
			return 0, 0, err
		}
		// The proposal may never apply: release GetTimestamp waiters.
		s.requestResync()
		return 0, 0, fmt.Errorf("%w: commit at %d: %w", ErrUnavailable, commitTS, err)
	}
	res, ok := f.Response().(*applyResult)
	if !ok {
		return 0, 0, fmt.Errorf("logservice: unexpected apply response %T", f.Response())
	}
	if res.err != nil {
		return 0, 0, res.err
	}
	return res.commitTS, res.index, nil
}

// getTimestamp hands out n timestamps starting at ts, once every commit
// proposed before them is applied; commitIndex is the newest applied commit
// record's index at that point.
func (s *Service) getTimestamp(ctx context.Context, n uint32) (ts, commitIndex uint64, err error) {
	s.mu.Lock()
	if !s.ready {
		s.mu.Unlock()
		return 0, 0, ErrNotLeader
	}
	ts, err = s.allocLocked(n)
	if err != nil {
		s.mu.Unlock()
		s.requestResync()
		return 0, 0, err
	}
	w, epochDone := s.lastProposedTS, s.epochDone
	s.mu.Unlock()

	timer := time.NewTimer(s.cfg.ReadWait)
	defer timer.Stop()
	for {
		v, changed := s.fsm.view()
		if v.lastProcessedTS >= w {
			if err := s.leader.confirm(ctx); err != nil {
				if ctx.Err() != nil {
					return 0, 0, ctx.Err()
				}
				return 0, 0, fmt.Errorf("%w: leadership not confirmed: %w", ErrNotLeader, err)
			}
			return ts, v.lastCommitIndex, nil
		}
		select {
		case <-changed:
		case <-epochDone:
			return 0, 0, fmt.Errorf("%w: leadership ended while waiting for commit %d", ErrUnavailable, w)
		case <-s.closing:
			return 0, 0, ErrClosed
		case <-timer.C:
			return 0, 0, fmt.Errorf("%w: commit %d not applied within %s", ErrUnavailable, w, s.cfg.ReadWait)
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
	}
}
