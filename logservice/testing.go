package logservice

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
)

// TestGroup is a log group of real replicas on loopback (Raft over TCP,
// raft-wal on disk under tb.TempDir(), gRPC on 127.0.0.1:0), for tests of
// this and other packages. It is torn down by tb.Cleanup.
type TestGroup struct {
	// Services are the replicas, in node order ("n1", "n2", ...).
	Services []*Service
	// Addrs are the replicas' gRPC addresses, in node order.
	Addrs   []string
	servers []*grpc.Server
}

// StartTestGroup starts a group of voters replicas (1 or 3 are typical) with
// fast-failover Raft timing, and waits until every replica knows the ready
// leader. Each opt may adjust every replica's Config before it starts.
func StartTestGroup(tb testing.TB, voters int, opts ...func(*Config)) *TestGroup {
	tb.Helper()
	if voters < 1 {
		tb.Fatalf("logservice: StartTestGroup(%d): need at least one voter", voters)
	}
	base := tb.TempDir()
	g := &TestGroup{}
	lis := make([]net.Listener, voters)
	peers := make([]Peer, voters)
	for i := range voters {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		lis[i] = l
		peers[i] = Peer{ID: fmt.Sprintf("n%d", i+1), APIAddr: l.Addr().String()}
		g.Addrs = append(g.Addrs, l.Addr().String())
	}
	g.Services = make([]*Service, voters)
	g.servers = make([]*grpc.Server, voters)
	// Start n2.. first so n1 bootstraps with their bound Raft addresses.
	for _, i := range append(seq(1, voters), 0) {
		cfg := Config{
			NodeID:             peers[i].ID,
			DataDir:            filepath.Join(base, peers[i].ID),
			APIAddr:            peers[i].APIAddr,
			Bootstrap:          i == 0,
			Peers:              peers,
			HeartbeatTimeout:   300 * time.Millisecond,
			ElectionTimeout:    300 * time.Millisecond,
			LeaderLeaseTimeout: 150 * time.Millisecond,
			RaftCommitTimeout:  10 * time.Millisecond,
			Logger:             slog.New(slog.DiscardHandler),
		}
		for _, opt := range opts {
			opt(&cfg)
		}
		svc, err := New(context.Background(), cfg)
		if err != nil {
			tb.Fatalf("logservice: start %s: %v", cfg.NodeID, err)
		}
		peers[i].RaftAddr = svc.RaftAddr()
		srv := grpc.NewServer()
		svc.Register(srv)
		svc.RegisterAdmin(srv)
		go func() { _ = srv.Serve(lis[i]) }()
		g.Services[i], g.servers[i] = svc, srv
		tb.Cleanup(func() { g.Stop(i) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, svc := range g.Services {
		if err := svc.WaitLeader(ctx); err != nil {
			tb.Fatalf("logservice: test group: %v", err)
		}
	}
	return g
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// StartNode starts one more replica, id, with Bootstrap off (it waits to be
// added to the group through LogAdmin) and the group's test timing, and
// returns its index. opts adjust its Config.
func (g *TestGroup) StartNode(tb testing.TB, id string, opts ...func(*Config)) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := Config{
		NodeID:             id,
		DataDir:            filepath.Join(tb.TempDir(), id),
		APIAddr:            l.Addr().String(),
		HeartbeatTimeout:   300 * time.Millisecond,
		ElectionTimeout:    300 * time.Millisecond,
		LeaderLeaseTimeout: 150 * time.Millisecond,
		RaftCommitTimeout:  10 * time.Millisecond,
		Logger:             slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	svc, err := New(context.Background(), cfg)
	if err != nil {
		_ = l.Close()
		tb.Fatalf("logservice: start %s: %v", id, err)
	}
	srv := grpc.NewServer()
	svc.Register(srv)
	svc.RegisterAdmin(srv)
	go func() { _ = srv.Serve(l) }()
	i := len(g.Services)
	g.Services = append(g.Services, svc)
	g.servers = append(g.servers, srv)
	g.Addrs = append(g.Addrs, cfg.APIAddr)
	tb.Cleanup(func() { g.Stop(i) })
	return i
}

// AddrList returns the gRPC addresses comma-separated, as logclient.Dial
// takes them.
func (g *TestGroup) AddrList() string { return strings.Join(g.Addrs, ",") }

// Leader returns the index of the ready leader, or -1.
func (g *TestGroup) Leader() int {
	for i, svc := range g.Services {
		if g.servers[i] != nil && svc.IsLeader() {
			return i
		}
	}
	return -1
}

// Stop stops replica i (its gRPC server and Service); it is idempotent.
func (g *TestGroup) Stop(i int) {
	if g.servers[i] == nil {
		return
	}
	g.servers[i].Stop()
	g.servers[i] = nil
	_ = g.Services[i].Close()
}
