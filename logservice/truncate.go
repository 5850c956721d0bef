package logservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
)

// guardedLogStore is the raft-wal store, timed (metrics.go), with head
// truncation clamped to the
// FSM's truncation floor: Raft compacts the log after every snapshot, keeping
// TrailingLogs entries counted back from a last index that moves while the
// snapshot is taken, so TrailingLogs alone cannot promise to keep every entry
// above the floor. The clamp can.
type guardedLogStore struct {
	*raftwal.WAL
	floor func() uint64
	log   *slog.Logger
	m     *metrics // times StoreLogs; nil in unit tests
}

var _ raft.MonotonicLogStore = (*guardedLogStore)(nil)

// DeleteRange implements raft.LogStore. A deletion through the last index is
// Raft dropping a follower's whole log after it installed a leader snapshot
// (a monotonic store cannot have a gap); it passes. Any other deletion is a
// compaction and keeps every entry above the floor.
func (g *guardedLogStore) DeleteRange(lo, hi uint64) error {
	last, err := g.WAL.LastIndex()
	if err != nil {
		return err
	}
	if hi < last {
		if floor := g.floor(); hi > floor {
			g.log.Debug("log compaction clamped to the truncation floor", "want", hi, "floor", floor)
			hi = floor
		}
		if hi < lo {
			return nil
		}
	}
	return g.WAL.DeleteRange(lo, hi)
}

// floorIndex returns the FSM's truncation floor.
func (s *Service) floorIndex() uint64 {
	v, _ := s.fsm.view()
	return v.floor
}

// ReportConsistent records through Raft that page server nodeID holds
// everything up to log index index (commit_ts ts) in the object store, and
// returns the truncation floor after it. Leader only (else ErrNotLeader).
func (s *Service) ReportConsistent(ctx context.Context, nodeID string, index, ts uint64) (floor uint64, err error) {
	if nodeID == "" {
		return 0, fmt.Errorf("%w: empty node id", errInvalid)
	}
	if !s.IsLeader() {
		return 0, ErrNotLeader
	}
	if v, _ := s.fsm.view(); index > v.appliedIndex {
		return 0, fmt.Errorf("%w: index %d above the applied index %d", errInvalid, index, v.appliedIndex)
	}
	f := s.raft.Apply(encodeReport(consistentReport{nodeID: nodeID, index: index, ts: ts}), s.cfg.CommitWait)
	if err := waitFuture(ctx, f); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return 0, fmt.Errorf("%w: %w", ErrNotLeader, err)
		}
		return 0, fmt.Errorf("%w: report consistent point: %w", ErrUnavailable, err)
	}
	res, ok := f.Response().(*applyResult)
	if !ok {
		return 0, fmt.Errorf("logservice: unexpected apply response %T", f.Response())
	}
	return res.floor, res.err
}

// Truncate drops the log entries at or below the truncation floor (the
// minimum consistent index the page servers reported) by taking a Raft
// snapshot, whose compaction guardedLogStore clamps to the floor. It does
// nothing without reports or when nothing new is below the floor. Every
// replica truncates its own log; the service calls it every
// Config.TruncateInterval.
func (s *Service) Truncate(ctx context.Context) error {
	s.truncMu.Lock()
	defer s.truncMu.Unlock()
	floor := s.floorIndex()
	first, err := s.wal.FirstIndex()
	if err != nil {
		return fmt.Errorf("logservice: truncate: first index: %w", err)
	}
	if floor == 0 || floor < first {
		return nil
	}
	if err := waitFuture(ctx, s.raft.Snapshot()); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return fmt.Errorf("logservice: truncate below %d: %w", floor, err)
	}
	return nil
}

// truncateLoop calls Truncate every Config.TruncateInterval until Close.
func (s *Service) truncateLoop() {
	defer close(s.truncDone)
	t := time.NewTicker(s.cfg.TruncateInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.TruncateInterval)
		if err := s.Truncate(ctx); err != nil {
			s.log.Warn("log truncation failed", "err", err)
		}
		cancel()
	}
}
