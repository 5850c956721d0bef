package logservice

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// Trailer metadata keys of a not-leader answer (codes.FailedPrecondition).
// logclient reads MetadataLeaderAddr to move to the leader.
const (
	// MetadataLeaderAddr is the leader's gRPC address, when known.
	MetadataLeaderAddr = "phantom-leader-addr"
	// MetadataLeaderID is the leader's Raft server ID, when known.
	MetadataLeaderID = "phantom-leader-id"
	// MetadataLeaderRaftAddr is the leader's Raft address, when known.
	MetadataLeaderRaftAddr = "phantom-leader-raft-addr"
)

// maxTimestampCount bounds GetTimestamp's count so one call cannot push the
// oracle far ahead of the clock.
const maxTimestampCount = 1 << 20

// errInvalid marks bad requests (codes.InvalidArgument).
var errInvalid = errors.New("logservice: invalid request")

// server implements wirepb.LogServiceServer on a Service.
type server struct {
	wirepb.UnimplementedLogServiceServer
	s *Service
}

// GetTimestamp implements wirepb.LogServiceServer.
func (g *server) GetTimestamp(ctx context.Context, req *wirepb.GetTimestampRequest) (*wirepb.GetTimestampResponse, error) {
	n := max(req.GetCount(), 1)
	if n > maxTimestampCount {
		return nil, status.Errorf(codes.InvalidArgument, "logservice: count %d above %d", n, maxTimestampCount)
	}
	ts, idx, err := g.s.getTimestamp(ctx, n)
	if errors.Is(err, ErrNotLeader) {
		if cl, fctx, ferr := g.s.leaderClient(ctx); ferr == nil {
			var md metadata.MD
			resp, err := cl.GetTimestamp(fctx, req, grpc.Trailer(&md))
			relayTrailer(ctx, md)
			return resp, err
		}
	}
	if err != nil {
		return nil, g.status(ctx, err)
	}
	return &wirepb.GetTimestampResponse{Timestamp: ts, CommitIndex: idx}, nil
}

// Commit implements wirepb.LogServiceServer.
func (g *server) Commit(ctx context.Context, req *wirepb.CommitRequest) (*wirepb.CommitResponse, error) {
	ts, idx, err := g.s.commit(ctx, req.GetStartTs(), req.GetMutations(), req.GetReadRanges())
	if errors.Is(err, ErrNotLeader) {
		// Nothing was proposed here; the leader decides. Its answer,
		// including UNAVAILABLE (outcome unknown), is relayed unchanged.
		if cl, fctx, ferr := g.s.leaderClient(ctx); ferr == nil {
			var md metadata.MD
			resp, err := cl.Commit(fctx, req, grpc.Trailer(&md))
			relayTrailer(ctx, md)
			return resp, err
		}
	}
	if err != nil {
		return nil, g.status(ctx, err)
	}
	return &wirepb.CommitResponse{CommitTs: ts, Index: idx}, nil
}

// ReportConsistent implements wirepb.LogServiceServer.
func (g *server) ReportConsistent(ctx context.Context, req *wirepb.ReportConsistentRequest) (*wirepb.ReportConsistentResponse, error) {
	floor, err := g.s.ReportConsistent(ctx, req.GetNodeId(), req.GetIndex(), req.GetTs())
	if err != nil {
		return nil, g.status(ctx, err)
	}
	return &wirepb.ReportConsistentResponse{TruncateIndex: floor}, nil
}

// Status implements wirepb.LogServiceServer. commit_index and last_commit_ts
// describe the newest applied commit record; leader_address is the leader's
// gRPC address when this node knows it, else its Raft address.
func (g *server) Status(ctx context.Context, _ *wirepb.StatusRequest) (*wirepb.StatusResponse, error) {
	s := g.s
	v, _ := s.fsm.view()
	raftAddr, id := s.raft.LeaderWithID()
	addr := s.apiAddr(id)
	if addr == "" {
		addr = string(raftAddr)
	}
	return &wirepb.StatusResponse{
		NodeId:        s.cfg.NodeID,
		State:         s.raft.State().String(),
		LeaderAddress: addr,
		CommitIndex:   v.lastCommitIndex,
		LastCommitTs:  v.lastCommitTS,
	}, nil
}

// ReadLog implements wirepb.LogServiceServer: it streams every applied
// commit record with index >= from_index, reading the Raft log store, then
// follows the FSM until the caller cancels. Aborted commits, high-water marks
// and Raft's own entries are skipped.
func (g *server) ReadLog(req *wirepb.ReadLogRequest, stream grpc.ServerStreamingServer[wirepb.LogEntry]) error {
	s := g.s
	ctx := stream.Context()
	next := max(req.GetFromIndex(), 1)
	for {
		v, changed := s.fsm.view()
		for ; next <= v.appliedIndex; next++ {
			e, err := s.readEntry(next)
			if err != nil {
				return g.status(ctx, err)
			}
			if e == nil {
				continue
			}
			if err := stream.Send(e); err != nil {
				return err
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.closing:
			return status.Error(codes.Unavailable, ErrClosed.Error())
		}
	}
}

// errTruncated marks a ReadLog position below the first stored entry.
var errTruncated = errors.New("logservice: log truncated")

// readEntry returns the commit record at index, or nil if the entry is not
// a successful commit.
func (s *Service) readEntry(index uint64) (*wirepb.LogEntry, error) {
	// raft-wal may still answer GetLog for indexes a head truncation removed
	// (it trims whole segments lazily), so check the first index explicitly.
	// Entries at or below the truncation floor count as gone even while
	// stored: the aborted-commit list no longer covers them.
	first, err := s.wal.FirstIndex()
	if err != nil {
		return nil, fmt.Errorf("%w: read first index: %w", ErrUnavailable, err)
	}
	first = max(first, s.floorIndex()+1)
	var l raft.Log
	if index < first {
		err = raft.ErrLogNotFound
	} else {
		err = s.wal.GetLog(index, &l)
	}
	if err != nil {
		if errors.Is(err, raft.ErrLogNotFound) {
			return nil, fmt.Errorf("%w: index %d not stored (first index %d)", errTruncated, index, first)
		}
		return nil, fmt.Errorf("%w: read log %d: %w", ErrUnavailable, index, err)
	}
	if l.Type != raft.LogCommand {
		return nil, nil
	}
	rec, err := decodeRecord(l.Data)
	if err != nil || !rec.isCommit() || s.fsm.isAborted(index) {
		// A corrupt record was rejected by the FSM as well.
		return nil, nil
	}
	return &wirepb.LogEntry{Index: index, CommitTs: rec.commitTS, Mutations: rec.mutations}, nil
}

// status maps an error to a gRPC status; a not-leader answer carries the
// leader in trailer metadata and message.
func (g *server) status(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, ErrNotLeader):
		s := g.s
		raftAddr, id := s.raft.LeaderWithID()
		apiAddr := s.apiAddr(id)
		_ = grpc.SetTrailer(ctx, metadata.Pairs(
			MetadataLeaderAddr, apiAddr,
			MetadataLeaderID, string(id),
			MetadataLeaderRaftAddr, string(raftAddr),
		))
		if id == raft.ServerID(s.cfg.NodeID) {
			return status.Errorf(codes.FailedPrecondition, "%v: leadership of %s not established yet", err, id)
		}
		return status.Errorf(codes.FailedPrecondition, "%v: leader id=%q addr=%q raft=%q", err, id, apiAddr, raftAddr)
	case errors.Is(err, ErrConflict), errors.Is(err, ErrReadConflict), errors.Is(err, ErrTooOld), errors.Is(err, ErrBadTimestamp):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, errInvalid), errors.Is(err, ErrBadReport):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, errTruncated):
		return status.Error(codes.OutOfRange, err.Error())
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrClosed):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	default:
		return status.Error(codes.Internal, err.Error())
	}
}
