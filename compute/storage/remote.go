package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
)

// Log is what Remote needs from the log service: timestamps and commits.
// *logclient.Client implements it.
type Log interface {
	GetTimestamp(ctx context.Context, n uint32) (ts, commitIndex uint64, err error)
	Commit(ctx context.Context, startTS uint64, muts []*wirepb.Mutation, reads []*wirepb.KeyRange) (commitTS, index uint64, err error)
}

var _ TableVersioner = (*Remote)(nil)

// Remote is the KV of a real cluster: timestamps and commits go to the log
// service, reads to a page server, all over gRPC.
type Remote struct {
	log   Log
	pages wirepb.PageServerClient
	alloc memory.Allocator
}

// NewRemote returns a KV over a log service client and a page server client.
func NewRemote(log Log, pages wirepb.PageServerClient, alloc memory.Allocator) *Remote {
	if alloc == nil {
		alloc = memory.DefaultAllocator
	}
	return &Remote{log: log, pages: pages, alloc: alloc}
}

// Begin takes a fresh timestamp; the page server must have applied the log
// up to the index the oracle reported before it answers a read at it.
func (r *Remote) Begin(ctx context.Context) (Snapshot, error) {
	ts, idx, err := r.log.GetTimestamp(ctx, 1)
	if err != nil {
		return Snapshot{}, fmt.Errorf("storage: begin: %w", classify(err))
	}
	return Snapshot{TS: ts, MinIndex: idx}, nil
}

// Scan streams the visible versions in [start, end) from the page server.
func (r *Remote) Scan(ctx context.Context, snap Snapshot, start, end []byte, limit int, fn func(arrow.RecordBatch) error) error {
	if limit < 0 {
		limit = 0
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.pages.Scan(ctx, &wirepb.ScanRequest{
		Start: start, End: end, ReadTs: snap.TS, MinIndex: snap.MinIndex, Limit: uint64(limit),
	})
	if err != nil {
		return fmt.Errorf("storage: scan: %w", classifyScan(err))
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("storage: scan: %w", classifyScan(err))
		}
		if err := r.decode(resp.GetArrowIpc(), fn); err != nil {
			return err
		}
	}
}

func (r *Remote) decode(b []byte, fn func(arrow.RecordBatch) error) error {
	rd, err := ipc.NewReader(bytes.NewReader(b), ipc.WithAllocator(r.alloc))
	if err != nil {
		return fmt.Errorf("storage: decode scan batch: %w", err)
	}
	defer rd.Release()
	for rd.Next() {
		if err := fn(rd.RecordBatch()); err != nil {
			return err
		}
	}
	if err := rd.Err(); err != nil {
		return fmt.Errorf("storage: decode scan batch: %w", err)
	}
	return nil
}

// TableVersion implements TableVersioner with the page server's
// TableVersion RPC.
func (r *Remote) TableVersion(ctx context.Context, snap Snapshot, start, end []byte) (uint64, error) {
	resp, err := r.pages.TableVersion(ctx, &wirepb.TableVersionRequest{
		Start: start, End: end, ReadTs: snap.TS, MinIndex: snap.MinIndex,
	})
	if err != nil {
		return 0, fmt.Errorf("storage: table version: %w", classifyScan(err))
	}
	return resp.GetLastWriteTs(), nil
}

// Commit sends the write set (and, for SERIALIZABLE, the read ranges) to the
// log service and returns once it is durable in the log.
func (r *Remote) Commit(ctx context.Context, snap Snapshot, muts []Mutation, reads []KeyRange) (uint64, error) {
	pm := make([]*wirepb.Mutation, len(muts))
	for i, m := range muts {
		pm[i] = &wirepb.Mutation{Key: m.Key, Value: m.Value, Delete: m.Delete}
	}
	var pr []*wirepb.KeyRange
	for _, rg := range reads {
		pr = append(pr, &wirepb.KeyRange{Start: rg.Start, End: rg.End})
	}
	ts, _, err := r.log.Commit(ctx, snap.TS, pm, pr)
	if err != nil {
		return 0, classifyCommit(err, len(muts))
	}
	return ts, nil
}

// classifyCommit maps a log service Commit error of n mutations to the
// KV interface's sentinels.
func classifyCommit(err error, n int) error {
	switch {
	case errors.Is(err, logclient.ErrConflict):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	case errors.Is(err, logclient.ErrUnknownOutcome):
		return fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
	case status.Code(err) == codes.ResourceExhausted:
		// The request is above the log service's message limit: refused
		// before anything was proposed.
		return fmt.Errorf("%w: %d mutations: %v", ErrTooLarge, n, err)
	}
	return fmt.Errorf("storage: commit: %w", classify(err))
}

// classifyScan is classify for page server answers, where
// FailedPrecondition means the read timestamp is below the retention window.
func classifyScan(err error) error {
	if st, ok := status.FromError(err); ok && st.Code() == codes.FailedPrecondition {
		return fmt.Errorf("%w: %s", ErrSnapshotTooOld, st.Message())
	}
	return classify(err)
}

// classify marks errors that mean "the storage tier cannot serve right now"
// with ErrUnavailable, keeping the original error in the chain.
func classify(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.FailedPrecondition, codes.DeadlineExceeded:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
