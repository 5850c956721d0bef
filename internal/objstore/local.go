package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Local is a Store over a local directory: the object at key "a/b/c" is the
// file <dir>/a/b/c. It is the `phantom dev` default.
//
// Put is atomic and durable: the bytes go to a temporary file beside the
// target (same directory, so the rename cannot cross file systems), the file
// is fsynced, renamed over the target and the parent directory is fsynced, so
// after Put returns the object survives a crash and a concurrent reader sees
// either the old object or the new one, never a prefix. Directories Put
// creates are fsynced into their parents too.
//
// Unlike S3, a directory tree cannot hold both the object "a" and the object
// "a/b"; Put of one while the other exists fails. Delete leaves emptied
// directories in place (removing them would race with a concurrent Put into
// the same directory); List and Get ignore directories.
type Local struct {
	dir string
}

var _ Store = (*Local)(nil)

// notDirErr is what the OS answers when a path walks through a file as if it
// were a directory (key "a/b" when the object "a" exists).
var notDirErr error = syscall.ENOTDIR

// NewLocal opens (creating if needed) a local-directory store rooted at dir.
// A relative dir is made absolute against the working directory.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("objstore: local: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("objstore: local: resolve %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("objstore: local: create %q: %w", abs, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("objstore: local: stat %q: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("objstore: local: %q is not a directory", abs)
	}
	return &Local{dir: abs}, nil
}

// Dir answers the absolute root directory of the store.
func (l *Local) Dir() string { return l.dir }

// path answers the file path of a validated key.
func (l *Local) path(key string) string {
	return filepath.Join(l.dir, filepath.FromSlash(key))
}

// Put stores exactly size bytes read from r at key. It fails if r ends
// before size bytes; bytes past size are not read. A negative size is an
// error.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("objstore: local: put %q: negative size %d", key, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("objstore: local: put %q: %w", key, err)
	}
	target := l.path(key)
	parent := filepath.Dir(target)
	if err := l.mkdirAllSync(parent); err != nil {
		return fmt.Errorf("objstore: local: put %q: %w", key, err)
	}
	tmp, err := os.CreateTemp(parent, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("objstore: local: put %q: create temp file: %w", key, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	n, err := io.CopyN(tmp, ctxReader{ctx: ctx, r: r}, size)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("reader ended after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
		}
		return fmt.Errorf("objstore: local: put %q: write: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("objstore: local: put %q: fsync: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("objstore: local: put %q: close: %w", key, err)
	}
	if err := os.Rename(tmpName, target); err != nil {
		return fmt.Errorf("objstore: local: put %q: rename: %w", key, err)
	}
	if err := syncDir(parent); err != nil {
		return fmt.Errorf("objstore: local: put %q: %w", key, err)
	}
	return nil
}

// Get opens the object at key; a missing key (or a key naming a directory)
// answers an error wrapping ErrNotFound.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("objstore: local: get %q: %w", key, err)
	}
	f, err := os.Open(l.path(key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, notDirErr) {
			return nil, fmt.Errorf("objstore: local: get %q: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("objstore: local: get %q: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("objstore: local: get %q: stat: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("objstore: local: get %q: %w", key, ErrNotFound)
	}
	return f, nil
}

// List answers the keys starting with prefix, sorted ascending. The prefix
// need not end at a slash ("ab" matches "abc" and "ab/c"). Temporary files of
// in-flight Puts are skipped.
func (l *Local) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("objstore: local: list %q: %w", prefix, err)
	}
	// Walk only the deepest directory the prefix names whole; the rest of the
	// prefix filters names inside it.
	base := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		base = prefix[:i]
	}
	if base != "" && ValidateKey(base) != nil {
		// No valid key lives under an invalid directory prefix ("/x", "a//").
		return []string{}, nil
	}
	root := l.dir
	if base != "" {
		root = l.path(base)
	}
	keys := []string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, notDirErr)) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		if !d.Type().IsRegular() {
			if d.IsDir() && p != root && !l.couldMatch(p, prefix) {
				return fs.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(l.dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("objstore: local: list %q: %w", prefix, err)
	}
	sort.Strings(keys)
	return keys, nil
}

// couldMatch reports whether keys under directory p can start with prefix.
func (l *Local) couldMatch(p, prefix string) bool {
	rel, err := filepath.Rel(l.dir, p)
	if err != nil {
		return true
	}
	dirKey := filepath.ToSlash(rel) + "/"
	return strings.HasPrefix(dirKey, prefix) || strings.HasPrefix(prefix, dirKey)
}

// Delete removes the object at key and fsyncs its directory; a missing key is
// not an error.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("objstore: local: delete %q: %w", key, err)
	}
	target := l.path(key)
	fi, err := os.Lstat(target)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, notDirErr) {
			return nil
		}
		return fmt.Errorf("objstore: local: delete %q: %w", key, err)
	}
	if fi.IsDir() {
		return nil // not an object
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("objstore: local: delete %q: %w", key, err)
	}
	if err := syncDir(filepath.Dir(target)); err != nil {
		return fmt.Errorf("objstore: local: delete %q: %w", key, err)
	}
	return nil
}

// mkdirAllSync creates dir and its missing parents below the root, fsyncing
// each new directory's parent so the new entries are durable.
func (l *Local) mkdirAllSync(dir string) error {
	rel, err := filepath.Rel(l.dir, dir)
	if err != nil {
		return fmt.Errorf("mkdir %q: %w", dir, err)
	}
	if rel == "." {
		return nil
	}
	cur := l.dir
	for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
		next := filepath.Join(cur, seg)
		err := os.Mkdir(next, 0o755)
		switch {
		case err == nil:
			if err := syncDir(cur); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
			fi, serr := os.Stat(next)
			if serr != nil {
				return fmt.Errorf("mkdir %q: %w", next, serr)
			}
			if !fi.IsDir() {
				return fmt.Errorf("mkdir %q: an object holds that key, so it cannot be a directory", next)
			}
		default:
			return fmt.Errorf("mkdir %q: %w", next, err)
		}
		cur = next
	}
	return nil
}

// syncDir fsyncs a directory so renames and creations in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %q for fsync: %w", dir, err)
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("fsync dir %q: %w", dir, err)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("close dir %q: %w", dir, err)
	}
	return nil
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
