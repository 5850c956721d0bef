// Package pageserver turns the commit log of one shard into readable MVCC
// versions and serves reads of them at a timestamp.
//
// It owns DataDir: a Pebble database (a cache of the shard, rebuildable from
// object storage plus the log) and temporary checkpoint/restore directories.
// It pulls commits from a LogSource, applies each LogEntry atomically
// together with the applied position, serves Scan as Arrow IPC record
// batches, checkpoints immutable Pebble files to an objstore.Store and
// restores from the newest checkpoint on an empty disk.
//
// Invariants:
//   - Read rule: a Scan at read_ts returns, for every user key, the newest
//     version with commit_ts <= read_ts unless it is a tombstone, and only
//     after the log is applied up to the request's min_index. A key of a
//     branch timeline that has no version <= read_ts reads its parent at
//     min(read_ts, fork_ts) instead (timelines.go).
//   - Apply atomicity: the versions of one LogEntry and the applied position
//     (index, ts) are written in one Pebble batch, so the persisted position
//     always names exactly the entries whose versions are on disk.
//   - Manifest last: a checkpoint's manifest is written after every file it
//     names, so no manifest ever names a missing object; object GC deletes
//     manifests before the files only they name.
//   - Table versions: TableVersion never answers below the commit ts of an
//     applied write that a read of the table at read_ts sees (writes before
//     the open count as written at the applied ts of the open), so a
//     compute cache it validates is never stale (tableversion.go).
//   - Retention: reads below Now() - Retention fail (FailedPrecondition);
//     version GC only drops versions such reads alone could see, keeping
//     the versions branches read at their fork points.
//
// See DESIGN.md for the request paths and what is not built yet.
package pageserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/grpc"

	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// Sentinel errors.
var (
	// ErrInvalidConfig is wrapped by Config.Validate errors.
	ErrInvalidConfig = errors.New("pageserver: invalid config")
	// ErrClosed is returned by calls on a closed (or closing) Server.
	ErrClosed = errors.New("pageserver: closed")
	// ErrNotApplied is wrapped when a read gives up waiting for the log to
	// be applied up to its min_index.
	ErrNotApplied = errors.New("pageserver: log not applied up to min_index")
	// ErrBadManifest is wrapped when a checkpoint manifest cannot be used.
	ErrBadManifest = errors.New("pageserver: bad checkpoint manifest")
)

// Apply retry backoff after a failed ReadLog.
const (
	minApplyBackoff = 50 * time.Millisecond
	maxApplyBackoff = 5 * time.Second
)

// pebbleDirName is the Pebble directory inside DataDir.
const pebbleDirName = "pebble"

// Server is a page server for one shard. It implements
// wirepb.PageServerServer.
type Server struct {
	wirepb.UnimplementedPageServerServer

	cfg     Config
	log     *slog.Logger
	metrics *metrics

	// dbMu is held shared by every user of db and exclusively by Close to
	// close it; closed is set under the exclusive lock.
	dbMu   sync.RWMutex
	db     *pebble.DB
	closed bool

	// mu guards the applied position and appliedCh, which is closed and
	// replaced every time the position advances (a broadcast to waiters).
	mu           sync.Mutex
	appliedIndex uint64
	appliedTS    uint64
	appliedCh    chan struct{}

	// ckptMu serializes checkpoints and guards uploaded: local file name ->
	// size of every immutable file known to be in the object store.
	ckptMu   sync.Mutex
	uploaded map[string]int64
	// Position of the newest manifest written or restored.
	ckptIndex atomic.Uint64
	ckptTS    atomic.Uint64

	// reportMu serializes reports; reportedIndex is the newest checkpoint
	// index Config.Reporter accepted.
	reportMu      sync.Mutex
	reportedIndex uint64

	// lazy serves the SSTs of an unfinished lazy restore (nil when every
	// file is local at open).
	lazy *lazyFS
	// tlMu guards timelines, the branch timelines (replaced, never
	// mutated), updated by applyEntry before it publishes the new applied
	// index, so a read waiting for an index sees the timelines it created.
	tlMu      sync.RWMutex
	timelines timelineMap
	// tlDeleted maps deleted timelines (still in timelines) to the commit
	// ts of their deletion; replaced, never mutated, like timelines.
	tlDeleted map[uint64]uint64
	// writes is the newest applied write per table (tableversion.go),
	// updated by applyEntry before it publishes the new applied index.
	writes *lastWrites

	// gcMu serializes CollectVersions; gcCursor is the user key prefix the
	// next run resumes at (nil: from the start).
	gcMu     sync.Mutex
	gcCursor []byte

	closing   chan struct{}
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New opens the page server on cfg.DataDir. On an empty disk it first
// restores the newest checkpoint from cfg.Store (if there is one). It then
// starts applying the log from the persisted applied index + 1 and, unless
// disabled, periodic checkpoints. ctx bounds the restore only.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer, cfg.NodeID)
	if err != nil {
		return nil, err
	}
	cfg.Store = countingStore{Store: cfg.Store, m: m}
	s := &Server{
		metrics:   m,
		cfg:       cfg,
		log:       cfg.Logger.With("component", "pageserver"),
		appliedCh: make(chan struct{}),
		uploaded:  make(map[string]int64),
		closing:   make(chan struct{}),
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("pageserver: create data dir: %w", err)
	}
	if err := s.removeTempDirs(); err != nil {
		return nil, err
	}
	dbDir := s.dbDir()
	exists, err := dbExists(dbDir)
	if err != nil {
		return nil, err
	}
	if !exists {
		if err := s.restore(ctx); err != nil {
			return nil, err
		}
	}
	if s.lazy, err = s.openLazy(); err != nil {
		return nil, err
	}
	opts := s.pebbleOptions(false)
	// The block cache: scans read the same tables again and again (every
	// query of an analytical workload), so uncompressed blocks stay in
	// memory instead of being read and decompressed per scan. The DB makes
	// its own cache of this size.
	opts.CacheSize = cfg.BlockCacheBytes
	if s.lazy != nil {
		opts.FS = s.lazy
		s.lazy.startBackground()
	}
	db, err := pebble.Open(dbDir, opts)
	if err != nil {
		if s.lazy != nil {
			s.lazy.stop()
		}
		return nil, fmt.Errorf("pageserver: open pebble at %s: %w", dbDir, err)
	}
	s.db = db
	s.metrics.blockCache.db.Store(db)
	idx, ts, err := readApplied(db)
	if err == nil && s.lazy != nil && cfg.Restore == RestoreEager {
		err = s.lazy.wait(ctx)
	}
	if err != nil {
		if s.lazy != nil {
			s.lazy.stop()
		}
		_ = db.Close()
		return nil, err
	}
	s.appliedIndex, s.appliedTS = idx, ts
	// Writes before the applied position at open are not tracked: each
	// table counts as written at it.
	s.writes = newLastWrites(ts)
	if s.timelines, s.tlDeleted, err = loadTimelines(ctx, db); err != nil {
		_ = db.Close()
		return nil, err
	}
	if exists {
		s.seedUploaded(ctx)
	}
	s.log.Info("page server open", "data_dir", cfg.DataDir, "restored", !exists,
		"applied_index", idx, "applied_ts", ts, "files_to_fetch", s.lazyMissing())

	loopCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.applyLoop(loopCtx)
	}()
	if cfg.CheckpointInterval > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.checkpointLoop(loopCtx)
		}()
	}
	if cfg.GCInterval > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.gcLoop(loopCtx)
		}()
	}
	return s, nil
}

// Register registers the PageServer gRPC service on g.
func (s *Server) Register(g *grpc.Server) {
	wirepb.RegisterPageServerServer(g, s)
}

// AppliedIndex returns the index of the newest log entry applied.
func (s *Server) AppliedIndex() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appliedIndex
}

// appliedPosition returns the applied index and the commit_ts of the entry
// at that index.
func (s *Server) appliedPosition() (index, ts uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appliedIndex, s.appliedTS
}

// WaitApplied blocks until the log is applied up to index, ctx is done
// (answering an error wrapping ctx.Err()) or the server closes (ErrClosed).
func (s *Server) WaitApplied(ctx context.Context, index uint64) error {
	for {
		s.mu.Lock()
		applied, ch := s.appliedIndex, s.appliedCh
		s.mu.Unlock()
		if applied >= index {
			return nil
		}
		select {
		case <-ch:
		case <-s.closing:
			return ErrClosed
		case <-ctx.Done():
			return fmt.Errorf("pageserver: waiting for index %d, applied %d: %w", index, applied, ctx.Err())
		}
	}
}

// Close stops applying the log, takes a final checkpoint (bounded by
// CloseCheckpointTimeout) and closes Pebble. It waits for running scans.
// Calling it again returns the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.cancel()
		s.wg.Wait()
		var ckErr error
		if s.lazy != nil && !s.lazy.complete() {
			// A checkpoint would first download every missing SST; the
			// restored manifest plus the log already cover everything,
			// and the next start resumes the lazy restore.
			s.log.Info("skipping the final checkpoint: lazy restore unfinished", "missing_files", s.lazy.missing())
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseCheckpointTimeout)
			ckErr = s.Checkpoint(ctx)
			cancel()
		}
		if s.lazy != nil {
			s.lazy.stop()
		}
		if ckErr != nil {
			ckErr = fmt.Errorf("pageserver: final checkpoint: %w", ckErr)
			s.log.Error("final checkpoint failed", "err", ckErr)
		}
		s.dbMu.Lock()
		s.closed = true
		s.metrics.blockCache.db.CompareAndSwap(s.db, nil)
		dbErr := s.db.Close()
		s.dbMu.Unlock()
		if dbErr != nil {
			dbErr = fmt.Errorf("pageserver: close pebble: %w", dbErr)
		}
		s.closeErr = errors.Join(ckErr, dbErr)
	})
	return s.closeErr
}

// applyLoop follows the log until ctx is done, restarting ReadLog from the
// applied index + 1 with exponential backoff after errors.
func (s *Server) applyLoop(ctx context.Context) {
	backoff := minApplyBackoff
	for {
		from := s.AppliedIndex() + 1
		err := s.cfg.Log.ReadLog(ctx, from, s.applyEntry)
		if ctx.Err() != nil {
			return
		}
		if s.AppliedIndex() >= from {
			backoff = minApplyBackoff
		}
		if err == nil {
			err = errors.New("log stream ended")
		}
		s.log.Warn("reading the log failed; retrying", "from_index", from, "backoff", backoff, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxApplyBackoff)
	}
}

// applyEntry writes the versions of e and the new applied position in one
// Pebble batch. Entries at or below the applied index are skipped, so a
// source that repeats entries is harmless.
//
// The batch is not synced: the log service holds the durable copy, and
// after a crash Pebble recovers a prefix of its batches, whose applied
// position (in the same batch) tells the apply loop where to resume.
func (s *Server) applyEntry(e *wirepb.LogEntry) error {
	if e.GetIndex() <= s.AppliedIndex() {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	var tlChanges []timelineChange
	for _, m := range e.GetMutations() {
		if id, ok := keys.ParseTimelineKey(m.GetKey()); ok {
			tlChanges = append(tlChanges, timelineChange{id: id, del: m.GetDelete(), value: m.GetValue()})
		}
		var v []byte
		if m.GetDelete() {
			v = []byte{kindTombstone}
		} else {
			v = append(make([]byte, 0, 1+len(m.GetValue())), kindPut)
			v = append(v, m.GetValue()...)
		}
		if err := b.Set(encodeVersionedKey(m.GetKey(), e.GetCommitTs()), v, nil); err != nil {
			return fmt.Errorf("pageserver: apply index %d: %w", e.GetIndex(), err)
		}
	}
	if err := b.Set(metaAppliedKey, encodeApplied(e.GetIndex(), e.GetCommitTs()), nil); err != nil {
		return fmt.Errorf("pageserver: apply index %d: %w", e.GetIndex(), err)
	}
	if err := s.db.Apply(b, pebble.NoSync); err != nil {
		return fmt.Errorf("pageserver: apply index %d: %w", e.GetIndex(), err)
	}
	if len(tlChanges) > 0 {
		s.applyTimelineChanges(tlChanges, e.GetCommitTs())
	}
	s.writes.observe(e.GetMutations(), e.GetCommitTs())
	s.metrics.observeApplied(e.GetIndex(), e.GetCommitTs(), s.cfg.Now())
	s.mu.Lock()
	s.appliedIndex, s.appliedTS = e.GetIndex(), e.GetCommitTs()
	close(s.appliedCh)
	s.appliedCh = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// checkpointLoop takes a checkpoint every CheckpointInterval until ctx is
// done.
func (s *Server) checkpointLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("periodic checkpoint failed", "err", err)
			}
		}
	}
}

// dbDir is the Pebble directory.
func (s *Server) dbDir() string { return filepath.Join(s.cfg.DataDir, pebbleDirName) }

// pebbleOptions returns the options every Pebble open uses.
func (s *Server) pebbleOptions(readOnly bool) *pebble.Options {
	return &pebble.Options{
		ReadOnly: readOnly,
		Logger:   pebbleLogger{s.log.With("component", "pebble")},
	}
}

// dbExists reports whether dir holds a Pebble database.
func dbExists(dir string) (bool, error) {
	desc, err := pebble.Peek(dir, vfs.Default)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pageserver: inspect %s: %w", dir, err)
	}
	return desc.Exists, nil
}

// readApplied reads the applied position persisted in db; a database
// without one has applied nothing.
func readApplied(db *pebble.DB) (index, ts uint64, err error) {
	v, closer, err := db.Get(metaAppliedKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("pageserver: read applied position: %w", err)
	}
	defer closer.Close()
	return decodeApplied(v)
}

// pebbleLogger sends Pebble's logs to slog. Pebble's info logs are chatty
// (every flush and compaction), so they go to debug.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic(msg)
}
