// Package objstore is Phantom-DB's durable object storage: a flat namespace of
// immutable objects addressed by slash-separated keys. Page servers write
// checkpoints here and restore from here; nothing else is durable outside the
// log service.
//
// Backends: a local directory (the `phantom dev` default) and S3-compatible
// storage through minio-go (AWS S3, MinIO, any S3 endpoint).
//
// Invariants every backend keeps:
//   - Put is atomic: a reader sees either no object or the whole object, never
//     a prefix of it. Put of the same key twice with the same bytes is
//     harmless (uploads are idempotent).
//   - Get of a missing key answers an error wrapping ErrNotFound.
//   - List answers every key with the prefix, sorted ascending.
package objstore

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is wrapped by errors for keys that do not exist.
var ErrNotFound = errors.New("objstore: not found")

// Store is an object store backend.
type Store interface {
	// Put stores the size bytes read from r at key, replacing any object there.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object at key. The caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// List returns the keys that start with prefix, sorted ascending.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes the object at key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}
