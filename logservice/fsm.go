package logservice

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

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
)

// applyResult is the FSM's answer to one Raft command, returned through the
// leader's ApplyFuture.Response.
type applyResult struct {
	index    uint64
	commitTS uint64
	// err is nil for an applied commit or high-water mark, or wraps
	// ErrConflict, ErrTooOld, ErrBadTimestamp or ErrCorruptRecord.
	err error
}

// writeRef is one remembered write: key written at ts.
type writeRef struct {
	key string
	ts  uint64
}

// fsmState is everything the FSM replicates; Snapshot/Restore carry all of it.
type fsmState struct {
	// lastWrite maps key -> commit_ts of its newest remembered write.
	lastWrite map[string]uint64
	// queue holds writes in commit_ts order (log order); entries whose key
	// was rewritten later are stale and skipped. It drives pruning.
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
	// aborted lists, ascending, the indexes of aborted commit records, so
	// ReadLog can skip them (8 bytes per aborted commit; pruned once log
	// truncation exists).
	aborted []uint64
}

// fsm is the replicated state machine: the conflict resolver plus the
// counters the read rule needs. Apply is deterministic: it reads only the
// entries, never the clock or local configuration other than maxKeys, which
// must be equal on every replica of a group.
type fsm struct {
	maxKeys int

	mu      sync.Mutex
	st      fsmState
	changed chan struct{} // closed and replaced after every applied batch
}

var _ raft.BatchingFSM = (*fsm)(nil)

func newFSM(maxKeys int) *fsm {
	return &fsm{
		maxKeys: maxKeys,
		st:      fsmState{lastWrite: make(map[string]uint64)},
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
		keys:            len(f.st.lastWrite),
	}, f.changed
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
	case kindCommit:
		res := &applyResult{index: index, commitTS: rec.commitTS}
		f.st.lastProcessedTS = max(f.st.lastProcessedTS, rec.commitTS)
		if res.err = f.resolveLocked(rec); res.err != nil {
			f.st.aborted = append(f.st.aborted, index)
			return res
		}
		for _, m := range rec.mutations {
			k := string(m.GetKey())
			f.st.lastWrite[k] = rec.commitTS
			f.st.queue = append(f.st.queue, writeRef{key: k, ts: rec.commitTS})
		}
		f.st.lastCommitTS = rec.commitTS
		f.st.lastCommitIndex = index
		f.pruneLocked()
		return res
	}
	return &applyResult{index: index, err: fmt.Errorf("entry %d: %w: kind %d", index, ErrCorruptRecord, rec.kind)}
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
		if ts, ok := f.st.lastWrite[string(m.GetKey())]; ok && ts > rec.startTS {
			return fmt.Errorf("%w: key %q written at %d after start_ts %d", ErrConflict, m.GetKey(), ts, rec.startTS)
		}
	}
	return nil
}

// live reports whether w is still the newest write of its key.
func (s *fsmState) live(w writeRef) bool {
	ts, ok := s.lastWrite[w.key]
	return ok && ts == w.ts
}

// pruneLocked forgets the oldest writes, a whole commit_ts at a time, until
// at most maxKeys keys remain, raising the horizon to the forgotten ts. It
// looks only at live writes, whose set is identical on every replica (a
// restored replica has no stale queue entries), so it is deterministic.
func (f *fsm) pruneLocked() {
	s := &f.st
	for len(s.lastWrite) > f.maxKeys && len(s.queue) > 0 {
		for len(s.queue) > 0 && !s.live(s.queue[0]) {
			s.queue = s.queue[1:]
		}
		if len(s.queue) == 0 {
			break
		}
		ts := s.queue[0].ts
		for len(s.queue) > 0 && s.queue[0].ts == ts {
			if s.live(s.queue[0]) {
				delete(s.lastWrite, s.queue[0].key)
			}
			s.queue = s.queue[1:]
		}
		s.horizon = max(s.horizon, ts)
	}
	// Drop stale entries once they dominate, so rewriting hot keys does not
	// grow the queue without bound.
	if len(s.queue) > 2*len(s.lastWrite)+1024 {
		s.queue = s.liveWrites()
	}
}

// liveWrites returns the live writes in queue order, each key once.
func (s *fsmState) liveWrites() []writeRef {
	out := make([]writeRef, 0, len(s.lastWrite))
	seen := make(map[string]struct{}, len(s.lastWrite))
	for _, w := range s.queue {
		if _, dup := seen[w.key]; dup || !s.live(w) {
			continue
		}
		seen[w.key] = struct{}{}
		out = append(out, w)
	}
	return out
}

// Snapshot implements raft.FSM. It copies the live writes (O(keys)) under the
// lock; encoding happens in Persist, concurrently with Apply.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	st.queue = f.st.liveWrites()
	st.lastWrite = nil
	st.aborted = slices.Clone(f.st.aborted)
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

// fsmSnapshot is a point-in-time copy of the FSM state; queue holds only live
// writes and lastWrite is unused.
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

const snapshotMagic = "PHLS\x01"

// encodeSnapshot writes st with its live writes sorted by (ts, key), so equal
// states encode to equal bytes.
func encodeSnapshot(w io.Writer, st *fsmState) error {
	writes := slices.Clone(st.queue)
	sort.Slice(writes, func(i, j int) bool {
		if c := cmp.Compare(writes[i].ts, writes[j].ts); c != 0 {
			return c < 0
		}
		return writes[i].key < writes[j].key
	})
	b := []byte(snapshotMagic)
	for _, v := range []uint64{st.horizon, st.lastCommitTS, st.lastCommitIndex, st.lastProcessedTS, st.hwm, st.appliedIndex, uint64(len(st.aborted)), uint64(len(writes))} {
		b = binary.AppendUvarint(b, v)
	}
	for _, idx := range st.aborted {
		b = binary.AppendUvarint(b, idx)
	}
	for _, wr := range writes {
		b = binary.AppendUvarint(b, wr.ts)
		b = binary.AppendUvarint(b, uint64(len(wr.key)))
		b = append(b, wr.key...)
		if len(b) > 1<<20 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	_, err := w.Write(b)
	return err
}

// decodeSnapshot reads what encodeSnapshot wrote.
func decodeSnapshot(r *bufio.Reader) (fsmState, error) {
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != snapshotMagic {
		return fsmState{}, fmt.Errorf("bad snapshot header: %v", err)
	}
	var hdr [8]uint64
	for i := range hdr {
		v, err := binary.ReadUvarint(r)
		if err != nil {
			return fsmState{}, fmt.Errorf("snapshot header: %w", err)
		}
		hdr[i] = v
	}
	st := fsmState{
		horizon: hdr[0], lastCommitTS: hdr[1], lastCommitIndex: hdr[2],
		lastProcessedTS: hdr[3], hwm: hdr[4], appliedIndex: hdr[5],
	}
	nAborted, nWrites := hdr[6], hdr[7]
	st.aborted = make([]uint64, 0, min(nAborted, 1<<16))
	for range nAborted {
		v, err := binary.ReadUvarint(r)
		if err != nil {
			return fsmState{}, fmt.Errorf("snapshot aborted list: %w", err)
		}
		st.aborted = append(st.aborted, v)
	}
	st.lastWrite = make(map[string]uint64, min(nWrites, 1<<16))
	st.queue = make([]writeRef, 0, min(nWrites, 1<<16))
	for range nWrites {
		ts, err := binary.ReadUvarint(r)
		if err != nil {
			return fsmState{}, fmt.Errorf("snapshot writes: %w", err)
		}
		n, err := binary.ReadUvarint(r)
		if err != nil || n > 1<<26 {
			return fsmState{}, fmt.Errorf("snapshot key length %d: %v", n, err)
		}
		key, err := io.ReadAll(io.LimitReader(r, int64(n)))
		if err != nil || uint64(len(key)) != n {
			return fsmState{}, fmt.Errorf("snapshot key: short read (%d of %d): %v", len(key), n, err)
		}
		st.lastWrite[string(key)] = ts
		st.queue = append(st.queue, writeRef{key: string(key), ts: ts})
	}
	return st, nil
}
