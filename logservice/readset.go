package logservice

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// keyRange is a read range [start, end) with end "" meaning unbounded.
type keyRange struct {
	start, end string
}

// contains reports whether key is in r.
func (r keyRange) contains(key string) bool {
	return key >= r.start && (r.end == "" || key < r.end)
}

// validateRanges rejects ranges whose bounded end is not above their start:
// a client that sends one has a bug.
func validateRanges(reads []*wirepb.KeyRange) error {
	for i, r := range reads {
		if len(r.GetEnd()) > 0 && bytes.Compare(r.GetEnd(), r.GetStart()) <= 0 {
			return fmt.Errorf("%w: read range %d [%q, %q) is empty", errInvalid, i, r.GetStart(), r.GetEnd())
		}
	}
	return nil
}

// normalizeRanges returns the non-empty ranges sorted by start with
// overlapping and adjacent ones merged, so they are disjoint and ascending.
func normalizeRanges(reads []*wirepb.KeyRange) []keyRange {
	rs := make([]keyRange, 0, len(reads))
	for _, r := range reads {
		kr := keyRange{start: string(r.GetStart()), end: string(r.GetEnd())}
		if kr.end != "" && kr.end <= kr.start {
			continue // empty; the leader rejects these, the FSM ignores them
		}
		rs = append(rs, kr)
	}
	slices.SortFunc(rs, func(a, b keyRange) int { return strings.Compare(a.start, b.start) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && (out[n-1].end == "" || r.start <= out[n-1].end) {
			if out[n-1].end != "" && (r.end == "" || r.end > out[n-1].end) {
				out[n-1].end = r.end
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// readConflict finds the smallest key in the disjoint, ascending ranges rs
// whose newest write has a commit_ts above startTS. The caller checked
// startTS >= horizon, so every write above startTS is remembered.
//
// Two plans find the same answer: scan the key index over the ranges, or
// walk the queue tail (the writes with ts > startTS, in commit order) and
// look each key up in rs. The index scan runs first with a budget of the
// tail length and the tail walk takes over when the budget is spent, so the
// cost is O(min(keys in ranges, writes since startTS)) up to a factor of two
// and a log. The answer does not depend on the plan, so replicas whose
// queues differ in stale entries (a restored one has none) still agree.
func (s *fsmState) readConflict(startTS uint64, rs []keyRange) (key string, ts uint64, found bool) {
	if len(rs) == 0 {
		return "", 0, false
	}
	first := sort.Search(len(s.queue), func(i int) bool { return s.queue[i].ts > startTS })
	tail := s.queue[first:]
	if len(tail) == 0 {
		return "", 0, false
	}
	key, ts, found, complete := s.indexConflict(startTS, rs, len(tail))
	if complete {
		return key, ts, found
	}
	return s.tailConflict(tail, rs)
}

// indexConflict scans the key index over rs for the first key written after
// startTS, visiting at most budget keys without finding one (budget <= 0:
// unlimited); complete is false when the budget ran out.
func (s *fsmState) indexConflict(startTS uint64, rs []keyRange, budget int) (key string, ts uint64, found, complete bool) {
	exhausted := false
	for _, r := range rs {
		s.lastWrite.AscendGreaterOrEqual(writeRef{key: r.start}, func(w writeRef) bool {
			if r.end != "" && w.key >= r.end {
				return false
			}
			if w.ts > startTS {
				key, ts, found = w.key, w.ts, true
				return false
			}
			budget--
			if budget == 0 {
				exhausted = true
				return false
			}
			return true
		})
		if found {
			return key, ts, true, true
		}
		if exhausted {
			return "", 0, false, false
		}
	}
	return "", 0, false, true
}

// tailConflict walks tail, the queue entries with ts above the snapshot, for
// the smallest key in rs. A key may appear more than once (stale entries);
// its newest write, in the index, is the reported ts.
func (s *fsmState) tailConflict(tail []writeRef, rs []keyRange) (key string, ts uint64, found bool) {
	for _, w := range tail {
		if (found && w.key >= key) || !inRanges(rs, w.key) {
			continue
		}
		key, found = w.key, true
	}
	if found {
		ts, _ = s.lastTS(key)
	}
	return key, ts, found
}

// inRanges reports whether key falls in one of the disjoint, ascending rs.
func inRanges(rs []keyRange, key string) bool {
	// The last range starting at or below key is the only candidate.
	i := sort.Search(len(rs), func(i int) bool { return rs[i].start > key })
	return i > 0 && rs[i-1].contains(key)
}
