package pageserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Object key layout under Config.Prefix:
//
//	sst/<file>                   immutable Pebble files (*.sst, *.blob), shared by checkpoints
//	checkpoints/<ts>/<attempt>/<file>  the mutable files of one checkpoint (MANIFEST-*, OPTIONS-*, marker.*, *.log)
//	manifests/<ts>.json          the commit point of one checkpoint
//
// <ts> is the checkpoint's applied commit_ts, zero-padded to 20 digits so
// that lexical order is timestamp order. <attempt> is random per checkpoint
// attempt: a retried checkpoint at the same ts never overwrites the mutable
// files a manifest of an earlier attempt (whose Put may have landed even
// though it reported an error) names.
const (
	sstDir        = "sst/"
	checkpointDir = "checkpoints/"
	manifestDir   = "manifests/"
	manifestExt   = ".json"

	manifestVersion = 1

	checkpointTmpPrefix = "checkpoint-tmp-"
	restoreTmpName      = "restore-tmp"
)

// manifest describes one checkpoint: every object needed to rebuild the
// Pebble directory, and the applied position inside it.
type manifest struct {
	Version      int            `json:"version"`
	AppliedIndex uint64         `json:"applied_index"`
	AppliedTS    uint64         `json:"applied_ts"`
	Created      time.Time      `json:"created"`
	Files        []manifestFile `json:"files"`
}

// manifestFile is one object of a checkpoint.
type manifestFile struct {
	// Key is the object key.
	Key string `json:"key"`
	// Name is the file name inside the Pebble directory.
	Name string `json:"name"`
	// Size is the file size in bytes.
	Size int64 `json:"size"`
}

// Checkpoint uploads a consistent copy of the Pebble database to the object
// store, manifest last. It uploads only the immutable files not uploaded
// before, and does nothing when no entry was applied since the last
// checkpoint. Checkpoints never run concurrently. Afterwards the position
// of the newest checkpoint is reported to Config.Reporter unless it was
// reported already (a failed report is logged and retried next time).
func (s *Server) Checkpoint(ctx context.Context) error {
	start, before := time.Now(), s.ckptIndex.Load()
	if err := s.checkpoint(ctx); err != nil {
		s.metrics.checkpointFailures.Inc()
		return err
	}
	if s.ckptIndex.Load() != before {
		s.metrics.checkpointDuration.Observe(time.Since(start).Seconds())
	}
	s.reportConsistent(ctx)
	return nil
}

// reportConsistent tells Config.Reporter the newest checkpoint position if
// it has not been told yet. Errors are logged, never returned.
func (s *Server) reportConsistent(ctx context.Context) {
	if s.cfg.Reporter == nil {
		return
	}
	s.reportMu.Lock()
	defer s.reportMu.Unlock()
	index, ts := s.ckptIndex.Load(), s.ckptTS.Load()
	if index == 0 || index <= s.reportedIndex {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.ReportTimeout)
	defer cancel()
	if err := s.cfg.Reporter.ReportConsistent(rctx, s.cfg.NodeID, index, ts); err != nil {
		s.log.Warn("reporting the checkpoint position failed; retrying after the next checkpoint",
			"applied_index", index, "applied_ts", ts, "err", err)
		return
	}
	s.reportedIndex = index
}

// checkpoint is Checkpoint without the report.
func (s *Server) checkpoint(ctx context.Context) error {
	// A checkpoint hard-links every live SST: wait for a lazy restore to
	// download them (nothing to upload before that anyway: the restored
	// manifest covers them).
	if s.lazy != nil {
		if err := s.lazy.wait(ctx); err != nil {
			return fmt.Errorf("pageserver: checkpoint: %w", err)
		}
	}
	s.ckptMu.Lock()
	defer s.ckptMu.Unlock()
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if s.AppliedIndex() <= s.ckptIndex.Load() {
		return nil
	}
	// Flushing first turns the memtable into SSTs, so the checkpoint's WAL
	// (uploaded whole with every checkpoint) stays small.
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("pageserver: checkpoint: flush: %w", err)
	}
	tmp, err := os.MkdirTemp(s.cfg.DataDir, checkpointTmpPrefix)
	if err != nil {
		return fmt.Errorf("pageserver: checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, pebbleDirName) // Checkpoint wants a new directory
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("pageserver: checkpoint: pebble: %w", err)
	}
	// The apply loop kept running: the position is the one inside the copy.
	index, ts, err := s.checkpointPosition(dir)
	if err != nil {
		return err
	}
	if index <= s.ckptIndex.Load() {
		return nil
	}
	// Crash tests watch for this line to kill the process mid-upload.
	s.log.Info("checkpoint upload started", "applied_index", index, "applied_ts", ts)
	m, err := s.uploadCheckpointFiles(ctx, dir, index, ts)
	if err != nil {
		return err
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("pageserver: checkpoint: encode manifest: %w", err)
	}
	key := s.manifestKey(ts)
	if err := s.cfg.Store.Put(ctx, key, bytes.NewReader(body), int64(len(body))); err != nil {
		return fmt.Errorf("pageserver: checkpoint: put manifest %s: %w", key, err)
	}
	s.ckptIndex.Store(index)
	s.ckptTS.Store(ts)
	s.log.Info("checkpoint written", "manifest", key, "applied_index", index, "applied_ts", ts, "files", len(m.Files))
	return nil
}

// checkpointPosition opens the checkpoint at dir read-only and reads the
// applied position persisted in it.
func (s *Server) checkpointPosition(dir string) (index, ts uint64, err error) {
	db, err := pebble.Open(dir, s.pebbleOptions(true))
	if err != nil {
		return 0, 0, fmt.Errorf("pageserver: checkpoint: open copy: %w", err)
	}
	index, ts, err = readApplied(db)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("pageserver: checkpoint: close copy: %w", cerr)
	}
	return index, ts, err
}

// uploadCheckpointFiles uploads every file of the checkpoint at dir that is
// not already in the object store and returns the manifest naming them all.
func (s *Server) uploadCheckpointFiles(ctx context.Context, dir string, index, ts uint64) (*manifest, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pageserver: checkpoint: %w", err)
	}
	m := &manifest{Version: manifestVersion, AppliedIndex: index, AppliedTS: ts, Created: s.cfg.Now().UTC()}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails
	attemptDir := s.cfg.Prefix + checkpointDir + padTS(ts) + "/" + hex.EncodeToString(nonce[:]) + "/"
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || name == "LOCK" {
			continue // LOCK comes from opening the copy read-only
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("pageserver: checkpoint: %w", err)
		}
		f := manifestFile{Name: name, Size: info.Size()}
		immutable := isImmutableFile(name)
		if immutable {
			f.Key = s.cfg.Prefix + sstDir + name
		} else {
			f.Key = attemptDir + name
		}
		m.Files = append(m.Files, f)
		if immutable && s.uploaded[name] == f.Size {
			continue
		}
		if err := s.putFile(ctx, f.Key, filepath.Join(dir, name), f.Size); err != nil {
			return nil, err
		}
		if immutable {
			s.uploaded[name] = f.Size
		}
		if d := s.cfg.TestCheckpointPause; d > 0 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("pageserver: checkpoint: %w", ctx.Err())
			case <-time.After(d):
			}
		}
	}
	return m, nil
}

// putFile uploads the local file at path to key.
func (s *Server) putFile(ctx context.Context, key, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("pageserver: checkpoint: %w", err)
	}
	defer f.Close()
	if err := s.cfg.Store.Put(ctx, key, f, size); err != nil {
		return fmt.Errorf("pageserver: checkpoint: put %s: %w", key, err)
	}
	return nil
}

// isImmutableFile reports whether a Pebble file never changes once written
// (sstables and blob files), so one upload serves every checkpoint.
func isImmutableFile(name string) bool {
	return strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob")
}

// padTS formats ts as 20 decimal digits, so lexical order is numeric order.
func padTS(ts uint64) string {
	return fmt.Sprintf("%020d", ts)
}

// manifestKey is the object key of the manifest of a checkpoint at ts.
func (s *Server) manifestKey(ts uint64) string {
	return s.cfg.Prefix + manifestDir + padTS(ts) + manifestExt
}

// newestManifest reads the newest manifest in the object store; it answers
// nil when there is none.
func (s *Server) newestManifest(ctx context.Context) (*manifest, error) {
	keys, err := s.cfg.Store.List(ctx, s.cfg.Prefix+manifestDir)
	if err != nil {
		return nil, fmt.Errorf("pageserver: list manifests: %w", err)
	}
	var newest string
	for _, k := range keys {
		name := strings.TrimPrefix(k, s.cfg.Prefix+manifestDir)
		digits, ok := strings.CutSuffix(name, manifestExt)
		if !ok || len(digits) != 20 {
			continue
		}
		if _, err := strconv.ParseUint(digits, 10, 64); err != nil {
			continue
		}
		if k > newest {
			newest = k
		}
	}
	if newest == "" {
		return nil, nil
	}
	rc, err := s.cfg.Store.Get(ctx, newest)
	if err != nil {
		return nil, fmt.Errorf("pageserver: get manifest %s: %w", newest, err)
	}
	defer rc.Close()
	m, err := decodeManifest(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", newest, err)
	}
	return m, nil
}
