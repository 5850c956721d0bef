package logservice

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
)

func mut(key, val string) []*wirepb.Mutation {
	return []*wirepb.Mutation{{Key: []byte(key), Value: []byte(val)}}
}

// checkLog asserts that entries are exactly the acked commits, in order.
func checkLog(t *testing.T, entries []*wirepb.LogEntry, want []acked) {
	t.Helper()
	if len(entries) != len(want) {
		t.Fatalf("log has %d entries, want %d", len(entries), len(want))
	}
	for i, e := range entries {
		w := want[i]
		if e.GetIndex() != w.index || e.GetCommitTs() != w.commitTS || len(e.GetMutations()) != 1 || string(e.GetMutations()[0].GetKey()) != w.key {
			t.Fatalf("entry %d = {index %d ts %d muts %v}, want %+v", i, e.GetIndex(), e.GetCommitTs(), e.GetMutations(), w)
		}
	}
}

func TestSingleNode(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig("n1", dir)
	cfg.Bootstrap = true
	n := startNode(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.addr)
	ctx := ctxT(t, 30*time.Second)

	var acks []acked
	commit := func(start uint64, key string) acked {
		t.Helper()
		ts, idx, err := c.Commit(ctx, start, mut(key, "v@"+key), nil)
		if err != nil {
			t.Fatalf("commit %s: %v", key, err)
		}
		if len(acks) > 0 && (ts <= acks[len(acks)-1].commitTS || idx <= acks[len(acks)-1].index) {
			t.Fatalf("commit %s: ts %d idx %d not above previous %+v", key, ts, idx, acks[len(acks)-1])
		}
		if ts <= start {
			t.Fatalf("commit_ts %d not above start_ts %d", ts, start)
		}
		a := acked{key: key, commitTS: ts, index: idx}
		acks = append(acks, a)
		return a
	}
	for i := range 5 {
		start, _, err := c.GetTimestamp(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		commit(start, fmt.Sprintf("k%d", i))
	}

	// Conflict: old snapshot, key rewritten since.
	oldStart, _, err := c.GetTimestamp(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	newStart, _, _ := c.GetTimestamp(ctx, 1)
	commit(newStart, "k0")
	if _, _, err := c.Commit(ctx, oldStart, mut("k0", "lost"), nil); !errors.Is(err, logclient.ErrConflict) {
		t.Fatalf("conflicting commit: got %v, want ErrConflict", err)
	}
	// A start_ts the oracle never issued is rejected.
	if _, _, err := c.Commit(ctx, 1<<62, mut("x", "y"), nil); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("future start_ts: got %v", err)
	}

	// ReadLog returns exactly the acked commits, then follows new ones.
	checkLog(t, readN(t, c, 1, len(acks)), acks)
	caughtUp := make(chan struct{})
	var followed []*wirepb.LogEntry
	errDone := errors.New("done")
	readErr := make(chan error, 1)
	have := len(acks)
	go func() {
		readErr <- c.ReadLog(ctx, 1, func(e *wirepb.LogEntry) error {
			followed = append(followed, e)
			if len(followed) == have {
				close(caughtUp)
			}
			if len(followed) == have+1 {
				return errDone
			}
			return nil
		})
	}()
	<-caughtUp
	start, _, _ := c.GetTimestamp(ctx, 1)
	commit(start, "late")
	if err := <-readErr; !errors.Is(err, errDone) {
		t.Fatalf("follow: %v", err)
	}
	checkLog(t, followed, acks)

	// The read rule: a timestamp is above every acked commit and its
	// commit_index covers them.
	ts, cidx, err := c.GetTimestamp(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	last := acks[len(acks)-1]
	if ts <= last.commitTS || cidx < last.index {
		t.Fatalf("GetTimestamp = (%d, %d), last ack %+v", ts, cidx, last)
	}
	maxIssued := ts + 2

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.GetNodeId() != "n1" || st.GetState() != "Leader" || st.GetLastCommitTs() != last.commitTS || st.GetCommitIndex() != last.index || st.GetLeaderAddress() != n.addr {
		t.Fatalf("status %v, last ack %+v", st, last)
	}

	// Restart on the same directory, once plainly and once from a snapshot
	// with the clock an hour behind: state survives, time never goes back.
	for round, snapshot := range []bool{false, true} {
		if snapshot {
			if err := n.svc.raft.Snapshot().Error(); err != nil {
				t.Fatalf("snapshot: %v", err)
			}
		}
		n.stop()
		cfg.RaftAddr = n.svc.RaftAddr()
		if snapshot {
			cfg.Now = func() time.Time { return time.Now().Add(-time.Hour) }
		}
		n = startNode(t, cfg)
		waitLeader(t, n)
		c = dial(t, n.addr)

		checkLog(t, readN(t, c, 1, len(acks)), acks)
		ts, cidx, err := c.GetTimestamp(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if ts <= maxIssued || cidx < acks[len(acks)-1].index {
			t.Fatalf("round %d: after restart GetTimestamp = (%d, %d), issued before up to %d", round, ts, cidx, maxIssued)
		}
		maxIssued = ts
		// The resolver remembers writes from before the restart.
		if _, _, err := c.Commit(ctx, oldStart, mut("k0", "stale"), nil); !errors.Is(err, logclient.ErrConflict) {
			t.Fatalf("round %d: stale commit after restart: got %v", round, err)
		}
		a := commit(ts, fmt.Sprintf("after-restart-%d", round))
		maxIssued = max(maxIssued, a.commitTS)
	}

	// A position the log no longer holds answers OutOfRange.
	if err := n.svc.wal.DeleteRange(1, 3); err != nil {
		t.Fatal(err)
	}
	err = c.ReadLog(ctx, 1, func(*wirepb.LogEntry) error { return nil })
	if status.Code(err) != codes.OutOfRange {
		t.Fatalf("read below first index: got %v", err)
	}
}

// countHWM counts high-water mark records in the node's log.
func countHWM(t *testing.T, s *Service) int {
	t.Helper()
	first, _ := s.wal.FirstIndex()
	last, _ := s.wal.LastIndex()
	n := 0
	for i := first; i <= last && i > 0; i++ {
		var l raft.Log
		if err := s.wal.GetLog(i, &l); err != nil {
			t.Fatal(err)
		}
		if l.Type != raft.LogCommand {
			continue
		}
		if rec, err := decodeRecord(l.Data); err == nil && rec.kind == kindHWM {
			n++
		}
	}
	return n
}

func TestTSOHighWaterMarkBatching(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	cfg := testConfig("n1", t.TempDir())
	cfg.Bootstrap = true
	cfg.Now = func() time.Time { return time.UnixMilli(clock.Load()) }
	cfg.TSOWindow = 3 * time.Second
	n := startNode(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.addr)
	ctx := ctxT(t, 20*time.Second)

	var prev uint64
	step := func(count int) {
		for range count {
			ts, _, err := c.GetTimestamp(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			cts, _, err := c.Commit(ctx, ts, mut("k", "v"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if ts <= prev || cts <= ts {
				t.Fatalf("timestamps not increasing: prev %d ts %d commit %d", prev, ts, cts)
			}
			prev = cts
		}
	}
	step(50)
	if got := countHWM(t, n.svc); got != 1 {
		t.Fatalf("with a frozen clock, 100 timestamps wrote %d high-water marks, want 1", got)
	}
	// Past the window, the next allocation persists one more mark.
	clock.Add((2 * cfg.TSOWindow).Milliseconds())
	step(20)
	if got := countHWM(t, n.svc); got != 2 {
		t.Fatalf("after the clock passed the window: %d high-water marks, want 2", got)
	}
	if PhysicalTime(prev).UnixMilli() != clock.Load() {
		t.Fatalf("timestamps follow the clock: physical %d, clock %d", PhysicalTime(prev).UnixMilli(), clock.Load())
	}
}
