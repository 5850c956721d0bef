package sql

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
)

// Large commits. A transaction's writes reach the log service as one
// commit, one Raft entry, and an entry is capped (64 MiB: the log
// service's request limit and raft-wal's entry limit). A bulk load is
// usually larger — pgbench -i -s 10 copies a million rows inside one
// BEGIN ... COMMIT, and ALTER TABLE ADD PRIMARY KEY rewrites as many — but
// it writes its rows under table ids the transaction allocated itself
// (CREATE TABLE, TRUNCATE, ADD PRIMARY KEY move a table to a fresh id).
// No other transaction can see rows under such a *private* id until the
// descriptor naming it commits, so they can be committed ahead, in chunks,
// and only the rest (descriptors, writes to existing tables) goes in the
// transaction's own commit:
//
//  1. Reserve the ids. The transaction wrote next_id = V; the ids it
//     allocated are [N, V), N being next_id at the snapshot its commit
//     validates against. A side commit at a fresh snapshot checks next_id
//     is still N (else another transaction allocated concurrently and ours
//     could not commit anyway: 40001) and writes V, with next_id as a read
//     range so a concurrent allocation aborts one of the two. From then on
//     no other transaction can be handed an id in [N, V), even if this one
//     never commits.
//  2. Commit the private rows and index entries in chunks of a quarter of
//     Config.SpillBytes (the buffered size above which COMMIT spills).
//  3. Commit the rest, without the next_id write (already committed).
//
// Step 3 cannot be validated from the transaction's snapshot as usual: the
// spilled writes may have pushed the resolver's horizon (it remembers
// MaxResolverKeys writes) past it, and the commit would abort as too old.
// So the session checks itself that nothing the commit depends on — its
// remaining write keys, pins and read ranges — changed between that
// snapshot and a fresh one taken after the spill (the same contents at
// both: a change that was undone is equivalent to none), and commits from
// the fresh snapshot, the resolver covering the rest (revalidate).
//
// If step 3 fails (a conflict) or the process dies before it, the chunks
// are unreachable garbage under ids nobody will use, like the rows TRUNCATE
// leaves behind. A transaction that reads a private table after writing
// it still reads its buffer, since spilling happens only at COMMIT.

// mutationSize approximates the bytes a mutation takes in a commit.
func mutationSize(m storage.Mutation) int { return len(m.Key) + len(m.Value) + 8 }

// spillPrivate commits tx's writes to private table ids ahead of its own
// commit when the buffer is large (see above) and returns the mutations
// left for the transaction's commit and the key ranges spilled (which the
// commit must not send as read ranges: our own spilled commits wrote
// them); validate is the snapshot that commit is validated against.
func (s *Session) spillPrivate(ctx context.Context, tx *txn, validate storage.Snapshot) ([]storage.Mutation, []storage.KeyRange, error) {
	all := tx.buf.mutations()
	total := 0
	for _, m := range all {
		total += mutationSize(m)
	}
	threshold := s.e.cfg.SpillBytes
	chunk := max(threshold/4, 1)
	if total <= threshold {
		return all, nil, nil
	}
	nextKey := keys.NextTableIDKey(tx.db)
	var v uint64
	for _, m := range all {
		if string(m.Key) == string(nextKey) && !m.Delete && len(m.Value) == 8 {
			v = binary.BigEndian.Uint64(m.Value)
		}
	}
	if v == 0 {
		return all, nil, nil // no table id allocated: nothing is private
	}
	kv := s.e.cfg.KV
	n, err := readNextID(ctx, kv, validate, nextKey)
	if err != nil {
		return nil, nil, err
	}
	if n >= v {
		return all, nil, nil
	}
	rows := storage.KeyRange{Start: keys.TablePrefix(tx.db, n), End: keys.TablePrefix(tx.db, v)}
	idx := storage.KeyRange{Start: keys.IndexTablePrefix(tx.db, n), End: keys.IndexTablePrefix(tx.db, v)}
	var private, rest []storage.Mutation
	privBytes := 0
	for _, m := range all {
		switch {
		case inRange(m.Key, rows) || inRange(m.Key, idx):
			private = append(private, m)
			privBytes += mutationSize(m)
		case string(m.Key) == string(nextKey):
			// committed by the reservation below
		default:
			rest = append(rest, m)
		}
	}
	if privBytes < chunk {
		return all, nil, nil
	}
	// 1. Reserve [n, v).
	snap, err := kv.Begin(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("sql: spill: %w", err)
	}
	cur, err := readNextID(ctx, kv, snap, nextKey)
	if err != nil {
		return nil, nil, err
	}
	if cur != n {
		return nil, nil, errSerialization()
	}
	if _, err := kv.Commit(ctx, snap, []storage.Mutation{{Key: nextKey, Value: binary.BigEndian.AppendUint64(nil, v)}},
		[]storage.KeyRange{{Start: nextKey, End: keys.Next(nextKey)}}); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil, nil, errSerialization()
		}
		return nil, nil, fmt.Errorf("sql: spill: reserve table ids: %w", err)
	}
	// 2. The private rows, chunk by chunk.
	for len(private) > 0 {
		size, i := 0, 0
		for i < len(private) && size < chunk {
			size += mutationSize(private[i])
			i++
		}
		// A fresh start timestamp per chunk: the resolver forgets old
		// writes once it holds MaxResolverKeys, and a load this size can
		// push its horizon past an older one.
		if snap, err = kv.Begin(ctx); err != nil {
			return nil, nil, fmt.Errorf("sql: spill: %w", err)
		}
		if _, err := kv.Commit(ctx, snap, private[:i], nil); err != nil {
			return nil, nil, fmt.Errorf("sql: spill rows of new tables: %w", err)
		}
		private = private[i:]
	}
	s.e.cfg.Logger.Debug("spilled a large commit", "bytes", total, "private_bytes", privBytes, "ids", fmt.Sprintf("[%d, %d)", n, v))
	return rest, []storage.KeyRange{rows, idx}, nil
}

func inRange(k []byte, r storage.KeyRange) bool {
	return string(k) >= string(r.Start) && string(k) < string(r.End)
}

// readNextID reads the table id counter at snap (1 when absent).
func readNextID(ctx context.Context, kv storage.KV, snap storage.Snapshot, key []byte) (uint64, error) {
	n := uint64(1)
	err := kv.Scan(ctx, snap, key, keys.Next(key), 1, func(b arrow.RecordBatch) error {
		if b.NumRows() > 0 {
			if val := b.Column(1).(*array.Binary).Value(0); len(val) == 8 {
				n = binary.BigEndian.Uint64(val)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sql: read next table id: %w", err)
	}
	return n, nil
}

// errSerialization is the 40001 a commit conflict answers.
func errSerialization() error {
	return &sqlerr.Error{Code: sqlerr.CodeSerializationFailure,
		Message: "could not serialize access due to concurrent update",
		Hint:    "retry the transaction"}
}

// revalidate moves the validation of a commit from snapshot from to a
// fresh snapshot after a spill: it answers the fresh snapshot when every
// range in deps holds the same rows at both (40001 otherwise).
func (s *Session) revalidate(ctx context.Context, from storage.Snapshot, deps []storage.KeyRange) (storage.Snapshot, error) {
	kv := s.e.cfg.KV
	to, err := kv.Begin(ctx)
	if err != nil {
		return storage.Snapshot{}, fmt.Errorf("sql: commit: %w", err)
	}
	for _, r := range coalesce(deps) {
		a, err := rangeDigest(ctx, kv, from, r)
		if err != nil {
			return storage.Snapshot{}, err
		}
		b, err := rangeDigest(ctx, kv, to, r)
		if err != nil {
			return storage.Snapshot{}, err
		}
		if a != b {
			return storage.Snapshot{}, errSerialization()
		}
	}
	return to, nil
}

// rangeDigest hashes the rows of r at snap (keys and values, in order).
func rangeDigest(ctx context.Context, kv storage.KV, snap storage.Snapshot, r storage.KeyRange) (uint64, error) {
	h := fnv.New64a()
	var n [8]byte
	err := kv.Scan(ctx, snap, r.Start, r.End, 0, func(b arrow.RecordBatch) error {
		ks, vs := b.Column(0).(*array.Binary), b.Column(1).(*array.Binary)
		for i := range ks.Len() {
			for _, x := range [][]byte{ks.Value(i), vs.Value(i)} {
				binary.BigEndian.PutUint64(n[:], uint64(len(x)))
				h.Write(n[:])
				h.Write(x)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sql: commit: revalidate: %w", err)
	}
	return h.Sum64(), nil
}
