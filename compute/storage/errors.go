package storage

import "errors"

// Sentinel errors of the KV interface; the SQL layer maps each to a SQLSTATE.
var (
	// ErrConflict is wrapped by Commit errors when a concurrent commit wrote
	// a key of the write set, or a key inside one of the read ranges, after
	// the transaction's snapshot (40001).
	ErrConflict = errors.New("storage: write conflict")
	// ErrUnknownOutcome is wrapped by Commit errors when the commit may or
	// may not have been applied, e.g. the log leader was lost mid-commit
	// (08007). It must not be retried blindly.
	ErrUnknownOutcome = errors.New("storage: commit outcome unknown")
	// ErrUnavailable is wrapped when the storage tier cannot serve right now
	// (no log leader yet, a page server not reachable or still catching up);
	// nothing was written and the request may be retried (57P03).
	ErrUnavailable = errors.New("storage: unavailable")
	// ErrSnapshotTooOld is wrapped by Scan errors when the read timestamp is
	// older than the page server's retention window (a time travel read too
	// far back); the page server's message follows it (72000).
	ErrSnapshotTooOld = errors.New("storage: snapshot too old")
	// ErrTooLarge is wrapped by Commit errors when the commit is larger than
	// the log service accepts in one entry (64 MiB); nothing was written
	// (54000).
	ErrTooLarge = errors.New("storage: commit too large")
)
