// Package storage is the compute node's view of the storage tier: timestamps
// and commits go to the log service, reads go to the page server. The SQL
// engine depends only on the KV interface declared here.
package storage

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
)

// Mutation is one write of a transaction: a put of Value at Key, or a
// delete of Key when Delete is set.
type Mutation struct {
	Key    []byte
	Value  []byte
	Delete bool
}

// Snapshot names a consistent point to read at: every commit with
// commit_ts <= TS is visible, and the page server must have applied the log
// up to MinIndex before answering.
type Snapshot struct {
	TS       uint64
	MinIndex uint64
}

// KeyRange is a half-open key range [Start, End); an empty End means no
// upper bound. Serializable transactions send the ranges they read with
// their commit.
type KeyRange struct {
	Start []byte
	End   []byte
}

// KV is the transactional key-value interface the SQL engine runs on.
type KV interface {
	// Begin takes a fresh snapshot from the timestamp oracle.
	Begin(ctx context.Context) (Snapshot, error)
	// Scan calls fn with Arrow record batches holding the newest version
	// visible at snap of every live key in [start, end), in key order. Each
	// batch has two binary columns, "key" and "value". The batch is only
	// valid during the call. limit 0 means no limit. An empty end means no
	// upper bound.
	Scan(ctx context.Context, snap Snapshot, start, end []byte, limit int, fn func(arrow.RecordBatch) error) error
	// Commit atomically applies muts on top of snap. It answers an error
	// wrapping ErrConflict when another commit after snap.TS wrote one of the
	// keys of muts (write-write conflict, snapshot isolation) or any key
	// inside one of reads (read-write conflict; serializable transactions
	// send the ranges they read, others send none); nothing is then written.
	Commit(ctx context.Context, snap Snapshot, muts []Mutation, reads []KeyRange) (commitTS uint64, err error)
}

// NoVersion is the TableVersion answer that never validates a cached copy:
// it is above every snapshot timestamp.
const NoVersion = ^uint64(0)

// TableVersioner is implemented by a KV that can tell whether a table
// changed, so a cached copy of its rows can be trusted. The SQL engine
// checks for it with a type assertion; a KV without it is never cached.
type TableVersioner interface {
	// TableVersion answers v for the rows in [start, end), a range inside
	// one table's row keys (keys.TablePrefix): when v <= snap.TS, no commit
	// in (v, snap.TS] changed what a Scan of the range at snap sees (v is
	// an upper bound of the newest write at or below snap.TS). v > snap.TS
	// (NoVersion included) means a later write exists or cannot be ruled
	// out: trust no copy. Like Scan it first waits for snap.MinIndex.
	TableVersion(ctx context.Context, snap Snapshot, start, end []byte) (uint64, error)
}
