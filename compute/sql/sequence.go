package sql

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
)

// seqCacheSize is how many values one allocation reserves for an engine.
const seqCacheSize = 32

// seqCache holds the ranges of sequence values this engine reserved.
// Values are allocated through the transactional KV, outside the user's
// transaction (sequences are not transactional, as in PostgreSQL): one
// small commit reads the counter at keys.SequenceValueKey and advances it
// by seqCacheSize increments; two engines allocating at once write the
// same key, the resolver aborts one, and it retries — so every value is
// handed out once across all compute nodes. Values reserved and not used
// (an engine that stops, a rolled-back insert) are gaps, as in PostgreSQL.
type seqCache struct {
	mu     sync.Mutex
	ranges map[seqID]*seqRange
}

// seqID names a sequence of one database or branch (a branch has its own
// counters, starting from the parent's at the fork).
type seqID struct{ db, id uint64 }

type seqRange struct {
	next int64 // the next value to hand out
	left int64 // values left in the range
}

// nextval returns the next value of s.
func (e *Engine) nextval(ctx context.Context, db uint64, s *catalog.Sequence) (int64, error) {
	c := &e.seqs
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ranges == nil {
		c.ranges = map[seqID]*seqRange{}
	}
	r := c.ranges[seqID{db, s.ID}]
	if r == nil || r.left == 0 {
		var err error
		if r, err = e.allocate(ctx, db, s, seqCacheSize); err != nil {
			return 0, err
		}
		c.ranges[seqID{db, s.ID}] = r
	}
	v := r.next
	r.left--
	if r.left > 0 {
		r.next += s.Increment
	}
	return v, nil
}

// allocate reserves up to n values of s in a transaction of its own,
// retrying on conflicts.
func (e *Engine) allocate(ctx context.Context, db uint64, s *catalog.Sequence, n int64) (*seqRange, error) {
	key := keys.SequenceValueKey(db, s.ID)
	for attempt := 0; ; attempt++ {
		snap, err := e.cfg.KV.Begin(ctx)
		if err != nil {
			return nil, fmt.Errorf("sql: sequence %q: %w", s.Name, err)
		}
		cur, ok, exhausted, err := readCounter(ctx, e.cfg.KV, snap, key)
		if err != nil {
			return nil, fmt.Errorf("sql: sequence %q: %w", s.Name, err)
		}
		if !ok {
			cur = s.Start
		}
		// Values available before passing the bound.
		var avail int64
		switch {
		case exhausted:
		case s.Increment > 0:
			if cur <= s.Max {
				avail = (s.Max-cur)/s.Increment + 1
			}
		case cur >= s.Min:
			avail = (cur-s.Min)/(-s.Increment) + 1
		}
		if avail <= 0 {
			if !s.Cycle {
				bound, word := s.Max, "maximum"
				if s.Increment < 0 {
					bound, word = s.Min, "minimum"
				}
				return nil, sqlerr.New(sqlerr.CodeSequenceLimitExceeded, "nextval: reached %s value of sequence %q (%d)", word, s.Name, bound)
			}
			cur = s.Min
			if s.Increment < 0 {
				cur = s.Max
			}
			avail = 1 // cycle: restart at the bound (at least one value)
		}
		take := min(n, avail)
		// The stored counter is the next unallocated value, or a one-byte
		// marker once the range up to the bound is handed out.
		val := []byte{1}
		if take < avail {
			val = binary.BigEndian.AppendUint64(nil, uint64(cur+take*s.Increment))
		}
		muts := []storage.Mutation{{Key: key, Value: val}}
		_, err = e.cfg.KV.Commit(ctx, snap, muts, nil)
		if errors.Is(err, storage.ErrConflict) && attempt < 1000 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sql: sequence %q: commit allocation: %w", s.Name, err)
		}
		return &seqRange{next: cur, left: take}, nil
	}
}

func readCounter(ctx context.Context, kv storage.KV, snap storage.Snapshot, key []byte) (v int64, found, exhausted bool, err error) {
	err = kv.Scan(ctx, snap, key, keys.Next(key), 1, func(b arrow.RecordBatch) error {
		if b.NumRows() > 0 {
			raw := b.Column(1).(*array.Binary).Value(0)
			found = true
			if len(raw) == 8 {
				v = int64(binary.BigEndian.Uint64(raw))
			} else {
				exhausted = true
			}
		}
		return nil
	})
	return v, found, exhausted, err
}

// setval sets the counter of s so that the next value is v (+increment
// when called) and drops this engine's cached range. Other engines keep
// the ranges they reserved before.
func (e *Engine) setval(ctx context.Context, db uint64, s *catalog.Sequence, v int64, called bool) error {
	if v < s.Min || v > s.Max {
		return sqlerr.New(sqlerr.CodeNumericValueOutOfRange, "setval: value %d is out of bounds for sequence %q (%d..%d)", v, s.Name, s.Min, s.Max)
	}
	next := v
	if called {
		next = v + s.Increment
	}
	key := keys.SequenceValueKey(db, s.ID)
	e.seqs.mu.Lock()
	defer e.seqs.mu.Unlock()
	for attempt := 0; ; attempt++ {
		snap, err := e.cfg.KV.Begin(ctx)
		if err != nil {
			return err
		}
		_, err = e.cfg.KV.Commit(ctx, snap, []storage.Mutation{{Key: key, Value: binary.BigEndian.AppendUint64(nil, uint64(next))}}, nil)
		if errors.Is(err, storage.ErrConflict) && attempt < 1000 {
			continue
		}
		if err != nil {
			return fmt.Errorf("sql: setval %q: %w", s.Name, err)
		}
		delete(e.seqs.ranges, seqID{db, s.ID})
		return nil
	}
}

// seqRuntime binds the sequence functions of one statement to its session.
type seqRuntime struct {
	ctx context.Context
	s   *Session
	db  uint64 // the database or branch the statement runs in
}

func (r seqRuntime) Nextval(seq *catalog.Sequence) (int64, error) {
	v, err := r.s.e.nextval(r.ctx, r.db, seq)
	if err == nil {
		if r.s.seqVals == nil {
			r.s.seqVals = map[string]int64{}
		}
		r.s.seqVals[seq.Name] = v
	}
	return v, err
}

func (r seqRuntime) Currval(name string) (int64, error) {
	v, ok := r.s.seqVals[name]
	if !ok {
		return 0, sqlerr.New(sqlerr.CodeObjectNotInPrereqState, "currval of sequence %q is not yet defined in this session", name)
	}
	return v, nil
}

func (r seqRuntime) Setval(seq *catalog.Sequence, v int64, called bool) (int64, error) {
	if err := r.s.e.setval(r.ctx, r.db, seq, v, called); err != nil {
		return 0, err
	}
	if called {
		if r.s.seqVals == nil {
			r.s.seqVals = map[string]int64{}
		}
		r.s.seqVals[seq.Name] = v
	}
	return v, nil
}
