package sql

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/RaduBerinde/btreemap"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
)

// errViewWrite is returned by the write side of a txnView: statements hand
// their mutations to the transaction, they never commit through the view.
var errViewWrite = errors.New("sql: the transaction view is read-only")

// writeBuffer holds a transaction's uncommitted writes in key order, the
// last write of each key winning. A B-tree keeps inserting and range reads
// logarithmic, so a block of many small statements stays linear overall.
type writeBuffer struct {
	t *btreemap.BTreeMap[string, storage.Mutation]
}

// add buffers muts in order (a later write of a key replaces an earlier one).
func (w *writeBuffer) add(muts []storage.Mutation) {
	if w.t == nil {
		w.t = btreemap.New[string, storage.Mutation](32, strings.Compare)
	}
	for _, m := range muts {
		w.t.ReplaceOrInsert(string(m.Key), m)
	}
}

func (w *writeBuffer) len() int {
	if w.t == nil {
		return 0
	}
	return w.t.Len()
}

// ascend calls fn with the buffered writes in [start, end) in key order
// (empty end: no bound) until fn returns false.
func (w *writeBuffer) ascend(start, end []byte, fn func(storage.Mutation) bool) {
	if w.t == nil {
		return
	}
	stop := btreemap.Max[string]()
	if len(end) > 0 {
		stop = btreemap.LT(string(end))
	}
	for _, m := range w.t.Ascend(btreemap.GE(string(start)), stop) {
		if !fn(m) {
			return
		}
	}
}

// any reports whether a write is buffered in [start, end).
func (w *writeBuffer) any(start, end []byte) bool {
	found := false
	w.ascend(start, end, func(storage.Mutation) bool { found = true; return false })
	return found
}

// mutations returns the buffered writes in key order.
func (w *writeBuffer) mutations() []storage.Mutation {
	out := make([]storage.Mutation, 0, w.len())
	w.ascend(nil, nil, func(m storage.Mutation) bool { out = append(out, m); return true })
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
	// readsMu guards *reads: the scans of one statement run on goroutines
	// of their own (exec's read-ahead), so several may record at once.
	readsMu sync.Mutex
}

var (
	_ storage.KV             = (*txnView)(nil)
	_ storage.TableVersioner = (*txnView)(nil)
)

func (v *txnView) Begin(context.Context) (storage.Snapshot, error) {
	return storage.Snapshot{}, errViewWrite
}

func (v *txnView) Commit(context.Context, storage.Snapshot, []storage.Mutation, []storage.KeyRange) (uint64, error) {
	return 0, errViewWrite
}

// TableVersion implements storage.TableVersioner: storage.NoVersion (no
// cached copy may stand in for the read) when the transaction has buffered
// writes in [start, end), since its reads must see them, or when the
// underlying KV cannot tell; otherwise the KV's answer.
func (v *txnView) TableVersion(ctx context.Context, snap storage.Snapshot, start, end []byte) (uint64, error) {
	tv, ok := v.kv.(storage.TableVersioner)
	if !ok || v.buf.any(start, end) {
		return storage.NoVersion, nil
	}
	return tv.TableVersion(ctx, snap, start, end)
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
	if v.buf.any(start, end) {
		err = v.mergedScan(ctx, snap, start, end, limit, track)
	} else {
		err = v.kv.Scan(ctx, snap, start, end, limit, track)
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
	v.readsMu.Lock()
	*v.reads = append(*v.reads, r)
	v.readsMu.Unlock()
}

// mergedScan answers a scan whose range holds buffered writes. It works in
// rounds: read up to limit base rows, merge the buffered writes up to the
// last of them (every buffered write in the range when the base ran out),
// and go on after that key until limit merged rows are out — deletes in
// the buffer can hide base rows, so one round may not be enough.
func (v *txnView) mergedScan(ctx context.Context, snap storage.Snapshot, start, end []byte, limit int, fn func(arrow.RecordBatch) error) error {
	kb := array.NewBinaryBuilder(v.mem, arrow.BinaryTypes.Binary)
	defer kb.Release()
	vb := array.NewBinaryBuilder(v.mem, arrow.BinaryTypes.Binary)
	defer vb.Release()
	rows := 0
	full := func() bool { return limit > 0 && rows >= limit }
	from := start
	for !full() {
		var bk, bv [][]byte
		err := v.kv.Scan(ctx, snap, from, end, limit, func(b arrow.RecordBatch) error {
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
		more := limit > 0 && len(bk) >= limit // the base may hold rows past bk's last
		upTo := end
		if more {
			upTo = keys.Next(bk[len(bk)-1])
		}
		i := 0
		v.buf.ascend(from, upTo, func(m storage.Mutation) bool {
			for ; i < len(bk) && bytes.Compare(bk[i], m.Key) < 0 && !full(); i++ {
				kb.Append(bk[i])
				vb.Append(bv[i])
				rows++
			}
			if i < len(bk) && bytes.Equal(bk[i], m.Key) {
				i++ // the buffered write replaces the base row
			}
			if !m.Delete && !full() {
				kb.Append(m.Key)
				vb.Append(m.Value)
				rows++
			}
			return !full()
		})
		for ; i < len(bk) && !full(); i++ {
			kb.Append(bk[i])
			vb.Append(bv[i])
			rows++
		}
		if !more {
			break
		}
		from = upTo
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
