package exec

import (
	"bytes"
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/rowcodec"
)

// scanOp reads a table's key range at the statement snapshot. One
// KV.Scan streams the whole range (one page-server RPC, one storage
// snapshot iteration) on a goroutine of its own, which decodes the rows
// straight into typed column builders — only the columns the query reads
// (Env.needs) — and hands batches of BatchRows rows to Next through a
// small channel: decoding overlaps the operators above (the second core),
// and a LIMIT above stops it early (Close cancels the read-ahead).
type scanOp struct {
	env     *Env
	schema  *arrow.Schema
	kinds   []rowcodec.Kind
	skip    []bool
	start   []byte
	end     []byte
	started bool
	dec     *rowcodec.Decoder // ExactReads only
	out     chan scanBatch
	cancel  context.CancelFunc
	key     scanKey
	lease   *scanLease // set when served from Env.Cache
}

// scanBatch is one decoded batch, or the scan's error.
type scanBatch struct {
	rec arrow.RecordBatch
	err error
}

// scanReadAhead is how many decoded batches a scan may hold ahead of its
// consumer.
const scanReadAhead = 4

func newScan(env *Env, s *plan.Scan) *scanOp {
	prefix := keys.TablePrefix(env.DB, s.Table.ID)
	return &scanOp{
		env:    env,
		schema: schemaOf(s.Columns()),
		kinds:  s.Table.Kinds(),
		skip:   env.skipColumns(s),
		start:  prefix,
		end:    keys.PrefixEnd(prefix),
		key:    keyOf(env.DB, s.Table.ID, s.Table.Version, s.Table.Kinds()),
	}
}

func (s *scanOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if s.env.ExactReads {
		return s.nextExact(ctx)
	}
	if !s.started {
		s.started = true
		var need []bool
		if s.skip != nil {
			need = make([]bool, len(s.skip))
			for i, sk := range s.skip {
				need[i] = !sk
			}
		}
		var (
			lease *scanLease
			fill  *scanFill
		)
		// Only whole-table scans are cached (a primary-key range scan
		// narrows start and end).
		if whole := keys.TablePrefix(s.env.DB, s.key.table); bytes.Equal(s.start, whole) && bytes.Equal(s.end, keys.PrefixEnd(whole)) {
			lease, fill = s.env.Cache.begin(ctx, s.env, s.key, s.start, s.end, need)
		}
		if lease != nil {
			s.lease = lease
		} else {
			rctx, cancel := context.WithCancel(ctx)
			s.cancel = cancel
			s.out = make(chan scanBatch, scanReadAhead)
			go s.read(rctx, fill)
		}
	}
	if s.lease != nil {
		return s.lease.batch(memOr(s.env.Mem), s.schema), nil
	}
	if s.out == nil {
		return nil, nil
	}
	b, ok := <-s.out
	if !ok {
		s.out = nil
		return nil, nil
	}
	if b.err != nil {
		return nil, b.err
	}
	return b.rec, nil
}

// read runs the scan, sending batches until the range ends, an error, or
// ctx is cancelled; it closes s.out last. With a fill, it decodes into
// the cache's allocator (the arrays may outlive the statement) and
// publishes what it decoded once the whole range is read.
func (s *scanOp) read(ctx context.Context, fill *scanFill) {
	defer close(s.out)
	mem := memOr(s.env.Mem)
	if fill != nil {
		mem = fill.c.mem
		defer fill.release() // a no-op after finish
	}
	dec := rowcodec.NewDecoder(mem, s.kinds)
	defer dec.Release()
	dec.Skip(s.skip)
	limit := s.env.batchRows()
	dec.Reserve(limit)
	send := func(b scanBatch) error {
		select {
		case s.out <- b:
			return nil
		case <-ctx.Done():
			if b.rec != nil {
				b.rec.Release()
			}
			return ctx.Err()
		}
	}
	flush := func() error {
		n := dec.Rows()
		if n == 0 {
			return nil
		}
		cols := dec.NewArrays()
		if fill != nil {
			fill.add(cols, s.skip, n)
		}
		rec := newBatch(s.schema, cols, n)
		dec.Reserve(limit)
		return send(scanBatch{rec: rec})
	}
	err := s.env.KV.Scan(ctx, s.env.Snap, s.start, s.end, 0, func(b arrow.RecordBatch) error {
		ks := b.Column(0).(*array.Binary)
		vs := b.Column(1).(*array.Binary)
		for i := range vs.Len() {
			if err := dec.Append(vs.Value(i)); err != nil {
				return fmt.Errorf("exec: decode row %x: %w", ks.Value(i), err)
			}
			if dec.Rows() >= limit {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil && fill != nil {
		fill.finish(len(s.kinds), s.skip)
	}
	if err != nil && ctx.Err() == nil {
		_ = send(scanBatch{err: fmt.Errorf("exec: scan: %w", err)})
	}
}

// nextExact reads the next batch with a KV.Scan of at most BatchRows rows
// on the caller's goroutine, resuming after the last key seen.
func (s *scanOp) nextExact(ctx context.Context) (arrow.RecordBatch, error) {
	if s.started && s.dec == nil {
		return nil, nil // done
	}
	if !s.started {
		s.started = true
		s.dec = rowcodec.NewDecoder(memOr(s.env.Mem), s.kinds)
		s.dec.Skip(s.skip)
	}
	limit := s.env.batchRows()
	var last []byte
	rows := 0
	s.dec.Reserve(limit)
	err := s.env.KV.Scan(ctx, s.env.Snap, s.start, s.end, limit, func(b arrow.RecordBatch) error {
		ks := b.Column(0).(*array.Binary)
		vs := b.Column(1).(*array.Binary)
		for i := range vs.Len() {
			if err := s.dec.Append(vs.Value(i)); err != nil {
				return fmt.Errorf("exec: decode row %x: %w", ks.Value(i), err)
			}
		}
		if n := ks.Len(); n > 0 {
			last = append(last[:0], ks.Value(n-1)...)
			rows += n
		}
		return nil
	})
	cols := s.dec.NewArrays()
	if err != nil {
		releaseAll(cols)
		return nil, fmt.Errorf("exec: scan: %w", err)
	}
	if rows < limit {
		s.dec.Release()
		s.dec = nil
	} else {
		s.start = keys.Next(last)
	}
	if rows == 0 {
		releaseAll(cols)
		return nil, nil
	}
	return newBatch(s.schema, cols, rows), nil
}

func (s *scanOp) Close() {
	if s.lease != nil {
		s.lease.release()
		s.lease = nil
	}
	if s.dec != nil {
		s.dec.Release()
		s.dec = nil
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.out != nil {
		for b := range s.out { // wait for the reader to stop
			if b.rec != nil {
				b.rec.Release()
			}
		}
		s.out = nil
	}
}

// valuesOp emits literal rows as one batch.
type valuesOp struct {
	batch arrow.RecordBatch
}

func newValues(env *Env, v *plan.Values) (Operator, error) {
	mem := memOr(env.Mem)
	schema := schemaOf(v.Cols)
	if len(v.Cols) == 0 {
		return &valuesOp{batch: newBatch(schema, nil, len(v.Rows))}, nil
	}
	builders := make([]array.Builder, len(v.Cols))
	for i, c := range v.Cols {
		builders[i] = array.NewBuilder(mem, c.T.Arrow())
		builders[i].Reserve(len(v.Rows))
		defer builders[i].Release()
	}
	// Non-constant cells are evaluated over a one-row batch with no columns.
	one := newBatch(arrow.NewSchema(nil, nil), nil, 1)
	defer one.Release()
	for _, row := range v.Rows {
		for j, e := range row {
			if c, ok := e.(*plan.Const); ok {
				appendValue(builders[j], c.Value)
				continue
			}
			ev, err := Compile(mem, e)
			if err != nil {
				return nil, err
			}
			a, err := ev.Eval(one)
			ev.Release()
			if err != nil {
				return nil, err
			}
			appendValue(builders[j], valueAt(a, 0))
			a.Release()
		}
	}
	cols := make([]arrow.Array, len(builders))
	for i, b := range builders {
		cols[i] = b.NewArray()
	}
	return &valuesOp{batch: newBatch(schema, cols, len(v.Rows))}, nil
}

func (v *valuesOp) Next(context.Context) (arrow.RecordBatch, error) {
	b := v.batch
	v.batch = nil
	if b != nil && b.NumRows() == 0 {
		b.Release()
		return nil, nil
	}
	return b, nil
}

func (v *valuesOp) Close() {
	if v.batch != nil {
		v.batch.Release()
		v.batch = nil
	}
}
