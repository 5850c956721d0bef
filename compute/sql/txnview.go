package sql

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
)

// errViewWrite is returned by the write side of a txnView: statements hand
// their mutations to the transaction, they never commit through the view.
var errViewWrite = errors.New("sql: the transaction view is read-only")

// writeBuffer holds a transaction's uncommitted writes, the last write of
// each key winning. Keys are kept sorted (lazily) for merged scans.
type writeBuffer struct {
	m      map[string]storage.Mutation
	sorted []string
	dirty  bool
}

// add buffers muts in order (a later write of a key replaces an earlier one).
func (w *writeBuffer) add(muts []storage.Mutation) {
	if w.m == nil {
		w.m = make(map[string]storage.Mutation, len(muts))
	}
	for _, m := range muts {
		k := string(m.Key)
		if _, ok := w.m[k]; !ok {
			w.sorted = append(w.sorted, k)
			w.dirty = true
		}
		w.m[k] = m
	}
}

func (w *writeBuffer) len() int { return len(w.m) }

// keysIn returns the sorted buffered keys in [start, end) (empty end: no
// bound). The slice is shared; callers must not modify it.
func (w *writeBuffer) keysIn(start, end []byte) []string {
	if len(w.sorted) == 0 {
		return nil
	}
	if w.dirty {
		slices.Sort(w.sorted)
		w.dirty = false
	}
	i := sort.SearchStrings(w.sorted, string(start))
	j := len(w.sorted)
	if len(end) > 0 {
		j = i + sort.SearchStrings(w.sorted[i:], string(end))
	}
	return w.sorted[i:j]
}

// mutations returns the buffered writes in key order.
func (w *writeBuffer) mutations() []storage.Mutation {
	out := make([]storage.Mutation, 0, len(w.m))
	for _, k := range w.keysIn(nil, nil) {
		out = append(out, w.m[k])
	}
	return out
}

// txnView is the storage.KV a statement of a transaction reads through: its
// Scan merges the transaction's write buffer over the snapshot (so a
// transaction reads its own writes — rows, catalog entries, duplicate-key
// checks alike) and, for SERIALIZABLE transactions, records every range it
// read. Begin and Commit are not available: the session owns those.
type txnView struct {
	kv    storage.KV
	buf   *writeBuffer
	reads *[]storage.KeyRange // nil: do not record
	mem   memory.Allocator
}

var _ storage.KV = (*txnView)(nil)

func (v *txnView) Begin(context.Context) (storage.Snapshot, error) {
	return storage.Snapshot{}, errViewWrite
}

func (v *txnView) Commit(context.Context, storage.Snapshot, []storage.Mutation, []storage.KeyRange) (uint64, error) {
	return 0, errViewWrite
}

// Scan implements storage.KV with the write buffer merged in.
func (v *txnView) Scan(ctx context.Context, snap storage.Snapshot, start, end []byte, limit int, fn func(arrow.RecordBatch) error) error {
	var last []byte // last key handed to fn
	delivered := 0
	track := func(b arrow.RecordBatch) error {
		if n := int(b.NumRows()); n > 0 {
			delivered += n
			last = append(last[:0], b.Column(0).(*array.Binary).Value(n-1)...)
		}
		return fn(b)
	}
	var err error
	if buffered := v.buf.keysIn(start, end); len(buffered) == 0 {
		err = v.kv.Scan(ctx, snap, start, end, limit, track)
	} else {
		err = v.mergedScan(ctx, snap, start, end, limit, buffered, track)
	}
	v.record(start, end, limit, delivered, last, err)
	return err
}

// record notes the range a scan covered: up to its last key when it stopped
// early (limit reached or fn stopped it), the whole range otherwise.
func (v *txnView) record(start, end []byte, limit, delivered int, last []byte, err error) {
	if v.reads == nil {
		return
	}
	r := storage.KeyRange{Start: bytes.Clone(start), End: bytes.Clone(end)}
	if last != nil && (err != nil || (limit > 0 && delivered >= limit)) {
		r.End = keys.Next(last)
	}
	*v.reads = append(*v.reads, r)
}

// mergedScan answers a scan whose range holds buffered writes. The base scan
// asks for limit+len(buffered) rows: each buffered key hides at most one
// base row, so the first limit merged rows are all at or below the base
// scan's last key.
func (v *txnView) mergedScan(ctx context.Context, snap storage.Snapshot, start, end []byte, limit int, buffered []string, fn func(arrow.RecordBatch) error) error {
	baseLimit := 0
	if limit > 0 {
		baseLimit = limit + len(buffered)
	}
	var bk, bv [][]byte
	err := v.kv.Scan(ctx, snap, start, end, baseLimit, func(b arrow.RecordBatch) error {
		ks := b.Column(0).(*array.Binary)
		vs := b.Column(1).(*array.Binary)
		for i := range ks.Len() {
			bk = append(bk, bytes.Clone(ks.Value(i)))
			bv = append(bv, bytes.Clone(vs.Value(i)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if baseLimit > 0 && len(bk) >= baseLimit {
		// The base may hold more rows past its last key: merge only the
		// buffered keys up to it.
		lastKey := string(bk[len(bk)-1])
		buffered = buffered[:sort.SearchStrings(buffered, lastKey+"\x00")]
	}
	kb := array.NewBinaryBuilder(v.mem, arrow.BinaryTypes.Binary)
	defer kb.Release()
	vb := array.NewBinaryBuilder(v.mem, arrow.BinaryTypes.Binary)
	defer vb.Release()
	rows := 0
	emit := func(k, val []byte) bool {
		if limit > 0 && rows >= limit {
			return false
		}
		kb.Append(k)
		vb.Append(val)
		rows++
		return true
	}
	i, j := 0, 0
	for i < len(bk) || j < len(buffered) {
		switch {
		case j == len(buffered) || (i < len(bk) && string(bk[i]) < buffered[j]):
			if !emit(bk[i], bv[i]) {
				i, j = len(bk), len(buffered)
				continue
			}
			i++
		default:
			if i < len(bk) && string(bk[i]) == buffered[j] {
				i++ // the buffered write replaces the base row
			}
			m := v.buf.m[buffered[j]]
			j++
			if !m.Delete && !emit(m.Key, m.Value) {
				i, j = len(bk), len(buffered)
			}
		}
	}
	if rows == 0 {
		return nil
	}
	karr, varr := kb.NewArray(), vb.NewArray()
	defer karr.Release()
	defer varr.Release()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "key", Type: arrow.BinaryTypes.Binary},
		{Name: "value", Type: arrow.BinaryTypes.Binary},
	}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{karr, varr}, int64(rows))
	defer rec.Release()
	return fn(rec)
}

// coalesce sorts ranges and merges overlapping or adjacent ones.
func coalesce(rs []storage.KeyRange) []storage.KeyRange {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b storage.KeyRange) int { return bytes.Compare(a.Start, b.Start) })
	out := []storage.KeyRange{rs[0]}
	for _, r := range rs[1:] {
		cur := &out[len(out)-1]
		if len(cur.End) == 0 {
			break // unbounded: covers everything after
		}
		if bytes.Compare(r.Start, cur.End) <= 0 {
			if len(r.End) == 0 || bytes.Compare(r.End, cur.End) > 0 {
				cur.End = r.End
			}
			continue
		}
		out = append(out, r)
	}
	return out
}
