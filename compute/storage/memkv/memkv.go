// Package memkv is an in-memory MVCC implementation of storage.KV for unit
// and logic tests. It keeps every committed version of every key, answers
// scans at a snapshot timestamp with Arrow batches shaped like the page
// server's (binary "key" and "value" columns), and rejects a commit with
// storage.ErrConflict when any key it writes has a version newer than the
// transaction's snapshot (first committer wins).
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

// Store is an in-memory MVCC key-value store. It is safe for concurrent use.
type Store struct {
	cfg    Config
	schema *arrow.Schema

	mu   sync.RWMutex
	ts   uint64                // last commit timestamp
	keys []string              // sorted; every key that ever had a version
	vers map[string][]version // oldest first
}

var _ storage.KV = (*Store)(nil)

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
		vers: make(map[string][]version),
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
		ks, vs := s.collect(snap.TS, from, inclusive, end, n)
		if len(ks) == 0 {
			return nil
		}
		if err := s.emit(ks, vs, fn); err != nil {
			return err
		}
		emitted += len(ks)
		if len(ks) < n || (limit > 0 && emitted >= limit) {
			return nil
		}
		from, inclusive = ks[len(ks)-1], false
	}
}

// collect returns up to n live keys visible at ts in [from, end) (or
// (from, end) when not inclusive) with their values.
func (s *Store) collect(ts uint64, from string, inclusive bool, end []byte, n int) ([]string, [][]byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := sort.SearchStrings(s.keys, from)
	if !inclusive && i < len(s.keys) && s.keys[i] == from {
		i++
	}
	var ks []string
	var vs [][]byte
	for ; i < len(s.keys) && len(ks) < n; i++ {
		k := s.keys[i]
		if len(end) > 0 && k >= string(end) {
			break
		}
		vers := s.vers[k]
		for j := len(vers) - 1; j >= 0; j-- {
			if vers[j].ts <= ts {
				if !vers[j].tombstone {
					ks = append(ks, k)
					vs = append(vs, vers[j].value)
				}
				break
			}
		}
	}
	return ks, vs
}

func (s *Store) emit(ks []string, vs [][]byte, fn func(arrow.RecordBatch) error) error {
	kb := array.NewBinaryBuilder(s.cfg.Allocator, arrow.BinaryTypes.Binary)
	defer kb.Release()
	vb := array.NewBinaryBuilder(s.cfg.Allocator, arrow.BinaryTypes.Binary)
	defer vb.Release()
	kb.Reserve(len(ks))
	vb.Reserve(len(vs))
	for i := range ks {
		kb.AppendString(ks[i])
		vb.Append(vs[i])
	}
	karr, varr := kb.NewArray(), vb.NewArray()
	defer karr.Release()
	defer varr.Release()
	rec := array.NewRecordBatch(s.schema, []arrow.Array{karr, varr}, int64(len(ks)))
	defer rec.Release()
	return fn(rec)
}

// Commit implements storage.KV.
func (s *Store) Commit(ctx context.Context, snap storage.Snapshot, muts []storage.Mutation) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range muts {
		vers := s.vers[string(m.Key)]
		if len(vers) > 0 && vers[len(vers)-1].ts > snap.TS {
			return 0, fmt.Errorf("memkv: key %x written at %d after snapshot %d: %w",
				m.Key, vers[len(vers)-1].ts, snap.TS, storage.ErrConflict)
		}
	}
	s.ts++
	ts := s.ts
	var fresh []string
	for _, m := range muts {
		k := string(m.Key)
		vers, ok := s.vers[k]
		if !ok {
			fresh = append(fresh, k)
		}
		v := version{ts: ts, tombstone: m.Delete}
		if !m.Delete {
			v.value = bytes.Clone(m.Value)
		}
		if n := len(vers); n > 0 && vers[n-1].ts == ts {
			vers[n-1] = v // the same key twice in one commit: last write wins
		} else {
			vers = append(vers, v)
		}
		s.vers[k] = vers
	}
	s.mergeKeys(fresh)
	return ts, nil
}

// mergeKeys merges new keys into the sorted key list in one pass, so a commit
// of m keys costs O(n + m log m) rather than m insertions.
func (s *Store) mergeKeys(fresh []string) {
	if len(fresh) == 0 {
		return
	}
	slices.Sort(fresh)
	fresh = slices.Compact(fresh)
	merged := make([]string, 0, len(s.keys)+len(fresh))
	i, j := 0, 0
	for i < len(s.keys) && j < len(fresh) {
		if s.keys[i] < fresh[j] {
			merged = append(merged, s.keys[i])
			i++
		} else {
			merged = append(merged, fresh[j])
			j++
		}
	}
	merged = append(merged, s.keys[i:]...)
	merged = append(merged, fresh[j:]...)
	s.keys = merged
}
