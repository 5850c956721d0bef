package pageserver

import (
	"bytes"
	"context"
	"math"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// Table versions. A compute node caches the decoded rows of a table and
// asks, before trusting its copy, whether the table changed since; the
// page server answers from lastWrites, which the apply loop keeps:
//
//   - per (database or timeline id, table id), the newest commit ts of an
//     applied write of one of the table's row keys;
//   - per timeline, the newest commit ts of a write of its record (a new
//     or reset branch changes what its keys resolve to without writing
//     them);
//   - floor, the applied ts at open: the history before it is unknown, so
//     every table counts as written then.
//
// A branch's table resolves through its parents below the fork ts
// (timelines.go), so its answer is the max over the chain, each parent's
// bounded by the fork ts of its child. The answers are upper bounds of the
// newest write: conservative, never below it.

// tableID names one table of one database or branch timeline.
type tableID struct{ db, table uint64 }

// lastWrites is the newest applied write per table and per timeline
// record. Guarded by mu; floor is fixed at open.
type lastWrites struct {
	mu       sync.RWMutex
	floor    uint64
	tables   map[tableID]uint64
	timeline map[uint64]uint64
}

func newLastWrites(floor uint64) *lastWrites {
	return &lastWrites{floor: floor, tables: map[tableID]uint64{}, timeline: map[uint64]uint64{}}
}

// observe records the writes of one applied LogEntry committed at ts.
func (w *lastWrites) observe(muts []*wirepb.Mutation, ts uint64) {
	var last tableID
	have := false
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range muts {
		k := m.GetKey()
		if db, table, ok := keys.ParseTableKey(k); ok {
			id := tableID{db, table}
			if have && id == last {
				continue // a LogEntry writes runs of one table's rows
			}
			last, have = id, true
			if w.tables[id] < ts {
				w.tables[id] = ts
			}
			continue
		}
		if id, ok := keys.ParseTimelineKey(k); ok && w.timeline[id] < ts {
			w.timeline[id] = ts
		}
	}
}

// version answers the newest commit ts (an upper bound of it) that
// changed what a read of table id of database or timeline db sees, given
// the branch timelines tl. math.MaxUint64 when the parent chain is longer
// than maxTimelineDepth.
func (w *lastWrites) version(tl timelineMap, db, table uint64) uint64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.versionLocked(tl, db, table, 0)
}

func (w *lastWrites) versionLocked(tl timelineMap, db, table uint64, depth int) uint64 {
	v := max(w.floor, w.tables[tableID{db, table}], w.timeline[db])
	t, branch := tl[db]
	if !branch {
		return v
	}
	if depth >= maxTimelineDepth {
		return math.MaxUint64
	}
	// The branch reads its parent at min(read_ts, fork ts): the parent's
	// writes after the fork are invisible to it.
	return max(v, min(w.versionLocked(tl, t.Parent, table, depth+1), t.ForkTS))
}

// TableVersion implements wirepb.PageServerServer (see the RPC's comment in
// phantom.proto): it waits for min_index like Scan, then answers the newest
// write to the table of [start, end) as lastWrites knows it. A range that
// is not inside one table's row keys answers math.MaxUint64 ("do not
// trust").
func (s *Server) TableVersion(ctx context.Context, req *wirepb.TableVersionRequest) (*wirepb.TableVersionResponse, error) {
	start := time.Now()
	defer func() { s.metrics.tableVersionDuration.Observe(time.Since(start).Seconds()) }()
	if err := s.checkRetention(req.GetReadTs()); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	if err := s.waitForRead(ctx, req.GetMinIndex()); err != nil {
		return nil, err
	}
	db, table, ok := tableRange(req.GetStart(), req.GetEnd())
	if !ok {
		return &wirepb.TableVersionResponse{LastWriteTs: math.MaxUint64}, nil
	}
	return &wirepb.TableVersionResponse{LastWriteTs: s.writes.version(s.timelineMap(), db, table)}, nil
}

// tableRange returns the table whose row keys hold all of [start, end), if
// one does.
func tableRange(start, end []byte) (db, table uint64, ok bool) {
	db, table, ok = keys.ParseTableKey(start)
	if !ok || len(end) == 0 || bytes.Compare(start, end) >= 0 ||
		bytes.Compare(end, keys.PrefixEnd(keys.TablePrefix(db, table))) > 0 {
		return 0, 0, false
	}
	return db, table, true
}
