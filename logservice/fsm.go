package logservice

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/google/btree"
	"github.com/hashicorp/raft"
)

// Outcomes of a commit record, decided deterministically by the FSM.
var (
	// ErrConflict: a key of the write set was written by a commit with a
	// commit_ts above the transaction's start_ts (first committer wins).
	ErrConflict = errors.New("logservice: write conflict")
	// ErrTooOld: start_ts is below the resolver's horizon, so a conflicting
	// write may have been forgotten.
	ErrTooOld = errors.New("logservice: transaction too old")
	// ErrBadTimestamp: the record's timestamps violate monotonicity
	// (commit_ts not above the last commit, or start_ts not below commit_ts).
	ErrBadTimestamp = errors.New("logservice: bad commit timestamps")
	// ErrReadConflict: a key in one of the transaction's read ranges was
	// written by a commit with a commit_ts above its start_ts (SERIALIZABLE).
	ErrReadConflict = errors.New("logservice: serializable read conflict")
	// ErrBadReport: a consistent-point report without a node id, or for an
	// index not below its own log entry.
	ErrBadReport = errors.New("logservice: bad consistent-point report")
)

// applyResult is the FSM's answer to one Raft command, returned through the
// leader's ApplyFuture.Response.
type applyResult struct {
	index    uint64
	commitTS uint64
	// floor is, for a report, the truncation floor after applying it.
	floor uint64
	// err is nil for an applied commit or high-water mark, or wraps
	// ErrConflict, ErrReadConflict, ErrTooOld, ErrBadTimestamp or
	// ErrCorruptRecord.
	err error
}

// writeRef is one remembered write: key written at ts.
type writeRef struct {
	key string
	ts  uint64
}

// lessKey orders writes by key, the order of fsmState.lastWrite.
func lessKey(a, b writeRef) bool { return a.key < b.key }

// btreeDegree is the B-tree node degree of the resolver's key index.
const btreeDegree = 32

func newWriteTree() *btree.BTreeG[writeRef] { return btree.NewG(btreeDegree, lessKey) }

// fsmState is everything the FSM replicates; Snapshot/Restore carry all of it.
type fsmState struct {
	// lastWrite holds, ordered by key, the commit_ts of each key's newest
	// remembered write: point lookups for write-write conflicts, range scans
	// for read ranges, and a copy-on-write clone for snapshots.
	lastWrite *btree.BTreeG[writeRef]
	// queue holds writes in commit_ts order (log order); entries whose key
	// was rewritten later are stale and skipped. It drives pruning, and its
	// tail (ts > start_ts) lists every key written after a snapshot.
	queue []writeRef
	// horizon: every forgotten write has commit_ts <= horizon, so a commit
	// with start_ts < horizon cannot be resolved and aborts as too old.
	horizon uint64
	// lastCommitTS and lastCommitIndex describe the newest applied successful
	// commit record.
	lastCommitTS    uint64
	lastCommitIndex uint64
	// lastProcessedTS is the commit_ts of the newest applied commit record,
	// committed or aborted.
	lastProcessedTS uint64
	// hwm is the newest persisted timestamp high-water mark.
	hwm uint64
	// appliedIndex is the index of the newest Raft entry the FSM saw.
	appliedIndex uint64
	// aborted lists, ascending, the indexes above floor of aborted commit
	// records, so ReadLog can skip them (8 bytes per aborted commit).
	aborted []uint64
	// reports maps a page server's node id to its newest consistent point.
	reports map[string]consistentReport
	// floor is the minimum reported index over reports (0 if none): entries
	// at or below it are in every reporting page server's object store, so
	// they may be dropped from the log.
	floor uint64
	// memberAddrs maps a member's Raft server id to its gRPC address, as
	// recorded by the admin that added it.
	memberAddrs map[string]string
}

// fsm is the replicated state machine: the conflict resolver plus the
// counters the read rule needs. Apply is deterministic: it reads only the
// entries, never the clock or local configuration other than maxKeys, which
// must be equal on every replica of a group.
type fsm struct {
	maxKeys int
	// observe, if set, is told each batch's duration (metrics only; it
	// never affects the state).
	observe func(time.Duration)

	mu      sync.Mutex
	st      fsmState
	changed chan struct{} // closed and replaced after every applied batch
}

var _ raft.BatchingFSM = (*fsm)(nil)

func newFSM(maxKeys int) *fsm {
	return &fsm{
		maxKeys: maxKeys,
		st:      fsmState{lastWrite: newWriteTree(), reports: map[string]consistentReport{}, memberAddrs: map[string]string{}},
		changed: make(chan struct{}),
	}
}

// fsmView is a consistent copy of the FSM's counters.
type fsmView struct {
	lastCommitTS    uint64
	lastCommitIndex uint64
	lastProcessedTS uint64
	hwm             uint64
	appliedIndex    uint64
	horizon         uint64
	keys            int
	floor           uint64
}

// view returns the counters and a channel closed at the next change.
func (f *fsm) view() (fsmView, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fsmView{
		lastCommitTS:    f.st.lastCommitTS,
		lastCommitIndex: f.st.lastCommitIndex,
		lastProcessedTS: f.st.lastProcessedTS,
		hwm:             f.st.hwm,
		appliedIndex:    f.st.appliedIndex,
		horizon:         f.st.horizon,
		keys:            f.st.lastWrite.Len(),
		floor:           f.st.floor,
	}, f.changed
}

// memberAddr returns the recorded gRPC address of member id.
func (f *fsm) memberAddr(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.memberAddrs[id]
}

// isAborted reports whether the commit record at index was aborted.
func (f *fsm) isAborted(index uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, found := slices.BinarySearch(f.st.aborted, index)
	return found
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch implements raft.BatchingFSM.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	if f.observe != nil {
		defer func(start time.Time) { f.observe(time.Since(start)) }(time.Now())
	}
	out := make([]any, len(logs))
	f.mu.Lock()
	for i, l := range logs {
		if l.Index > f.st.appliedIndex {
			f.st.appliedIndex = l.Index
		}
		if l.Type != raft.LogCommand {
			continue
		}
		out[i] = f.applyLocked(l.Index, l.Data)
	}
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	return out
}

func (f *fsm) applyLocked(index uint64, data []byte) *applyResult {
	rec, err := decodeRecord(data)
	if err != nil {
		return &applyResult{index: index, err: fmt.Errorf("entry %d: %w", index, err)}
	}
	switch rec.kind {
	case kindHWM:
		f.st.hwm = max(f.st.hwm, rec.hwm)
		return &applyResult{index: index}
	case kindReport:
		return f.applyReportLocked(index, rec.report)
	case kindMemberAddr:
		if rec.memberAddr == "" {
			delete(f.st.memberAddrs, rec.memberID)
		} else {
			f.st.memberAddrs[rec.memberID] = rec.memberAddr
		}
		return &applyResult{index: index}
	case kindCommit, kindCommitReads:
		res := &applyResult{index: index, commitTS: rec.commitTS}
		f.st.lastProcessedTS = max(f.st.lastProcessedTS, rec.commitTS)
		if res.err = f.resolveLocked(rec); res.err != nil {
			f.st.aborted = append(f.st.aborted, index)
			return res
		}
		for _, m := range rec.mutations {
			k := string(m.GetKey())
			f.st.lastWrite.ReplaceOrInsert(writeRef{key: k, ts: rec.commitTS})
			f.st.queue = append(f.st.queue, writeRef{key: k, ts: rec.commitTS})
		}
		f.st.lastCommitTS = rec.commitTS
		f.st.lastCommitIndex = index
		f.pruneLocked()
		return res
	}
	return &applyResult{index: index, err: fmt.Errorf("entry %d: %w: kind %d", index, ErrCorruptRecord, rec.kind)}
}

// applyReportLocked records a page server's consistent point (a lower index
// than its last report is ignored) and raises the truncation floor.
func (f *fsm) applyReportLocked(index uint64, r consistentReport) *applyResult {
	if r.nodeID == "" || r.index >= index {
		return &applyResult{index: index, floor: f.st.floor, err: fmt.Errorf("%w: node %q index %d in entry %d", ErrBadReport, r.nodeID, r.index, index)}
	}
	if old, ok := f.st.reports[r.nodeID]; !ok || r.index > old.index {
		f.st.reports[r.nodeID] = r
	}
	floor := uint64(0)
	first := true
	for _, rep := range f.st.reports {
		if first || rep.index < floor {
			floor, first = rep.index, false
		}
	}
	// The floor never moves down: a new page server reporting a lower index
	// cannot bring back entries that may already be gone.
	f.st.floor = max(f.st.floor, floor)
	i, _ := slices.BinarySearch(f.st.aborted, f.st.floor+1)
	f.st.aborted = slices.Delete(f.st.aborted, 0, i)
	return &applyResult{index: index, floor: f.st.floor}
}

// resolveLocked decides whether a commit record may be applied.
func (f *fsm) resolveLocked(rec record) error {
	switch {
	case rec.commitTS <= f.st.lastCommitTS:
		return fmt.Errorf("%w: commit_ts %d not above last commit_ts %d", ErrBadTimestamp, rec.commitTS, f.st.lastCommitTS)
	case rec.startTS >= rec.commitTS:
		return fmt.Errorf("%w: start_ts %d not below commit_ts %d", ErrBadTimestamp, rec.startTS, rec.commitTS)
	case rec.startTS < f.st.horizon:
		return fmt.Errorf("%w: start_ts %d below resolver horizon %d", ErrTooOld, rec.startTS, f.st.horizon)
	}
	for _, m := range rec.mutations {
		if ts, ok := f.st.lastTS(string(m.GetKey())); ok && ts > rec.startTS {
			return fmt.Errorf("%w: key %q written at %d after start_ts %d", ErrConflict, m.GetKey(), ts, rec.startTS)
		}
	}
	if len(rec.reads) > 0 {
		if key, ts, found := f.st.readConflict(rec.startTS, normalizeRanges(rec.reads)); found {
			return fmt.Errorf("%w: key %q in a read range written at %d after start_ts %d", ErrReadConflict, key, ts, rec.startTS)
		}
	}
	return nil
}

// lastTS returns the commit_ts of key's newest remembered write.
func (s *fsmState) lastTS(key string) (uint64, bool) {
	w, ok := s.lastWrite.Get(writeRef{key: key})
	return w.ts, ok
}

// live reports whether w is still the newest write of its key.
func (s *fsmState) live(w writeRef) bool {
	ts, ok := s.lastTS(w.key)
	return ok && ts == w.ts
}

// pruneLocked forgets the oldest writes, a whole commit_ts at a time, until
// at most maxKeys keys remain, raising the horizon to the forgotten ts. It
// looks only at live writes, whose set is identical on every replica (a
// restored replica has no stale queue entries), so it is deterministic.
func (f *fsm) pruneLocked() {
	s := &f.st
	for s.lastWrite.Len() > f.maxKeys && len(s.queue) > 0 {
		for len(s.queue) > 0 && !s.live(s.queue[0]) {
			s.queue = s.queue[1:]
		}
		if len(s.queue) == 0 {
			break
		}
		ts := s.queue[0].ts
		for len(s.queue) > 0 && s.queue[0].ts == ts {
			if s.live(s.queue[0]) {
				s.lastWrite.Delete(s.queue[0])
			}
			s.queue = s.queue[1:]
		}
		s.horizon = max(s.horizon, ts)
	}
	// Drop stale entries once they dominate, so rewriting hot keys does not
	// grow the queue without bound.
	if len(s.queue) > 2*s.lastWrite.Len()+1024 {
		s.queue = s.liveWrites()
	}
}

// liveWrites returns the live writes in queue order, each key once.
func (s *fsmState) liveWrites() []writeRef {
	out := make([]writeRef, 0, s.lastWrite.Len())
	seen := make(map[string]struct{}, s.lastWrite.Len())
	for _, w := range s.queue {
		if _, dup := seen[w.key]; dup || !s.live(w) {
			continue
		}
		seen[w.key] = struct{}{}
		out = append(out, w)
	}
	return out
}

// Snapshot implements raft.FSM. Under the lock it takes a copy-on-write
// clone of the key index (O(1)) and copies the small slices; encoding
// happens in Persist, concurrently with Apply.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	st.lastWrite = f.st.lastWrite.Clone()
	st.queue = nil
	st.aborted = slices.Clone(f.st.aborted)
	st.reports = maps.Clone(f.st.reports)
	st.memberAddrs = maps.Clone(f.st.memberAddrs)
	return &fsmSnapshot{st: st}, nil
}

// Restore implements raft.FSM: it replaces the whole state.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer func() { _ = rc.Close() }()
	st, err := decodeSnapshot(bufio.NewReader(rc))
	if err != nil {
		return fmt.Errorf("logservice: restore snapshot: %w", err)
	}
	f.mu.Lock()
	f.st = st
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	return nil
}

// fsmSnapshot is a point-in-time copy of the FSM state; lastWrite is a
// private clone and queue is unused.
type fsmSnapshot struct{ st fsmState }

// Persist implements raft.FSMSnapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriter(sink)
	if err := encodeSnapshot(w, &s.st); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("logservice: persist snapshot: %w", err)
	}
	if err := w.Flush(); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("logservice: persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() {}
