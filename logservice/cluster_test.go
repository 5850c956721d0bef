package logservice

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
)

// commitKey takes a fresh timestamp and commits key, retrying (with a new
// timestamp) while the group fails over. It records commits whose outcome
// is unknown in unknown.
func commitKey(t *testing.T, c *logclient.Client, key string, unknown map[string]bool) acked {
	t.Helper()
	ctx := ctxT(t, 15*time.Second)
	for {
		start, _, err := c.GetTimestamp(ctx, 1)
		if err == nil {
			ts, idx, err2 := c.Commit(ctx, start, mut(key, "v"), nil)
			if err2 == nil {
				return acked{key: key, commitTS: ts, index: idx}
			}
			err = err2
			if errors.Is(err, logclient.ErrUnknownOutcome) {
				unknown[key] = true
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("commit %s: %v", key, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkSubsequence asserts that entries hold every ack in order, and
// otherwise only commits whose outcome was unknown.
func checkSubsequence(t *testing.T, entries []*wirepb.LogEntry, acks []acked, unknown map[string]bool) {
	t.Helper()
	i := 0
	for _, e := range entries {
		key := string(e.GetMutations()[0].GetKey())
		if i < len(acks) && e.GetIndex() == acks[i].index {
			if e.GetCommitTs() != acks[i].commitTS || key != acks[i].key {
				t.Fatalf("entry %d = (%d, %s), ack %+v", e.GetIndex(), e.GetCommitTs(), key, acks[i])
			}
			i++
			continue
		}
		if !unknown[key] {
			t.Fatalf("unexpected entry %d (%s) in the log", e.GetIndex(), key)
		}
	}
	if i != len(acks) {
		t.Fatalf("acked commit %+v missing from the log", acks[i])
	}
}

func TestThreeNodeGroup(t *testing.T) {
	base := t.TempDir()
	lis := []net.Listener{listen(t), listen(t), listen(t)}
	peers := []Peer{
		{ID: "n1", APIAddr: lis[0].Addr().String()},
		{ID: "n2", APIAddr: lis[1].Addr().String()},
		{ID: "n3", APIAddr: lis[2].Addr().String()},
	}
	// Followers first, so the bootstrapping node knows their bound ports.
	cfg2 := testConfig("n2", filepath.Join(base, "n2"))
	cfg2.Peers = peers
	n2 := startNodeOn(t, cfg2, lis[1])
	cfg3 := testConfig("n3", filepath.Join(base, "n3"))
	cfg3.Peers = peers
	n3 := startNodeOn(t, cfg3, lis[2])
	peers[1].RaftAddr, peers[2].RaftAddr = n2.svc.RaftAddr(), n3.svc.RaftAddr()
	cfg1 := testConfig("n1", filepath.Join(base, "n1"))
	cfg1.Bootstrap = true
	cfg1.Peers = peers
	n1 := startNodeOn(t, cfg1, lis[0])
	nodes := []*testNode{n1, n2, n3}
	for _, n := range nodes {
		waitLeader(t, n)
	}
	// n3 first: the client must find the leader on its own.
	c := dial(t, n3.addr+","+n2.addr+","+n1.addr)
	unknown := map[string]bool{}

	var acks []acked
	for i := range 10 {
		acks = append(acks, commitKey(t, c, fmt.Sprintf("before-%d", i), unknown))
	}
	logs := map[string][]*wirepb.LogEntry{}
	for _, n := range nodes {
		logs[n.cfg.NodeID] = readN(t, dial(t, n.addr), 1, len(acks))
		checkLog(t, logs[n.cfg.NodeID], acks)
	}
	ts, _, err := c.GetTimestamp(ctxT(t, 10*time.Second), 1)
	if err != nil {
		t.Fatal(err)
	}
	maxIssued := ts

	// Shut the leader down; a new leader takes over.
	var leader *testNode
	var survivors []*testNode
	for _, n := range nodes {
		if n.svc.IsLeader() {
			leader = n
		} else {
			survivors = append(survivors, n)
		}
	}
	if leader == nil || len(survivors) != 2 {
		t.Fatalf("no single leader: leader=%v survivors=%d", leader, len(survivors))
	}
	leader.stop()
	deadline := time.Now().Add(10 * time.Second)
	for !survivors[0].svc.IsLeader() && !survivors[1].svc.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("no new leader elected")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A follower refuses and names the new leader.
	var newLeader, follower *testNode
	for _, n := range survivors {
		if n.svc.IsLeader() {
			newLeader = n
		} else {
			follower = n
		}
	}
	if newLeader == nil || follower == nil {
		t.Fatal("leadership changed again right after the failover")
	}
	assertNotLeader(t, follower, newLeader)

	ts, _, err = c.GetTimestamp(ctxT(t, 10*time.Second), 1)
	if err != nil {
		t.Fatal(err)
	}
	if ts <= maxIssued || ts <= acks[len(acks)-1].commitTS {
		t.Fatalf("timestamp %d after failover not above %d issued before", ts, maxIssued)
	}
	for i := range 10 {
		a := commitKey(t, c, fmt.Sprintf("after-%d", i), unknown)
		if last := acks[len(acks)-1]; a.commitTS <= last.commitTS || a.index <= last.index {
			t.Fatalf("commit after failover %+v not above %+v", a, last)
		}
		acks = append(acks, a)
	}

	// Both survivors hold the same log with every acked commit.
	var want []*wirepb.LogEntry
	for i, n := range survivors {
		got := readN(t, dial(t, n.addr), 1, len(acks)+countUnknownApplied(t, n, unknown))
		checkSubsequence(t, got, acks, unknown)
		if i == 0 {
			want = got
			continue
		}
		if !slices.EqualFunc(got, want, func(a, b *wirepb.LogEntry) bool {
			return a.GetIndex() == b.GetIndex() && a.GetCommitTs() == b.GetCommitTs()
		}) {
			t.Fatalf("survivors disagree on the log")
		}
	}
}

// countUnknownApplied counts commits of unknown outcome that n's FSM applied,
// by scanning its log store.
func countUnknownApplied(t *testing.T, n *testNode, unknown map[string]bool) int {
	t.Helper()
	if len(unknown) == 0 {
		return 0
	}
	v, _ := n.svc.fsm.view()
	count := 0
	for i := uint64(1); i <= v.appliedIndex; i++ {
		e, err := n.svc.readEntry(i)
		if err != nil {
			t.Fatal(err)
		}
		if e != nil && unknown[string(e.GetMutations()[0].GetKey())] {
			count++
		}
	}
	return count
}

func TestConcurrentCommits(t *testing.T) {
	cfg := testConfig("n1", t.TempDir())
	cfg.Bootstrap = true
	n := startNode(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.addr)
	ctx := ctxT(t, 30*time.Second)

	const workers, perWorker = 32, 10
	var (
		mu      sync.Mutex
		acks    []acked
		maxTS   uint64
		maxIdx  uint64
		wg      sync.WaitGroup
		errs    = make(chan error, workers+1)
		stopped = make(chan struct{})
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				start, _, err := c.GetTimestamp(ctx, 1)
				if err != nil {
					errs <- err
					return
				}
				key := fmt.Sprintf("w%02d-%d", w, i)
				ts, idx, err := c.Commit(ctx, start, mut(key, "v"), nil)
				if err != nil {
					errs <- fmt.Errorf("commit %s: %w", key, err)
					return
				}
				mu.Lock()
				acks = append(acks, acked{key: key, commitTS: ts, index: idx})
				maxTS, maxIdx = max(maxTS, ts), max(maxIdx, idx)
				mu.Unlock()
			}
		})
	}
	// The read rule under load: a timestamp is above every commit acked
	// before it was requested, and its commit_index covers them.
	var reads int
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stopped:
				return
			default:
			}
			mu.Lock()
			ackedTS, ackedIdx := maxTS, maxIdx
			mu.Unlock()
			ts, cidx, err := c.GetTimestamp(ctx, 1)
			if err != nil {
				errs <- err
				return
			}
			if ts <= ackedTS || cidx < ackedIdx {
				errs <- fmt.Errorf("read rule: GetTimestamp = (%d, %d) but (%d, %d) was acked before", ts, cidx, ackedTS, ackedIdx)
				return
			}
			reads++
		}
	}()
	wg.Wait()
	close(stopped)
	<-readerDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(acks) != workers*perWorker || reads == 0 {
		t.Fatalf("%d acks, %d reads", len(acks), reads)
	}

	slices.SortFunc(acks, func(a, b acked) int { return cmp.Compare(a.index, b.index) })
	entries := readN(t, c, 1, len(acks))
	checkLog(t, entries, acks)
	for i := 1; i < len(entries); i++ {
		if entries[i].GetCommitTs() <= entries[i-1].GetCommitTs() {
			t.Fatalf("commit_ts not increasing in log order at index %d", entries[i].GetIndex())
		}
	}
}

// assertNotLeader checks that follower answers Commit and GetTimestamp with
// FailedPrecondition naming leader's gRPC address in trailer metadata.
func assertNotLeader(t *testing.T, follower, leader *testNode) {
	t.Helper()
	cc, err := grpc.NewClient(follower.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	cl := wirepb.NewLogServiceClient(cc)
	ctx := ctxT(t, 5*time.Second)
	var md1, md2 metadata.MD
	_, err1 := cl.GetTimestamp(ctx, &wirepb.GetTimestampRequest{}, grpc.Trailer(&md1))
	_, err2 := cl.Commit(ctx, &wirepb.CommitRequest{StartTs: 1, Mutations: mut("x", "y")}, grpc.Trailer(&md2))
	for i, c := range []struct {
		err error
		md  metadata.MD
	}{{err1, md1}, {err2, md2}} {
		if status.Code(c.err) != codes.FailedPrecondition {
			t.Fatalf("call %d on follower: got %v, want FailedPrecondition", i, c.err)
		}
		if got := c.md.Get(MetadataLeaderAddr); len(got) != 1 || got[0] != leader.addr {
			t.Fatalf("call %d on follower: leader metadata %v, want %s", i, got, leader.addr)
		}
	}
}
