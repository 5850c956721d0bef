package pageserver

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/timeline"
)

// Branches. A timeline B with a record {Parent P, ForkTS F} (a branch) owns
// the keys under /db/<B>/. A read of /db/<B>/rest at ts T answers B's
// newest version <= T when B has one (a put or a tombstone), and otherwise
// the read of /db/<P>/rest at min(T, F), recursively. See DESIGN.md
// "Branches".

// maxTimelineDepth bounds the parent chain a read follows; a longer chain
// (or a cycle, which only corrupt records could make) is an error.
const maxTimelineDepth = 64

// timelineMap is the set of branch timelines, keyed by id. It is replaced,
// never mutated, so a reader may keep the map it loaded.
type timelineMap map[uint64]timeline.Timeline

// loadTimelines reads every timeline record from r: the live ones, and the
// deleted ones whose last record GC has not dropped yet, with the commit
// ts of their deletion (deleted).
func loadTimelines(ctx context.Context, r pebble.Reader) (tl timelineMap, deleted map[uint64]uint64, err error) {
	start := keys.TimelinesPrefix()
	it, err := r.NewIterWithContext(ctx, &pebble.IterOptions{
		LowerBound: appendUserKeyPrefix(nil, start),
		UpperBound: appendUserKeyPrefix(nil, keys.PrefixEnd(start)),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("pageserver: load timelines: %w", err)
	}
	defer it.Close()
	tl, deleted = timelineMap{}, map[uint64]uint64{}
	var (
		cur     []byte // prefix of the key being read
		delTS   uint64 // its newest version is a tombstone at delTS
		done    bool   // its record is decided
		userKey []byte
	)
	for valid := it.First(); valid; valid = it.Next() {
		prefix, ts, err := splitVersionedKey(it.Key())
		if err != nil {
			return nil, nil, err
		}
		if !bytes.Equal(prefix, cur) {
			cur, delTS, done = append(cur[:0], prefix...), 0, false
		}
		if done {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil || len(v) == 0 {
			return nil, nil, fmt.Errorf("pageserver: load timelines: bad value at %x: %v", it.Key(), err)
		}
		if v[0] == kindTombstone {
			// Deleted at ts; the put below it (if GC left it) is the
			// record. Two tombstones in a row never happen (the control
			// plane deletes live branches only): give up on the key.
			done, delTS = delTS != 0, ts
			continue
		}
		done = true
		if userKey, err = appendDecodedUserKey(userKey[:0], prefix); err != nil {
			return nil, nil, err
		}
		id, ok := keys.ParseTimelineKey(userKey)
		if !ok {
			continue
		}
		t, err := timeline.DecodeTimeline(id, v[1:])
		if err != nil {
			return nil, nil, fmt.Errorf("pageserver: load timelines: %w", err)
		}
		tl[id] = t
		if delTS != 0 {
			deleted[id] = delTS
		}
	}
	if err := it.Error(); err != nil {
		return nil, nil, fmt.Errorf("pageserver: load timelines: %w", err)
	}
	return tl, deleted, nil
}

// timelineMap returns the current timeline map (never mutated).
func (s *Server) timelineMap() timelineMap {
	s.tlMu.RLock()
	defer s.tlMu.RUnlock()
	return s.timelines
}

// applyTimelineChanges updates the timeline map after the entry committed
// at commitTS wrote timeline records: a put adds a timeline, a delete marks
// it deleted at commitTS but keeps resolving it, so time travel to before
// the deletion still reads the branch as it was; GC stops protecting its
// fork points once the deletion is below its horizon. A record that does
// not decode is logged and ignored: the log is the truth and cannot be
// refused; reads of that timeline then see only its own keys.
func (s *Server) applyTimelineChanges(changes []timelineChange, commitTS uint64) {
	s.tlMu.Lock()
	defer s.tlMu.Unlock()
	next := make(timelineMap, len(s.timelines)+len(changes))
	for id, t := range s.timelines {
		next[id] = t
	}
	deleted := make(map[uint64]uint64, len(s.tlDeleted))
	for id, ts := range s.tlDeleted {
		deleted[id] = ts
	}
	for _, c := range changes {
		if c.del {
			if _, ok := next[c.id]; ok {
				deleted[c.id] = commitTS
			}
			continue
		}
		t, err := timeline.DecodeTimeline(c.id, c.value)
		if err != nil {
			s.log.Error("ignoring a timeline record", "timeline", c.id, "err", err)
			delete(next, c.id)
			continue
		}
		next[c.id] = t
		delete(deleted, c.id)
	}
	s.timelines, s.tlDeleted = next, deleted
}

// gcTimelines returns the timelines whose fork points version GC must
// protect: every timeline except those deleted at or below horizon (no
// admissible read can reach them: compute resolves a branch only through
// its name record, deleted with it).
func (s *Server) gcTimelines(horizon uint64) timelineMap {
	s.tlMu.RLock()
	defer s.tlMu.RUnlock()
	out := make(timelineMap, len(s.timelines))
	for id, t := range s.timelines {
		if d, ok := s.tlDeleted[id]; !ok || d > horizon {
			out[id] = t
		}
	}
	return out
}

// timelineChange is one write of a timeline record.
type timelineChange struct {
	id    uint64
	del   bool
	value []byte
}

// rowIter yields, in key order, the visible live rows of a key range.
type rowIter interface {
	// next advances to the next row; false at the end.
	next() (bool, error)
	// key and value are the current row's; valid until next or close.
	key() []byte
	value() []byte
	close() error
}

// versionIter yields, per user key in [start, end), the newest version at
// or below readTS: puts only when putsOnly, otherwise tombstones too.
type versionIter struct {
	ctx      context.Context
	it       *pebble.Iterator
	readTS   uint64
	putsOnly bool

	valid   bool
	pending []byte // prefix of the current key: next seeks past it
	seek    []byte
	k       []byte
	v       []byte
	tomb    bool
	visited int
}

// nextBeforeSeek is how many older versions of a key versionIter steps
// over with Next before it seeks past the rest.
const nextBeforeSeek = 4

// sameUserKey reports whether the versioned Pebble key k belongs to the
// user key whose prefix (escaped key + terminator) is prefix.
func sameUserKey(k, prefix []byte) bool {
	return len(k) == len(prefix)+tsLen && bytes.HasPrefix(k, prefix)
}

// newVersionIter opens a versionIter on r over user keys [start, end); an
// empty end means no upper bound.
func newVersionIter(ctx context.Context, r pebble.Reader, start, end []byte, readTS uint64, putsOnly bool) (*versionIter, error) {
	opts := &pebble.IterOptions{LowerBound: appendUserKeyPrefix(nil, start)}
	if len(end) > 0 {
		opts.UpperBound = appendUserKeyPrefix(nil, end)
	}
	it, err := r.NewIterWithContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("pageserver: open iterator: %w", err)
	}
	return &versionIter{ctx: ctx, it: it, readTS: readTS, putsOnly: putsOnly, valid: it.First()}, nil
}

func (v *versionIter) key() []byte     { return v.k }
func (v *versionIter) value() []byte   { return v.v }
func (v *versionIter) tombstone() bool { return v.tomb }
func (v *versionIter) close() error    { return v.it.Close() }

func (v *versionIter) next() (bool, error) {
	it := v.it
	if v.pending != nil {
		// Skip the older versions of the key returned last: step with Next
		// (most keys have one version, and stepping is much cheaper than a
		// seek), and seek past them only when a few steps do not leave the
		// key.
		v.seek = append(v.seek[:0], v.pending...)
		v.pending = nil
		v.valid = it.Next()
		for steps := 0; v.valid && sameUserKey(it.Key(), v.seek); steps++ {
			if steps == nextBeforeSeek {
				v.seek = appendNextUserKeyPrefix(nil, v.seek)
				v.valid = it.SeekGE(v.seek)
				break
			}
			v.valid = it.Next()
		}
	}
	for v.valid {
		if v.visited++; v.visited%ctxCheckEvery == 0 {
			if err := v.ctx.Err(); err != nil {
				return false, err
			}
		}
		prefix, ts, err := splitVersionedKey(it.Key())
		if err != nil {
			return false, err
		}
		if ts > v.readTS {
			// Jump to the newest version of this key at or below readTS.
			v.seek = appendTS(append(v.seek[:0], prefix...), v.readTS)
			v.valid = it.SeekGE(v.seek)
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return false, fmt.Errorf("pageserver: read value: %w", err)
		}
		if len(val) == 0 {
			return false, fmt.Errorf("pageserver: empty value at %x", it.Key())
		}
		switch val[0] {
		case kindPut, kindTombstone:
		default:
			return false, fmt.Errorf("pageserver: unknown value kind %d at %x", val[0], it.Key())
		}
		v.pending = prefix
		if v.putsOnly && val[0] == kindTombstone {
			v.seek = appendNextUserKeyPrefix(v.seek[:0], prefix)
			v.pending = nil
			v.valid = it.SeekGE(v.seek)
			continue
		}
		if v.k, err = appendDecodedUserKey(v.k[:0], prefix); err != nil {
			return false, err
		}
		v.v, v.tomb = val[1:], val[0] == kindTombstone
		return true, nil
	}
	if err := it.Error(); err != nil {
		return false, fmt.Errorf("pageserver: iterate: %w", err)
	}
	return false, nil
}

// branchIter is the read of a branch: its own versions (tombstones
// included) shadow the rows of its parent's resolved read, whose keys are
// re-rooted from the parent's database prefix to the branch's.
type branchIter struct {
	own    *versionIter
	parent rowIter
	prefix []byte // keys.DatabasePrefix(branch id)

	ownOK, parOK   bool
	advOwn, advPar bool // consumed by the last row: advance first
	k, v           []byte
	kbuf           []byte // re-rooted parent keys (k may alias own's key)
}

func (b *branchIter) key() []byte   { return b.k }
func (b *branchIter) value() []byte { return b.v }

func (b *branchIter) close() error {
	return joinErr(b.own.close(), b.parent.close())
}

func (b *branchIter) next() (bool, error) {
	var err error
	for {
		if b.advOwn {
			if b.ownOK, err = b.own.next(); err != nil {
				return false, err
			}
			b.advOwn = false
		}
		if b.advPar {
			if b.parOK, err = b.parent.next(); err != nil {
				return false, err
			}
			b.advPar = false
		}
		if !b.ownOK && !b.parOK {
			return false, nil
		}
		c := 0
		switch {
		case !b.ownOK:
			c = 1
		case !b.parOK:
			c = -1
		default:
			c = bytes.Compare(b.own.key()[len(b.prefix):], b.parent.key()[len(b.prefix):])
		}
		if c > 0 {
			b.advPar = true
			b.kbuf = append(append(b.kbuf[:0], b.prefix...), b.parent.key()[len(b.prefix):]...)
			b.k = b.kbuf
			b.v = b.parent.value()
			return true, nil
		}
		b.advOwn, b.advPar = true, c == 0 // the branch's version shadows the parent's
		if b.own.tombstone() {
			continue
		}
		b.k, b.v = b.own.key(), b.own.value()
		return true, nil
	}
}

// resolvedIter opens the read of [start, end) at readTS. For a branch,
// start must lie inside the branch's prefix and end inside it or equal to
// its PrefixEnd (scanSegments cuts ranges so); other ranges read their own
// versions only.
func resolvedIter(ctx context.Context, r pebble.Reader, tl timelineMap, id uint64, branch bool,
	start, end []byte, readTS uint64, depth int) (rowIter, error) {
	if !branch {
		return newVersionIter(ctx, r, start, end, readTS, true)
	}
	if depth > maxTimelineDepth {
		return nil, fmt.Errorf("pageserver: timeline %d: parent chain longer than %d", id, maxTimelineDepth)
	}
	t := tl[id]
	own, err := newVersionIter(ctx, r, start, end, readTS, false)
	if err != nil {
		return nil, err
	}
	pp := keys.DatabasePrefix(t.Parent)
	_, isBranch := tl[t.Parent]
	pend := keys.PrefixEnd(pp)
	if !bytes.Equal(end, keys.PrefixEnd(keys.DatabasePrefix(id))) {
		pend = reroot(pp, end)
	}
	parent, err := resolvedIter(ctx, r, tl, t.Parent, isBranch, reroot(pp, start), pend, min(readTS, t.ForkTS), depth+1)
	if err != nil {
		_ = own.close()
		return nil, err
	}
	return &branchIter{own: own, parent: parent, prefix: keys.DatabasePrefix(id), advOwn: true, advPar: true}, nil
}

// reroot replaces the database prefix of k (which has one) with prefix.
func reroot(prefix, k []byte) []byte {
	_, rest, _ := keys.SplitDatabaseKey(k)
	return append(append(make([]byte, 0, len(prefix)+len(rest)), prefix...), rest...)
}

// segment is a piece of a scan range: inside one branch's prefix (branch
// set) or outside every branch.
type segment struct {
	start, end []byte // end nil: no upper bound
	id         uint64
	branch     bool
}

// scanSegments splits [start, end) at the prefixes of the branches in tl,
// so each branch's keys are read through resolvedIter.
func scanSegments(tl timelineMap, start, end []byte) []segment {
	ids := make([]uint64, 0, len(tl))
	for id := range tl {
		ids = append(ids, id)
	}
	slices.Sort(ids) // database prefixes sort like their ids
	var segs []segment
	cur := start
	for _, id := range ids {
		lo := keys.DatabasePrefix(id)
		hi := keys.PrefixEnd(lo)
		if len(end) > 0 && bytes.Compare(lo, end) >= 0 {
			break
		}
		if bytes.Compare(hi, cur) <= 0 {
			continue
		}
		if bytes.Compare(cur, lo) < 0 {
			segs = append(segs, segment{start: cur, end: lo})
			cur = lo
		}
		segEnd := hi
		if len(end) > 0 && bytes.Compare(end, hi) < 0 {
			segEnd = end
		}
		segs = append(segs, segment{start: cur, end: segEnd, id: id, branch: true})
		cur = segEnd
	}
	if len(end) == 0 || bytes.Compare(cur, end) < 0 {
		segs = append(segs, segment{start: cur, end: end})
	}
	return segs
}

// joinErr returns the first non-nil error.
func joinErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
