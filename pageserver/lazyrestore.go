package pageserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// RestoreMode says how a page server on an empty disk restores the newest
// checkpoint.
type RestoreMode string

// Restore modes.
const (
	// RestoreLazy downloads only the small mutable files (Pebble's
	// MANIFEST, OPTIONS, WAL) before opening; every SST is fetched the
	// first time Pebble opens it (a read that needs it waits for that one
	// file) while a background worker downloads the rest. Cold start does
	// not wait for a full download. The default.
	RestoreLazy RestoreMode = "lazy"
	// RestoreEager downloads every file of the checkpoint before serving.
	RestoreEager RestoreMode = "eager"
)

// ParseRestoreMode parses "lazy" or "eager".
func ParseRestoreMode(s string) (RestoreMode, error) {
	switch m := RestoreMode(s); m {
	case RestoreLazy, RestoreEager:
		return m, nil
	}
	return "", fmt.Errorf("restore mode %q: want lazy or eager", s)
}

// Files of a lazy restore in DataDir.
const (
	// lazyStateName holds the manifest being restored lazily; it exists
	// exactly while some of its SSTs may still be missing locally.
	lazyStateName = "lazy-restore.json"
	// lazyFetchDirName is where SSTs are downloaded before they are
	// renamed into the Pebble directory (removed on start).
	lazyFetchDirName = "lazy-fetch"
	// lazyBackgroundFetches is how many SSTs the background worker
	// downloads at once.
	lazyBackgroundFetches = 4
)

// backgroundFetchKey marks the context of background downloads (a demand
// fetch has no such value); tests use it to hold the background back.
type backgroundFetchKey struct{}

// lazyFile is one SST of a lazy restore not yet downloaded.
type lazyFile struct {
	f manifestFile
	// inflight is non-nil while a download runs; it is closed when it
	// ends (successfully or not).
	inflight chan struct{}
}

// lazyFS is the vfs.FS Pebble runs on during a lazy restore. Files of the
// restored checkpoint that are not local yet are listed and stat'ed with
// their manifest size (so Pebble opens the database), and the first Open or
// Link of one downloads it (into lazy-fetch, fsync, rename into the Pebble
// directory). Pebble opens an SST only when a read (or a compaction, or the
// table stats job) needs it, so a read waits for exactly the files that
// cover its keys. A background worker downloads the rest.
type lazyFS struct {
	vfs.FS
	s        *Server
	dbDir    string
	fetchDir string
	state    string

	// ctx bounds background downloads, demand bounds the ones Pebble asks
	// for; stop cancels both.
	ctx          context.Context
	cancel       context.CancelFunc
	demand       context.Context
	demandCancel context.CancelFunc
	wg           sync.WaitGroup
	start        time.Time

	mu      sync.Mutex
	pending map[string]*lazyFile // file name -> state
	order   []string             // background download order
	done    chan struct{}        // closed when pending is empty
}

// writeLazyState persists m as the lazy restore in progress (fsynced).
func (s *Server) writeLazyState(m *manifest) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode lazy restore state: %w", err)
	}
	path := filepath.Join(s.cfg.DataDir, lazyStateName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, body, 0o644); err != nil {
		return fmt.Errorf("write lazy restore state: %w", err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		_ = f.Close()
	}
	if err != nil {
		return fmt.Errorf("sync lazy restore state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write lazy restore state: %w", err)
	}
	return syncDir(s.cfg.DataDir)
}

// removeLazyState removes a leftover lazy restore state (an eager restore
// replaces the whole database, so it would name files that are present).
func (s *Server) removeLazyState() error {
	err := os.Remove(filepath.Join(s.cfg.DataDir, lazyStateName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove lazy restore state: %w", err)
	}
	return nil
}

// openLazy returns the lazyFS of an unfinished lazy restore, or nil when
// every file is local. The files it still has to fetch count as uploaded:
// they are in the object store.
func (s *Server) openLazy() (*lazyFS, error) {
	path := filepath.Join(s.cfg.DataDir, lazyStateName)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pageserver: lazy restore: %w", err)
	}
	m, err := decodeManifest(f)
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("pageserver: lazy restore state %s: %w", path, err)
	}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), backgroundFetchKey{}, true))
	demand, demandCancel := context.WithCancel(context.Background())
	l := &lazyFS{
		demand:       demand,
		demandCancel: demandCancel,
		FS:           vfs.Default,
		s:            s,
		dbDir:        filepath.Clean(s.dbDir()),
		fetchDir:     filepath.Join(s.cfg.DataDir, lazyFetchDirName),
		state:        path,
		ctx:          ctx,
		cancel:       cancel,
		start:        time.Now(),
		pending:      make(map[string]*lazyFile),
		done:         make(chan struct{}),
	}
	for _, mf := range m.Files {
		if !isImmutableFile(mf.Name) {
			continue
		}
		s.uploaded[mf.Name] = mf.Size
		if _, err := os.Stat(filepath.Join(l.dbDir, mf.Name)); err == nil {
			continue // downloaded before (renamed into place only when complete)
		}
		l.pending[mf.Name] = &lazyFile{f: mf}
		l.order = append(l.order, mf.Name)
	}
	if len(l.pending) == 0 {
		cancel()
		demandCancel()
		if err := l.finish(); err != nil {
			return nil, err
		}
		return nil, nil
	}
	if err := os.MkdirAll(l.fetchDir, 0o755); err != nil {
		cancel()
		demandCancel()
		return nil, fmt.Errorf("pageserver: lazy restore: %w", err)
	}
	s.log.Info("lazy restore: serving while SSTs download", "missing_files", len(l.pending))
	return l, nil
}

// finish removes the state file once every file is local.
func (l *lazyFS) finish() error {
	if err := os.Remove(l.state); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pageserver: lazy restore: %w", err)
	}
	if err := syncDir(l.s.cfg.DataDir); err != nil {
		return fmt.Errorf("pageserver: lazy restore: %w", err)
	}
	_ = os.RemoveAll(l.fetchDir)
	return nil
}

// startBackground starts the background download of every pending file.
func (l *lazyFS) startBackground() {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.background()
	}()
}

// background downloads the pending files, lazyBackgroundFetches at once,
// retrying failures with backoff until every file is local or stop.
func (l *lazyFS) background() {
	backoff := minApplyBackoff
	for {
		l.mu.Lock()
		names := slices.Clone(l.order)
		l.mu.Unlock()
		sem := make(chan struct{}, lazyBackgroundFetches)
		var wg sync.WaitGroup
		var failed sync.Once
		var firstErr error
		for _, name := range names {
			select {
			case sem <- struct{}{}:
			case <-l.ctx.Done():
			}
			if l.ctx.Err() != nil {
				break
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := l.fetch(l.ctx, name); err != nil {
					failed.Do(func() { firstErr = err })
				}
			}()
		}
		wg.Wait()
		if l.ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		left := len(l.pending)
		l.mu.Unlock()
		if left == 0 {
			return
		}
		l.s.log.Warn("lazy restore: background download failed; retrying", "missing_files", left, "backoff", backoff, "err", firstErr)
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxApplyBackoff)
	}
}

// stop cancels the background download and waits for it; demand fetches
// still running fail.
func (l *lazyFS) stop() {
	l.cancel()
	l.demandCancel()
	l.wg.Wait()
}

// complete reports whether every file is local.
func (l *lazyFS) complete() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// wait blocks until every file is local or ctx is done.
func (l *lazyFS) wait(ctx context.Context) error {
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		left := len(l.pending)
		l.mu.Unlock()
		return fmt.Errorf("pageserver: lazy restore: %d files still missing: %w", left, ctx.Err())
	}
}

// missing returns how many files are not local yet.
func (l *lazyFS) missing() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// pendingName returns the pending file at path (in the Pebble directory).
func (l *lazyFS) pendingName(path string) (string, bool) {
	if filepath.Clean(filepath.Dir(path)) != l.dbDir {
		return "", false
	}
	name := filepath.Base(path)
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.pending[name]
	return name, ok
}

// fetch downloads the pending file name unless it is local already. If
// another download of it runs, it waits for that one first.
func (l *lazyFS) fetch(ctx context.Context, name string) error {
	for {
		l.mu.Lock()
		p, ok := l.pending[name]
		if !ok {
			l.mu.Unlock()
			return nil
		}
		if ch := p.inflight; ch != nil {
			l.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return fmt.Errorf("pageserver: lazy restore: fetch %s: %w", name, ctx.Err())
			}
		}
		ch := make(chan struct{})
		p.inflight = ch
		l.mu.Unlock()

		err := l.download(ctx, p.f)
		l.mu.Lock()
		p.inflight = nil
		close(ch)
		if err == nil {
			err = l.install(name)
		}
		l.mu.Unlock()
		return err
	}
}

// download fetches f into the fetch directory.
func (l *lazyFS) download(ctx context.Context, f manifestFile) error {
	tmp := filepath.Join(l.fetchDir, f.Name)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pageserver: lazy restore: %w", err)
	}
	if err := l.s.download(ctx, f, tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("pageserver: lazy restore: %w", err)
	}
	return nil
}

// install renames a downloaded file into the Pebble directory, unless Pebble
// removed it (made obsolete by a compaction) meanwhile. Called with l.mu
// held.
func (l *lazyFS) install(name string) error {
	tmp := filepath.Join(l.fetchDir, name)
	if _, ok := l.pending[name]; !ok {
		_ = os.Remove(tmp)
		return nil
	}
	if err := os.Rename(tmp, filepath.Join(l.dbDir, name)); err != nil {
		return fmt.Errorf("pageserver: lazy restore: install %s: %w", name, err)
	}
	if err := syncDir(l.dbDir); err != nil {
		return fmt.Errorf("pageserver: lazy restore: %w", err)
	}
	l.forget(name)
	return nil
}

// forget drops name from the pending set and finishes the restore when it
// was the last one. Called with l.mu held.
func (l *lazyFS) forget(name string) {
	delete(l.pending, name)
	l.order = slices.DeleteFunc(l.order, func(n string) bool { return n == name })
	if len(l.pending) > 0 || l.complete() {
		return
	}
	if err := l.finish(); err != nil {
		// The state file stays: the next start finds every file local
		// and removes it then.
		l.s.log.Warn("lazy restore: cannot remove the state file", "err", err)
	}
	close(l.done)
	l.s.log.Info("lazy restore complete", "duration", time.Since(l.start))
}

// demandFetchTimeout bounds one fetch Pebble asks for (it passes no
// context).
const demandFetchTimeout = 10 * time.Minute

// demandCtx bounds a fetch Pebble asks for.
func (l *lazyFS) demandCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(l.demand, demandFetchTimeout)
}

// Open downloads a pending file first.
func (l *lazyFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	if n, ok := l.pendingName(name); ok {
		ctx, cancel := l.demandCtx()
		err := l.fetch(ctx, n)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	return l.FS.Open(name, opts...)
}

// Link downloads a pending file first (a checkpoint hard-links SSTs).
func (l *lazyFS) Link(oldname, newname string) error {
	if n, ok := l.pendingName(oldname); ok {
		ctx, cancel := l.demandCtx()
		err := l.fetch(ctx, n)
		cancel()
		if err != nil {
			return err
		}
	}
	return l.FS.Link(oldname, newname)
}

// Remove of a pending file (Pebble deleting an obsolete SST) cancels its
// download.
func (l *lazyFS) Remove(name string) error {
	if n, ok := l.pendingName(name); ok {
		l.mu.Lock()
		if _, still := l.pending[n]; still {
			l.forget(n)
		}
		l.mu.Unlock()
		if err := l.FS.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return l.FS.Remove(name)
}

// Stat answers the manifest size of a pending file.
func (l *lazyFS) Stat(name string) (vfs.FileInfo, error) {
	if n, ok := l.pendingName(name); ok {
		l.mu.Lock()
		p, still := l.pending[n]
		l.mu.Unlock()
		if still {
			return pendingInfo{name: n, size: p.f.Size}, nil
		}
	}
	return l.FS.Stat(name)
}

// List adds the pending files to the Pebble directory's listing. The
// directory is read under l.mu, which install holds while it renames a
// file in and drops it from pending: otherwise a file installed between
// the read and the merge would be in neither list, and Pebble, opening,
// would find an SST its MANIFEST names missing.
func (l *lazyFS) List(dir string) ([]string, error) {
	if filepath.Clean(dir) != l.dbDir {
		return l.FS.List(dir)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	names, err := l.FS.List(dir)
	if err != nil {
		return names, err
	}
	for n := range l.pending {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// pendingInfo is the FileInfo of a file not downloaded yet.
type pendingInfo struct {
	name string
	size int64
}

func (p pendingInfo) Name() string           { return p.name }
func (p pendingInfo) Size() int64            { return p.size }
func (p pendingInfo) Mode() fs.FileMode      { return 0o644 }
func (p pendingInfo) ModTime() time.Time     { return time.Time{} }
func (p pendingInfo) IsDir() bool            { return false }
func (p pendingInfo) Sys() any               { return nil }
func (p pendingInfo) DeviceID() vfs.DeviceID { return vfs.DeviceID{} }

// lazyMissing returns how many SSTs of a lazy restore are not local yet.
func (s *Server) lazyMissing() int {
	if s.lazy == nil {
		return 0
	}
	return s.lazy.missing()
}
