// Package memkv is an in-memory MVCC implementation of storage.KV for unit
// and logic tests. It keeps every committed version of every key, answers
// scans at a snapshot timestamp with Arrow batches shaped like the page
// server's (binary "key" and "value" columns), and rejects a commit with
// storage.ErrConflict when any key it writes has a version newer than the
// transaction's snapshot (first committer wins), or when any key inside one
// of the commit's read ranges does (serializable validation).
//
// Timestamps are a logical counter: Begin returns the last commit timestamp,
// Commit assigns the next one.
package memkv

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/storage"
)

// Config configures a Store.
type Config struct {
	// Allocator allocates the Arrow batches handed to Scan callbacks.
	// Default memory.DefaultAllocator.
	Allocator memory.Allocator
	// BatchRows is the maximum number of rows per scan batch. Default 1024.
	BatchRows int
}

// EnsureDefaults fills in zero fields.
func (c *Config) EnsureDefaults() {
	if c.Allocator == nil {
		c.Allocator = memory.DefaultAllocator
	}
	if c.BatchRows == 0 {
		c.BatchRows = 1024
	}
}

// Validate reports invalid settings.
func (c *Config) Validate() error {
	if c.BatchRows < 0 {
		return fmt.Errorf("memkv: BatchRows %d must be positive", c.BatchRows)
	}
	return nil
}

// version is one committed value of a key; tombstones mark deletes.
type version struct {
	ts        uint64
	value     []byte
	tombstone bool
}

// entry is every committed version of one key, oldest first.
type entry struct {
	key  string
	vers []version
}

// Store is an in-memory MVCC key-value store. It is safe for concurrent use.
type Store struct {
	cfg    Config
	schema *arrow.Schema

	mu      sync.RWMutex
	ts      uint64            // last commit timestamp
	entries []*entry          // sorted by key; every key that ever had a version
	index   map[string]*entry // the same entries by key
}

var (
	_ storage.KV             = (*Store)(nil)
	_ storage.TableVersioner = (*Store)(nil)
)

// New returns an empty Store.
func New(cfg Config) (*Store, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Store{
		cfg: cfg,
		schema: arrow.NewSchema([]arrow.Field{
			{Name: "key", Type: arrow.BinaryTypes.Binary},
			{Name: "value", Type: arrow.BinaryTypes.Binary},
		}, nil),
		index: make(map[string]*entry),
	}, nil
}

// Begin returns a snapshot at the last commit timestamp.
func (s *Store) Begin(ctx context.Context) (storage.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return storage.Snapshot{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return storage.Snapshot{TS: s.ts}, nil
}

// Scan implements storage.KV. The store lock is not held while fn runs.
func (s *Store) Scan(ctx context.Context, snap storage.Snapshot, start, end []byte, limit int, fn func(arrow.RecordBatch) error) error {
	from := string(start)
	inclusive := true
	emitted := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := s.cfg.BatchRows
		if limit > 0 && limit-emitted < n {
			n = limit - emitted
		}
		rec, last := s.collect(snap.TS, from, inclusive, end, n)
		if rec == nil {
			return nil
		}
		got := int(rec.NumRows())
		err := fn(rec)
		rec.Release()
		if err != nil {
			return err
		}
		emitted += got
		if got < n || (limit > 0 && emitted >= limit) {
			return nil
		}
		from, inclusive = last, false
	}
}

// TableVersion implements storage.TableVersioner exactly: the newest
// commit ts of any version (tombstones included) of a key in [start, end).
// It exceeds snap.TS when the range was written after the snapshot.
func (s *Store) TableVersion(ctx context.Context, snap storage.Snapshot, start, end []byte) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var v uint64
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].key >= string(start) })
	for ; i < len(s.entries); i++ {
		e := s.entries[i]
		if len(end) > 0 && e.key >= string(end) {
			break
		}
		v = max(v, e.vers[len(e.vers)-1].ts)
	}
	return v, nil
}

// collect builds a batch of up to n live keys visible at ts in [from, end)
// (or (from, end) when not inclusive) and returns it with its last key; nil
// when there is none.
func (s *Store) collect(ts uint64, from string, inclusive bool, end []byte, n int) (arrow.RecordBatch, string) {
	kb := array.NewBinaryBuilder(s.cfg.Allocator, arrow.BinaryTypes.Binary)
	defer kb.Release()
	vb := array.NewBinaryBuilder(s.cfg.Allocator, arrow.BinaryTypes.Binary)
	defer vb.Release()
	s.mu.RLock()
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].key >= from })
	if !inclusive && i < len(s.entries) && s.entries[i].key == from {
		i++
	}
	// First pass: pick the visible versions, so the builders allocate once.
	picked := make([]int, 0, min(n, 4096))
	vals := make([][]byte, 0, min(n, 4096))
	keyBytes, valBytes := 0, 0
	for ; i < len(s.entries) && len(picked) < n; i++ {
		e := s.entries[i]
		if len(end) > 0 && e.key >= string(end) {
			break
		}
		for j := len(e.vers) - 1; j >= 0; j-- {
			if v := &e.vers[j]; v.ts <= ts {
				if !v.tombstone {
					picked = append(picked, i)
					vals = append(vals, v.value)
					keyBytes += len(e.key)
					valBytes += len(v.value)
				}
				break
			}
		}
	}
	rows, last := len(picked), ""
	kb.Reserve(rows)
	kb.ReserveData(keyBytes)
	vb.Reserve(rows)
	vb.ReserveData(valBytes)
	for r, ei := range picked {
		kb.AppendString(s.entries[ei].key)
		vb.Append(vals[r])
	}
	if rows > 0 {
		last = s.entries[picked[rows-1]].key
	}
	s.mu.RUnlock()
	if rows == 0 {
		return nil, ""
	}
	karr, varr := kb.NewArray(), vb.NewArray()
	defer karr.Release()
	defer varr.Release()
	return array.NewRecordBatch(s.schema, []arrow.Array{karr, varr}, int64(rows)), last
}

// Commit implements storage.KV.
func (s *Store) Commit(ctx context.Context, snap storage.Snapshot, muts []storage.Mutation, reads []storage.KeyRange) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range muts {
		if e := s.index[string(m.Key)]; e != nil && e.vers[len(e.vers)-1].ts > snap.TS {
			return 0, fmt.Errorf("memkv: key %x written at %d after snapshot %d: %w",
				m.Key, e.vers[len(e.vers)-1].ts, snap.TS, storage.ErrConflict)
		}
	}
	for _, r := range reads {
		if err := s.checkRange(snap.TS, r); err != nil {
			return 0, err
		}
	}
	s.ts++
	ts := s.ts
	var fresh []*entry
	for _, m := range muts {
		e := s.index[string(m.Key)]
		if e == nil {
			e = &entry{key: string(m.Key)}
			s.index[e.key] = e
			fresh = append(fresh, e)
		}
		v := version{ts: ts, tombstone: m.Delete}
		if !m.Delete {
			v.value = bytes.Clone(m.Value)
		}
		if n := len(e.vers); n > 0 && e.vers[n-1].ts == ts {
			e.vers[n-1] = v // the same key twice in one commit: last write wins
		} else {
			e.vers = append(e.vers, v)
		}
	}
	s.merge(fresh)
	return ts, nil
}

// checkRange answers ErrConflict when a key in r has a version newer than
// ts. The caller holds the lock.
func (s *Store) checkRange(ts uint64, r storage.KeyRange) error {
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].key >= string(r.Start) })
	for ; i < len(s.entries); i++ {
		e := s.entries[i]
		if len(r.End) > 0 && e.key >= string(r.End) {
			break
		}
		if last := e.vers[len(e.vers)-1].ts; last > ts {
			return fmt.Errorf("memkv: key %x read in [%x, %x) written at %d after snapshot %d: %w",
				e.key, r.Start, r.End, last, ts, storage.ErrConflict)
		}
	}
	return nil
}

// merge merges new entries into the sorted entry list in one pass, so a
// commit of m new keys costs O(n + m log m) rather than m insertions.
func (s *Store) merge(fresh []*entry) {
	if len(fresh) == 0 {
		return
	}
	slices.SortFunc(fresh, func(a, b *entry) int { return strings.Compare(a.key, b.key) })
	merged := make([]*entry, 0, len(s.entries)+len(fresh))
	i, j := 0, 0
	for i < len(s.entries) && j < len(fresh) {
		if s.entries[i].key < fresh[j].key {
			merged = append(merged, s.entries[i])
			i++
		} else {
			merged = append(merged, fresh[j])
			j++
		}
	}
	merged = append(merged, s.entries[i:]...)
	merged = append(merged, fresh[j:]...)
	s.entries = merged
}
