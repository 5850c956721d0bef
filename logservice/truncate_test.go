package logservice

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
)

// commitN commits n keys with fresh timestamps and returns the acks.
func commitN(t *testing.T, c *logclient.Client, prefix string, n int) []acked {
	t.Helper()
	var acks []acked
	for i := range n {
		acks = append(acks, commitKey(t, c, fmt.Sprintf("%s-%d", prefix, i), map[string]bool{}))
	}
	return acks
}

// expectFirst asserts that ReadLog serves from index first on and answers
// OutOfRange just below it.
func expectFirst(t *testing.T, c *logclient.Client, first uint64, lastAck acked) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	err := c.ReadLog(ctx, first-1, func(*wirepb.LogEntry) error { return nil })
	if status.Code(err) != codes.OutOfRange {
		t.Fatalf("read from %d: got %v, want OutOfRange", first-1, err)
	}
	got := readN(t, c, first, 1)
	if got[0].GetIndex() < first || got[0].GetIndex() > lastAck.index {
		t.Fatalf("read from %d: first entry %d", first, got[0].GetIndex())
	}
}

func TestTruncationFollowsLowestReport(t *testing.T) {
	g := StartTestGroup(t, 3, func(c *Config) { c.TrailingLogs = 1; c.TruncateInterval = time.Hour })
	c := dial(t, g.AddrList())
	ctx := ctxT(t, 20*time.Second)
	acks := commitN(t, c, "a", 20)

	// No report yet: truncation keeps everything.
	for _, svc := range g.Services {
		if err := svc.Truncate(ctx); err != nil {
			t.Fatal(err)
		}
		if first, _ := svc.wal.FirstIndex(); first != 1 {
			t.Fatalf("%s truncated to %d without any report", svc.cfg.NodeID, first)
		}
	}

	p1, p2 := acks[5].index, acks[12].index
	if err := c.ReportConsistent(ctx, "page-1", p1, acks[5].commitTS); err != nil {
		t.Fatal(err)
	}
	if err := c.ReportConsistent(ctx, "page-2", p2, acks[12].commitTS); err != nil {
		t.Fatal(err)
	}
	truncateAll := func(want uint64) {
		t.Helper()
		acks = append(acks, commitN(t, c, "more", 3)...) // something new to snapshot
		for i, svc := range g.Services {
			waitFloor(t, svc, want)
			if err := svc.Truncate(ctx); err != nil {
				t.Fatal(err)
			}
			if first, _ := svc.wal.FirstIndex(); first != want+1 {
				t.Fatalf("%s: first index %d after truncation, want %d", svc.cfg.NodeID, first, want+1)
			}
			expectFirst(t, dial(t, g.Addrs[i]), want+1, acks[len(acks)-1])
		}
	}
	// Truncation stops at the lower report, on every replica.
	truncateAll(p1)

	// page-1 moves past page-2: page-2 now holds the floor.
	if err := c.ReportConsistent(ctx, "page-1", acks[len(acks)-1].index, acks[len(acks)-1].commitTS); err != nil {
		t.Fatal(err)
	}
	truncateAll(p2)

	// A new page server below the floor does not lower it (entries may be
	// gone already); the answer tells it where the log starts.
	floor, err := g.Services[g.Leader()].ReportConsistent(ctx, "page-3", 2, 0)
	if err != nil || floor != p2 {
		t.Fatalf("late low report: floor %d err %v, want %d", floor, err, p2)
	}
	// A report of an index not applied yet is refused.
	if err := c.ReportConsistent(ctx, "page-1", 1<<40, 0); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("report beyond the log: got %v", err)
	}
}

func waitFloor(t *testing.T, svc *Service, want uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for svc.floorIndex() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: floor %d, want %d", svc.cfg.NodeID, svc.floorIndex(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTruncationReportsSurviveRestart(t *testing.T) {
	cfg := testConfig("n1", t.TempDir())
	cfg.Bootstrap = true
	cfg.TrailingLogs = 1
	n := startNode(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.addr)
	ctx := ctxT(t, 20*time.Second)
	acks := commitN(t, c, "k", 10)
	if err := c.ReportConsistent(ctx, "page-1", acks[3].index, acks[3].commitTS); err != nil {
		t.Fatal(err)
	}
	if err := c.ReportConsistent(ctx, "page-2", acks[6].index, acks[6].commitTS); err != nil {
		t.Fatal(err)
	}
	// Restart from the log, then from a snapshot: the reports are state.
	for round, snapshot := range []bool{false, true} {
		if snapshot {
			acks = append(acks, commitN(t, c, fmt.Sprintf("r%d", round), 2)...)
			if err := n.svc.Truncate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		n.stop()
		cfg.RaftAddr = n.svc.RaftBindAddr()
		n = startNode(t, cfg)
		waitLeader(t, n)
		c = dial(t, n.addr)
		if got := n.svc.floorIndex(); got != acks[3].index {
			t.Fatalf("round %d: floor %d after restart, want %d", round, got, acks[3].index)
		}
		n.svc.fsm.mu.Lock()
		reports := fmt.Sprint(n.svc.fsm.st.reports)
		n.svc.fsm.mu.Unlock()
		want := fmt.Sprint(map[string]consistentReport{
			"page-1": {"page-1", acks[3].index, acks[3].commitTS},
			"page-2": {"page-2", acks[6].index, acks[6].commitTS},
		})
		if reports != want {
			t.Fatalf("round %d: reports %s, want %s", round, reports, want)
		}
		expectFirst(t, c, acks[3].index+1, acks[len(acks)-1])
	}
	if first, _ := n.svc.wal.FirstIndex(); first != acks[3].index+1 {
		t.Fatalf("first index %d, want %d", first, acks[3].index+1)
	}
}
