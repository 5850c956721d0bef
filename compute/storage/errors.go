package storage

import "errors"

// ErrConflict is wrapped by Commit errors when a concurrent commit wrote a key
// of the write set after the transaction's snapshot (SQLSTATE 40001).
var ErrConflict = errors.New("storage: write conflict")
