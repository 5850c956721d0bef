package logclient_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice"
	"github.com/phantom-db/phantom/logservice/logclient"
)

// serve starts a single-voter log service on dir, serving gRPC on addr
// ("127.0.0.1:0" for a fresh port). It returns the gRPC address and a stop
// function.
func serve(t *testing.T, dir, addr, raftAddr string) (string, string, func()) {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := logservice.New(context.Background(), logservice.Config{
		NodeID: "n1", DataDir: dir, RaftAddr: raftAddr, Bootstrap: true,
		APIAddr:          lis.Addr().String(),
		HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := svc.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	svc.Register(g)
	go func() { _ = g.Serve(lis) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		g.Stop()
		if err := svc.Close(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return lis.Addr().String(), svc.RaftAddr(), stop
}

func TestMetadataKeyMatchesServer(t *testing.T) {
	if logclient.MetadataLeaderAddrForTest != logservice.MetadataLeaderAddr {
		t.Fatalf("client reads %q, server writes %q", logclient.MetadataLeaderAddrForTest, logservice.MetadataLeaderAddr)
	}
}

func TestDialNoAddress(t *testing.T) {
	if _, err := logclient.Dial(context.Background(), " , "); !errors.Is(err, logclient.ErrNoAddress) {
		t.Fatalf("got %v", err)
	}
}

// TestReadLogResumes restarts the server under a following reader: the
// reader reconnects and continues after the last index it delivered, with
// no gap and no duplicate.
func TestReadLogResumes(t *testing.T) {
	dir := t.TempDir()
	addr, raftAddr, stop := serve(t, dir, "127.0.0.1:0", "127.0.0.1:0")
	c, err := logclient.Dial(context.Background(), addr, logclient.WithBackoff(10*time.Millisecond, 100*time.Millisecond),
		logclient.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	commit := func(key string) uint64 {
		t.Helper()
		start, _, err := c.GetTimestamp(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		_, idx, err := c.Commit(ctx, start, []*wirepb.Mutation{{Key: []byte(key), Value: []byte("v")}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return idx
	}
	var want []uint64
	for _, k := range []string{"a", "b", "c"} {
		want = append(want, commit(k))
	}

	got := make(chan uint64, 16)
	readErr := make(chan error, 1)
	go func() {
		readErr <- c.ReadLog(ctx, 1, func(e *wirepb.LogEntry) error {
			got <- e.GetIndex()
			return nil
		})
	}()
	for range want {
		<-got
	}
	stop()
	addr2, _, _ := serve(t, dir, addr, raftAddr)
	if addr2 != addr {
		t.Fatalf("restarted on %s, want %s", addr2, addr)
	}
	for _, k := range []string{"d", "e"} {
		want = append(want, commit(k))
	}
	for _, idx := range want[3:] {
		select {
		case g := <-got:
			if g != idx {
				t.Fatalf("after reconnect got index %d, want %d", g, idx)
			}
		case err := <-readErr:
			t.Fatalf("ReadLog ended: %v", err)
		case <-ctx.Done():
			t.Fatal("timed out waiting for resumed entries")
		}
	}

	// Commit against an old snapshot of a rewritten key is a conflict.
	old, _, _ := c.GetTimestamp(ctx, 1)
	commit("a")
	if _, _, err := c.Commit(ctx, old, []*wirepb.Mutation{{Key: []byte("a")}}, nil); !errors.Is(err, logclient.ErrConflict) {
		t.Fatalf("stale commit: %v", err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.GetState() != "Leader" {
		t.Fatalf("status %v %v", st, err)
	}
	cancel()
	if err := <-readErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadLog after cancel: %v", err)
	}
}

// TestFollowsLeaderAcrossFailover uses the exported test group: the client
// finds the leader from any address and after the leader stops.
func TestFollowsLeaderAcrossFailover(t *testing.T) {
	g := logservice.StartTestGroup(t, 3)
	c, err := logclient.Dial(context.Background(), g.AddrList(), logclient.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var last uint64
	for round := range 2 {
		for range 3 {
			start, _, err := c.GetTimestamp(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if start <= last {
				t.Fatalf("timestamp %d not above %d", start, last)
			}
			ts, _, err := c.Commit(ctx, start, []*wirepb.Mutation{{Key: []byte("k"), Value: []byte("v")}}, nil)
			if errors.Is(err, logclient.ErrUnknownOutcome) {
				continue // the old leader's address; the next call moves on
			}
			if err != nil {
				t.Fatal(err)
			}
			last = ts
		}
		if round == 0 {
			leader := g.Leader()
			if leader < 0 {
				t.Fatal("no leader")
			}
			g.Stop(leader)
		}
	}
	if last == 0 {
		t.Fatal("no commit succeeded")
	}
}

// truncatedReplica answers every ReadLog with OutOfRange, like a replica
// that truncated its log or installed a snapshot.
type truncatedReplica struct {
	wirepb.UnimplementedLogServiceServer
}

func (truncatedReplica) ReadLog(*wirepb.ReadLogRequest, grpc.ServerStreamingServer[wirepb.LogEntry]) error {
	return status.Error(codes.OutOfRange, "logservice: log truncated")
}

func serveTruncated(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	wirepb.RegisterLogServiceServer(g, truncatedReplica{})
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

func TestReadLogSkipsReplicasWithoutThePosition(t *testing.T) {
	addr, _, _ := serve(t, t.TempDir(), "127.0.0.1:0", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	writer, err := logclient.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = writer.Close() }()
	start, _, err := writer.GetTimestamp(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, idx, err := writer.Commit(ctx, start, []*wirepb.Mutation{{Key: []byte("k"), Value: []byte("v")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The truncated replica comes first; the reader moves on to the full one.
	c, err := logclient.Dial(ctx, serveTruncated(t)+","+addr, logclient.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	errDone := errors.New("done")
	err = c.ReadLog(ctx, 1, func(e *wirepb.LogEntry) error {
		if e.GetIndex() != idx {
			t.Errorf("entry %d, want %d", e.GetIndex(), idx)
		}
		return errDone
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("read log: %v", err)
	}
	// When no replica holds the position, OutOfRange comes back.
	none, err := logclient.Dial(ctx, serveTruncated(t)+","+serveTruncated(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = none.Close() }()
	if err := none.ReadLog(ctx, 1, func(*wirepb.LogEntry) error { return nil }); status.Code(err) != codes.OutOfRange {
		t.Fatalf("all truncated: got %v, want OutOfRange", err)
	}
}
