package pageserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// ScanSchema is the schema of every record batch a Scan streams: the user
// key and the value of the visible version, both binary and non-null.
var ScanSchema = arrow.NewSchema([]arrow.Field{
	{Name: "key", Type: arrow.BinaryTypes.Binary},
	{Name: "value", Type: arrow.BinaryTypes.Binary},
}, nil)

// ctxCheckEvery is how many user keys a scan visits between checks of its
// context.
const ctxCheckEvery = 256

// Scan implements wirepb.PageServerServer: it waits (at most
// ReadWaitTimeout) until the log is applied up to req.MinIndex, then streams
// the newest version <= req.ReadTs of every live key in [req.Start, req.End)
// as Arrow IPC record batches of at most ScanBatchRows rows.
func (s *Server) Scan(req *wirepb.ScanRequest, stream grpc.ServerStreamingServer[wirepb.ScanResponse]) error {
	ctx := stream.Context()
	start := time.Now()
	defer func() { s.metrics.scanDuration.Observe(time.Since(start).Seconds()) }()
	if err := s.checkRetention(req.GetReadTs()); err != nil {
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	if err := s.waitForRead(ctx, req.GetMinIndex()); err != nil {
		return err
	}
	err := s.scanBatches(ctx, req.GetStart(), req.GetEnd(), req.GetReadTs(), req.GetLimit(),
		func(rec arrow.RecordBatch) error {
			b, err := EncodeRecordBatch(rec)
			if err != nil {
				return err
			}
			return stream.Send(&wirepb.ScanResponse{ArrowIpc: b})
		})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrClosed):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, ErrBeforeRetention):
		return status.Error(codes.FailedPrecondition, err.Error())
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	}
	if _, ok := status.FromError(err); ok {
		return err // already a gRPC status (from stream.Send)
	}
	return status.Errorf(codes.Internal, "pageserver: scan: %v", err)
}

// Status implements wirepb.PageServerServer.
func (s *Server) Status(ctx context.Context, _ *wirepb.PageStatusRequest) (*wirepb.PageStatusResponse, error) {
	idx, ts := s.appliedPosition()
	return &wirepb.PageStatusResponse{
		AppliedIndex:    idx,
		AppliedTs:       ts,
		CheckpointIndex: s.ckptIndex.Load(),
		CheckpointTs:    s.ckptTS.Load(),
	}, nil
}

// waitForRead waits up to ReadWaitTimeout for minIndex to be applied and
// translates failures into gRPC statuses.
func (s *Server) waitForRead(ctx context.Context, minIndex uint64) error {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.ReadWaitTimeout)
	defer cancel()
	err := s.WaitApplied(wctx, minIndex)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrClosed):
		return status.Error(codes.Unavailable, err.Error())
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	}
	return status.Errorf(codes.DeadlineExceeded,
		"%v: read needs min_index %d but the page server has applied index %d after waiting %s",
		ErrNotApplied, minIndex, s.AppliedIndex(), s.cfg.ReadWaitTimeout)
}

// scanBatches groups the rows of scanRows into record batches of at most
// ScanBatchRows rows and calls fn with each; the batch is released after fn
// returns.
func (s *Server) scanBatches(ctx context.Context, start, end []byte, readTS, limit uint64, fn func(arrow.RecordBatch) error) error {
	bld := array.NewRecordBuilder(memory.DefaultAllocator, ScanSchema)
	defer bld.Release()
	keys := bld.Field(0).(*array.BinaryBuilder)
	vals := bld.Field(1).(*array.BinaryBuilder)
	// Sized once per batch from the previous batch's bytes, so appends do
	// not regrow the buffers row after row.
	reserve := func(keyBytes, valBytes int) {
		keys.Reserve(s.cfg.ScanBatchRows)
		vals.Reserve(s.cfg.ScanBatchRows)
		keys.ReserveData(keyBytes)
		vals.ReserveData(valBytes)
	}
	reserve(0, 0)
	keyBytes, valBytes := 0, 0
	rows := 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		rec := bld.NewRecordBatch()
		defer rec.Release()
		rows = 0
		reserve(keyBytes+keyBytes/8, valBytes+valBytes/8)
		keyBytes, valBytes = 0, 0
		return fn(rec)
	}
	err := s.scanRows(ctx, start, end, readTS, limit, func(k, v []byte) error {
		keys.Append(k)
		vals.Append(v)
		keyBytes += len(k)
		valBytes += len(v)
		rows++
		if rows >= s.cfg.ScanBatchRows {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// scanRows calls emit, in key order, with the user key and value of the
// newest version <= readTS of every key in [start, end) that is not a
// tombstone, stopping after limit rows (0: no limit). An empty end means no
// upper bound. Keys of a branch resolve in its parents (see timelines.go).
// It reads one Pebble snapshot; emit's arguments are only valid during the
// call.
func (s *Server) scanRows(ctx context.Context, start, end []byte, readTS, limit uint64, emit func(k, v []byte) error) error {
	if len(end) > 0 && bytes.Compare(start, end) >= 0 {
		return nil
	}
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	// Checked again right before the iterator opens: version GC keeps a
	// minute of grace behind this horizon.
	if err := s.checkRetention(readTS); err != nil {
		return err
	}
	// One Pebble snapshot serves every iterator of the scan (a branch reads
	// its own keys and its parents'), so it sees whole LogEntries only.
	snap := s.db.NewSnapshot()
	defer snap.Close()
	var emitted uint64
	tl := s.timelineMap()
	for _, seg := range scanSegments(tl, start, end) {
		it, err := resolvedIter(ctx, snap, tl, seg.id, seg.branch, seg.start, seg.end, readTS, 0)
		if err != nil {
			return err
		}
		for {
			ok, err := it.next()
			if err == nil && ok {
				err = emit(it.key(), it.value())
			}
			if err != nil || !ok {
				cerr := it.close()
				if err != nil {
					return err
				}
				if cerr != nil {
					return fmt.Errorf("pageserver: close iterator: %w", cerr)
				}
				break
			}
			if emitted++; limit > 0 && emitted >= limit {
				return it.close()
			}
		}
	}
	return nil
}

// EncodeRecordBatch serializes rec as one Arrow IPC stream (schema, the
// batch, end-of-stream): the payload of one ScanResponse.
func EncodeRecordBatch(rec arrow.RecordBatch) ([]byte, error) {
	var buf bytes.Buffer
	// Sized up front: growing a multi-megabyte buffer by doubling copied
	// each batch several times (a tenth of a join query's CPU).
	buf.Grow(ipcSizeHint(rec))
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("pageserver: encode record batch: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("pageserver: encode record batch: %w", err)
	}
	return buf.Bytes(), nil
}

// ipcSizeHint is about the IPC size of rec: its buffers (each padded to 8
// bytes) plus room for the schema and batch metadata.
func ipcSizeHint(rec arrow.RecordBatch) int {
	n := 1024
	for _, col := range rec.Columns() {
		for _, b := range col.Data().Buffers() {
			if b != nil {
				n += b.Len() + 8
			}
		}
	}
	return n
}

// scanSchemaMessage is the IPC schema message every ScanResponse starts
// with: what EncodeRecordBatch writes for ScanSchema before the batch.
var scanSchemaMessage = func() []byte {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(ScanSchema))
	if err := w.Close(); err != nil {
		panic(fmt.Sprintf("pageserver: encode scan schema: %v", err))
	}
	// Drop the end-of-stream marker (continuation token + zero length).
	return buf.Bytes()[:buf.Len()-8]
}()

// DecodeScanResponse decodes the Arrow IPC payload of one ScanResponse into
// its record batch. The caller releases the batch.
//
// The payload must start with exactly the schema message EncodeRecordBatch
// writes for ScanSchema: arrow-go trusts vector lengths inside a schema
// message and can be made to allocate without bound by a corrupt one, so a
// schema from the network is never parsed. Page server and client therefore
// must encode the schema identically (same arrow-go major version).
func DecodeScanResponse(b []byte) (rec arrow.RecordBatch, err error) {
	if !bytes.HasPrefix(b, scanSchemaMessage) {
		return nil, errors.New("pageserver: decode scan response: payload does not start with the scan schema message")
	}
	defer func() {
		// The IPC reader may panic on malformed input; never let bytes from
		// the network crash the caller.
		if r := recover(); r != nil {
			rec, err = nil, fmt.Errorf("pageserver: decode scan response: malformed arrow ipc: %v", r)
		}
	}()
	// The whole stream is in b, so no message part can be longer than b:
	// the limits stop a corrupt length from allocating gigabytes. (They go
	// to the message reader: ipc.NewReader ignores them.)
	limit := int64(len(b))
	mr := ipc.NewMessageReader(bytes.NewReader(b), ipc.WithMetadataSizeLimit(limit), ipc.WithBodySizeLimit(limit))
	r, err := ipc.NewReaderFromMessageReader(mr, ipc.WithSchema(ScanSchema))
	if err != nil {
		return nil, fmt.Errorf("pageserver: decode scan response: %w", err)
	}
	defer r.Release()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("pageserver: decode scan response: %w", err)
		}
		return nil, errors.New("pageserver: decode scan response: no record batch")
	}
	rec = r.RecordBatch()
	rec.Retain()
	return rec, nil
}
