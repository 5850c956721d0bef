package pageserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/phantom-db/phantom/internal/keys"
)

// ErrBeforeRetention is wrapped when a read asks for a timestamp older than
// the retention window.
var ErrBeforeRetention = errors.New("pageserver: read timestamp is older than the retention window")

// gcGrace is the default Config.GCGrace: how much older than the read
// horizon version GC's horizon is, so a read admitted just before a GC run
// never misses a version.
const gcGrace = time.Minute

// physicalShift is the number of logical bits of a hybrid timestamp:
// ts >> physicalShift is unix milliseconds.
const physicalShift = 18

// tsAt is the smallest hybrid timestamp at or after t.
func tsAt(t time.Time) uint64 {
	ms := t.UnixMilli()
	if ms <= 0 {
		return 0
	}
	return uint64(ms) << physicalShift
}

// readHorizon is the oldest read_ts a read may use now; 0 when retention is
// disabled.
func (s *Server) readHorizon() uint64 {
	if s.cfg.Retention < 0 {
		return 0
	}
	return tsAt(s.cfg.Now().Add(-s.cfg.Retention))
}

// checkRetention answers an error wrapping ErrBeforeRetention when readTS
// is older than the retention window.
func (s *Server) checkRetention(readTS uint64) error {
	h := s.readHorizon()
	if readTS >= h {
		return nil
	}
	return fmt.Errorf("%w: timestamp %d (%s) is older than the retention window %s (oldest readable %d, %s)",
		ErrBeforeRetention, readTS, physicalTime(readTS), s.cfg.Retention, h, physicalTime(h))
}

// physicalTime formats the physical part of a hybrid timestamp.
func physicalTime(ts uint64) string {
	return time.UnixMilli(int64(ts >> physicalShift)).UTC().Format(time.RFC3339Nano)
}

// gcLoop runs CollectObjects and CollectVersions every GCInterval until ctx
// is done.
func (s *Server) gcLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.CollectVersions(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("version garbage collection failed", "err", err)
			}
			if _, err := s.CollectObjects(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("object garbage collection failed", "err", err)
			}
		}
	}
}

// CollectObjects deletes, under Config.Prefix, the manifests older than the
// newest KeepCheckpoints and then every object in sst/ and checkpoints/ that
// no remaining manifest names (leftovers of interrupted checkpoints and of
// deleted manifests). It deletes at most GCMaxDeletes objects and answers
// how many it deleted. It holds the checkpoint lock, so it never deletes the
// files of a checkpoint in progress in this process (there is one writer
// per prefix). Manifests go first: a crash midway leaves orphan files for
// the next run, never a manifest naming a deleted file.
func (s *Server) CollectObjects(ctx context.Context) (int, error) {
	s.ckptMu.Lock()
	defer s.ckptMu.Unlock()
	store, prefix := s.cfg.Store, s.cfg.Prefix
	keys, err := store.List(ctx, prefix+manifestDir)
	if err != nil {
		return 0, fmt.Errorf("pageserver: gc: list manifests: %w", err)
	}
	var manifests []string
	for _, k := range keys {
		if _, ok := manifestTS(prefix, k); ok {
			manifests = append(manifests, k)
		}
	}
	slices.Sort(manifests)
	deleted := 0
	defer func() { s.metrics.gcObjectsDeleted.Add(float64(deleted)) }()
	budget := func() bool { return deleted < s.cfg.GCMaxDeletes }
	keep := manifests[max(0, len(manifests)-s.cfg.KeepCheckpoints):]
	for _, k := range manifests[:len(manifests)-len(keep)] {
		if !budget() {
			return deleted, nil
		}
		if err := store.Delete(ctx, k); err != nil {
			return deleted, fmt.Errorf("pageserver: gc: delete manifest %s: %w", k, err)
		}
		deleted++
	}
	referenced := make(map[string]bool)
	for _, k := range keep {
		m, err := s.readManifest(ctx, k)
		if err != nil {
			// Without every kept manifest the referenced set is incomplete:
			// delete nothing more.
			return deleted, fmt.Errorf("pageserver: gc: %w", err)
		}
		for _, f := range m.Files {
			referenced[f.Key] = true
		}
	}
	for _, dir := range []string{sstDir, checkpointDir} {
		objs, err := store.List(ctx, prefix+dir)
		if err != nil {
			return deleted, fmt.Errorf("pageserver: gc: list %s: %w", dir, err)
		}
		for _, k := range objs {
			if referenced[k] {
				continue
			}
			if !budget() {
				return deleted, nil
			}
			if err := store.Delete(ctx, k); err != nil {
				return deleted, fmt.Errorf("pageserver: gc: delete %s: %w", k, err)
			}
			deleted++
			if dir == sstDir {
				// The next checkpoint must upload it again if it needs it.
				delete(s.uploaded, strings.TrimPrefix(k, prefix+sstDir))
			}
		}
	}
	if deleted > 0 {
		s.log.Info("object garbage collected", "deleted", deleted, "kept_manifests", len(keep))
	}
	return deleted, nil
}

// manifestTS parses the timestamp of a manifest key.
func manifestTS(prefix, key string) (uint64, bool) {
	digits, ok := strings.CutSuffix(strings.TrimPrefix(key, prefix+manifestDir), manifestExt)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	ts, err := strconv.ParseUint(digits, 10, 64)
	return ts, err == nil
}

// readManifest reads and decodes the manifest at key.
func (s *Server) readManifest(ctx context.Context, key string) (*manifest, error) {
	rc, err := s.cfg.Store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get manifest %s: %w", key, err)
	}
	defer rc.Close()
	m, err := decodeManifest(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return m, nil
}

// userKeysStart is the first key after the metadata keys.
var userKeysStart = []byte{0x00, 0x01}

// CollectVersions drops MVCC versions no admissible read can see. For
// every user key it keeps every version newer than the GC horizon (the read
// horizon minus a minute of grace) and the newest version at or below each
// protection point: the horizon itself and, for a key of a timeline with
// branches, every fork timestamp below the horizon at which a branch (or a
// branch of a branch) still reads it (see protectionPoints). Everything
// else at or below the horizon goes. Outside a branch, the oldest kept
// version goes too when it is a tombstone (repeatedly): reading nothing
// and reading a tombstone are the same there. In a branch a tombstone
// shadows the parent's key and always stays. It stops at the first key
// boundary after visiting GCMaxVersions versions (the next call resumes
// there) and answers how many versions it deleted. It does nothing when
// retention is disabled.
func (s *Server) CollectVersions(ctx context.Context) (int, error) {
	if s.cfg.Retention < 0 {
		return 0, nil
	}
	horizon := tsAt(s.cfg.Now().Add(-s.cfg.Retention - s.cfg.GCGrace))
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	if err := s.purgeDeletedBranches(ctx, horizon); err != nil {
		return 0, err
	}
	tl := s.timelineMap()
	points := protectionPoints(s.gcTimelines(horizon), horizon)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: userKeysStart})
	if err != nil {
		return 0, fmt.Errorf("pageserver: gc: open iterator: %w", err)
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer b.Close()

	var (
		cur      []byte      // prefix of the key being visited
		keyPts   []uint64    // protection points of cur below the horizon
		inBranch bool        // cur belongs to a branch timeline
		old      []gcVersion // cur's versions at or below the horizon, newest first
		userKey  []byte
		visited  int
		deleted  int
		finished = true
	)
	flush := func() error {
		for _, k := range gcDrops(old, keyPts, inBranch) {
			if err := b.Delete(k, nil); err != nil {
				return fmt.Errorf("pageserver: gc: %w", err)
			}
			deleted++
		}
		old = old[:0]
		return nil
	}
	valid := it.First()
	if s.gcCursor != nil {
		valid = it.SeekGE(s.gcCursor)
	}
	for ; valid; valid = it.Next() {
		prefix, ts, err := splitVersionedKey(it.Key())
		if err != nil {
			return 0, err
		}
		if !bytes.Equal(prefix, cur) {
			if err := flush(); err != nil {
				return 0, err
			}
			if visited >= s.cfg.GCMaxVersions {
				s.gcCursor = append(s.gcCursor[:0], prefix...)
				finished = false
				break
			}
			cur = append(cur[:0], prefix...)
			keyPts, inBranch = nil, false
			if userKey, err = appendDecodedUserKey(userKey[:0], prefix); err != nil {
				return 0, err
			}
			if id, _, ok := keys.SplitDatabaseKey(userKey); ok {
				keyPts = points[id]
				_, inBranch = tl[id]
			}
		}
		visited++
		if visited%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		if ts > horizon {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return 0, fmt.Errorf("pageserver: gc: read value: %w", err)
		}
		old = append(old, gcVersion{key: slices.Clone(it.Key()), ts: ts, tomb: len(v) > 0 && v[0] == kindTombstone})
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("pageserver: gc: iterate: %w", err)
	}
	if finished {
		if err := flush(); err != nil {
			return 0, err
		}
		s.gcCursor = nil
	}
	if deleted > 0 {
		// Not synced: a lost deletion is redone by the next run.
		if err := s.db.Apply(b, pebble.NoSync); err != nil {
			return 0, fmt.Errorf("pageserver: gc: apply deletions: %w", err)
		}
		s.metrics.gcVersionsDeleted.Add(float64(deleted))
		s.log.Info("versions garbage collected", "deleted", deleted, "visited", visited, "horizon_ts", horizon)
	}
	return deleted, nil
}

// purgeDeletedBranches drops every version under /db/<B>/ of each branch
// timeline B deleted at or below horizon: no admissible read can reach B
// any more (compute resolves a branch only through its name record,
// deleted with it, and time travel to before the deletion is below the
// retention window). It runs before version GC, in its own batch, so the
// timeline record (which version GC may then drop) outlives the rows it
// names even across a crash: Pebble recovers batches in order. Writes that
// reach B after the purge (a transaction whose snapshot predates the
// deletion) are dropped by the next run, since B stays in the map of
// deleted timelines until restart. Callers hold gcMu and dbMu (read).
func (s *Server) purgeDeletedBranches(ctx context.Context, horizon uint64) error {
	s.tlMu.RLock()
	var ids []uint64
	for id, d := range s.tlDeleted {
		if d <= horizon {
			ids = append(ids, id)
		}
	}
	s.tlMu.RUnlock()
	slices.Sort(ids)
	for _, id := range ids {
		prefix := keys.DatabasePrefix(id)
		lo := appendUserKeyPrefix(nil, prefix)
		hi := appendUserKeyPrefix(nil, keys.PrefixEnd(prefix))
		it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			return fmt.Errorf("pageserver: gc: deleted branch %d: %w", id, err)
		}
		n := 0
		for valid := it.First(); valid; valid = it.Next() {
			n++
		}
		err = it.Error()
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("pageserver: gc: deleted branch %d: %w", id, err)
		}
		if n == 0 {
			continue
		}
		if err := s.db.DeleteRange(lo, hi, pebble.NoSync); err != nil {
			return fmt.Errorf("pageserver: gc: drop deleted branch %d: %w", id, err)
		}
		s.metrics.gcBranchVersions.Add(float64(n))
		s.log.Info("deleted branch's rows garbage collected", "timeline", id, "versions", n)
	}
	return nil
}

// gcVersion is one version at or below the GC horizon.
type gcVersion struct {
	key  []byte
	ts   uint64
	tomb bool
}

// gcDrops returns the Pebble keys to delete among old, one user key's
// versions at or below the horizon (newest first): the newest is kept (it
// is the newest at or below the horizon), so is the newest at or below each
// point; outside a branch the oldest kept ones go while they are
// tombstones.
func gcDrops(old []gcVersion, points []uint64, inBranch bool) [][]byte {
	if len(old) == 0 {
		return nil
	}
	keep := make([]bool, len(old))
	keep[0] = true
	for _, p := range points {
		for i, v := range old {
			if v.ts <= p {
				keep[i] = true
				break
			}
		}
	}
	if !inBranch {
		for i := len(old) - 1; i >= 0; i-- {
			if !keep[i] {
				continue
			}
			if !old[i].tomb {
				break
			}
			keep[i] = false
		}
	}
	var drops [][]byte
	for i, v := range old {
		if !keep[i] {
			drops = append(drops, v.key)
		}
	}
	return drops
}

// protectionPoints returns, per timeline, the timestamps below horizon at
// which a branch still reads that timeline's keys: a branch c of X with
// fork F reads X at min(T, F) for every T it is read at; T >= horizon
// (reads of c itself) gives F when F < horizon, and every point q of c
// gives min(q, F). Points at or above the horizon are covered by the
// versions newer than the horizon, which GC always keeps.
func protectionPoints(tl timelineMap, horizon uint64) map[uint64][]uint64 {
	out := map[uint64][]uint64{}
	// visit returns the points of id's parent that reads of id need.
	visit := func(id uint64) []uint64 {
		t := tl[id]
		var pts []uint64
		if t.ForkTS < horizon {
			pts = append(pts, t.ForkTS)
		}
		for _, q := range out[id] {
			pts = append(pts, min(q, t.ForkTS))
		}
		return pts
	}
	// Children before parents: process timelines by decreasing depth so a
	// child's own points are complete before they are passed up.
	depth := func(id uint64) int {
		d := 0
		for t, ok := tl[id]; ok && d <= maxTimelineDepth; t, ok = tl[t.Parent] {
			d++
		}
		return d
	}
	ids := make([]uint64, 0, len(tl))
	for id := range tl {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uint64) int { return depth(b) - depth(a) })
	for _, id := range ids {
		pts := visit(id)
		if len(pts) > 0 {
			p := tl[id].Parent
			out[p] = append(out[p], pts...)
		}
	}
	for id, pts := range out {
		slices.Sort(pts)
		out[id] = slices.Compact(pts)
	}
	return out
}
