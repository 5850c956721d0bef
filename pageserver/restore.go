package pageserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxManifestBytes bounds the manifest size restore accepts.
const maxManifestBytes = 64 << 20

// restore rebuilds the Pebble directory from the newest manifest in the
// object store. With no manifest it does nothing: the page server starts
// empty and applies the log from index 1. The files are downloaded into a
// temporary directory, fsynced, and renamed into place, so a crash never
// leaves a partial Pebble directory behind. In RestoreLazy mode only the
// mutable files are downloaded here; the manifest is persisted as the lazy
// restore state (before the rename) and openLazy serves the SSTs on demand.
func (s *Server) restore(ctx context.Context) error {
	m, err := s.newestManifest(ctx)
	if err != nil {
		return fmt.Errorf("pageserver: restore: %w", err)
	}
	if m == nil {
		s.log.Info("no checkpoint in the object store; starting empty", "prefix", s.cfg.Prefix)
		return nil
	}
	tmp := filepath.Join(s.cfg.DataDir, restoreTmpName)
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("pageserver: restore: %w", err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return fmt.Errorf("pageserver: restore: %w", err)
	}
	lazy := s.cfg.Restore == RestoreLazy
	for _, f := range m.Files {
		if lazy && isImmutableFile(f.Name) {
			continue
		}
		if err := s.download(ctx, f, filepath.Join(tmp, f.Name)); err != nil {
			_ = os.RemoveAll(tmp)
			return fmt.Errorf("pageserver: restore: %w", err)
		}
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("pageserver: restore: %w", err)
	}
	// The state is written before the rename: a database without it has
	// every file.
	if lazy {
		err = s.writeLazyState(m)
	} else {
		err = s.removeLazyState()
	}
	if err != nil {
		return fmt.Errorf("pageserver: restore: %w", err)
	}
	// dbDir has no database (New checked); it may be an empty leftover.
	if err := os.RemoveAll(s.dbDir()); err != nil {
		return fmt.Errorf("pageserver: restore: %w", err)
	}
	if err := os.Rename(tmp, s.dbDir()); err != nil {
		return fmt.Errorf("pageserver: restore: %w", err)
	}
	if err := syncDir(s.cfg.DataDir); err != nil {
		return fmt.Errorf("pageserver: restore: %w", err)
	}
	for _, f := range m.Files {
		if isImmutableFile(f.Name) {
			s.uploaded[f.Name] = f.Size
		}
	}
	s.ckptIndex.Store(m.AppliedIndex)
	s.ckptTS.Store(m.AppliedTS)
	s.log.Info("restored checkpoint", "applied_index", m.AppliedIndex, "applied_ts", m.AppliedTS,
		"files", len(m.Files), "mode", s.cfg.Restore)
	return nil
}

// download copies the object of f to path and fsyncs it.
func (s *Server) download(ctx context.Context, f manifestFile, path string) error {
	rc, err := s.cfg.Store.Get(ctx, f.Key)
	if err != nil {
		return fmt.Errorf("get %s: %w", f.Key, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, rc)
	if err == nil && n != f.Size {
		err = fmt.Errorf("%w: %s has %d bytes, manifest says %d", ErrBadManifest, f.Key, n, f.Size)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", f.Key, err)
	}
	return nil
}

// seedUploaded marks the immutable files of the newest manifest that are
// present locally with the same size as uploaded, so a restarted server does
// not upload them again. It is best effort: the object store may be down
// while the local disk is fine, and re-uploading is harmless.
func (s *Server) seedUploaded(ctx context.Context) {
	m, err := s.newestManifest(ctx)
	if err != nil {
		s.log.Warn("cannot read the newest manifest; the next checkpoint uploads every file", "err", err)
		return
	}
	if m == nil {
		return
	}
	for _, f := range m.Files {
		if !isImmutableFile(f.Name) {
			continue
		}
		if info, err := os.Stat(filepath.Join(s.dbDir(), f.Name)); err == nil && info.Size() == f.Size {
			s.uploaded[f.Name] = f.Size
		}
	}
	s.ckptIndex.Store(m.AppliedIndex)
	s.ckptTS.Store(m.AppliedTS)
}

// decodeManifest parses and validates a manifest.
func decodeManifest(r io.Reader) (*manifest, error) {
	var m manifest
	dec := json.NewDecoder(io.LimitReader(r, maxManifestBytes))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadManifest, m.Version, manifestVersion)
	}
	seen := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if f.Key == "" || f.Size < 0 || !validFileName(f.Name) || seen[f.Name] {
			return nil, fmt.Errorf("%w: bad file entry %+v", ErrBadManifest, f)
		}
		seen[f.Name] = true
	}
	return &m, nil
}

// validFileName reports whether name is a plain file name that cannot
// escape the directory it is joined to.
func validFileName(name string) bool {
	return name != "" && name != "." && name != ".." && name != "LOCK" &&
		!strings.ContainsAny(name, `/\`) && filepath.Base(name) == name
}

// removeTempDirs removes checkpoint and restore directories a crash left in
// DataDir.
func (s *Server) removeTempDirs() error {
	entries, err := os.ReadDir(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("pageserver: read data dir: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), checkpointTmpPrefix) || e.Name() == restoreTmpName || e.Name() == lazyFetchDirName {
			if err := os.RemoveAll(filepath.Join(s.cfg.DataDir, e.Name())); err != nil {
				return fmt.Errorf("pageserver: remove leftover %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

// syncDir fsyncs a directory so the entries created or renamed in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
