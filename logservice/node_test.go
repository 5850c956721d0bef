package logservice

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
)

// testLogger discards logs unless PHANTOM_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("PHANTOM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testConfig is a fast-failover configuration for loopback tests.
func testConfig(id, dir string) Config {
	return Config{
		NodeID:             id,
		DataDir:            dir,
		RaftAddr:           "127.0.0.1:0",
		HeartbeatTimeout:   300 * time.Millisecond,
		ElectionTimeout:    300 * time.Millisecond,
		LeaderLeaseTimeout: 150 * time.Millisecond,
		RaftCommitTimeout:  10 * time.Millisecond,
		Logger:             testLogger(),
	}
}

// testNode is one replica behind a real gRPC server on loopback.
type testNode struct {
	svc  *Service
	grpc *grpc.Server
	addr string
	cfg  Config
	once sync.Once
}

// startNode starts a replica; cfg.APIAddr is set to the bound gRPC address.
func startNode(t *testing.T, cfg Config) *testNode {
	t.Helper()
	return startNodeOn(t, cfg, listen(t))
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// startNodeOn starts a replica serving gRPC on lis.
func startNodeOn(t *testing.T, cfg Config, lis net.Listener) *testNode {
	t.Helper()
	cfg.APIAddr = lis.Addr().String()
	svc, err := New(context.Background(), cfg)
	if err != nil {
		_ = lis.Close()
		t.Fatalf("start %s: %v", cfg.NodeID, err)
	}
	g := grpc.NewServer()
	svc.Register(g)
	go func() { _ = g.Serve(lis) }()
	n := &testNode{svc: svc, grpc: g, addr: cfg.APIAddr, cfg: cfg}
	t.Cleanup(n.stop)
	return n
}

func (n *testNode) stop() {
	n.once.Do(func() {
		n.grpc.Stop()
		if err := n.svc.Close(); err != nil {
			panic(err)
		}
	})
}

func waitLeader(t *testing.T, n *testNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.svc.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
}

func dial(t *testing.T, addrs string) *logclient.Client {
	t.Helper()
	c, err := logclient.Dial(context.Background(), addrs, logclient.WithLogger(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// readN reads the log from index from until n entries arrived.
func readN(t *testing.T, c *logclient.Client, from uint64, n int) []*wirepb.LogEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []*wirepb.LogEntry
	errDone := errors.New("done")
	err := c.ReadLog(ctx, from, func(e *wirepb.LogEntry) error {
		got = append(got, e)
		if len(got) == n {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("read log from %d: got %d of %d entries: %v", from, len(got), n, err)
	}
	return got
}

// acked is a commit the log service acknowledged.
type acked struct {
	key      string
	commitTS uint64
	index    uint64
}
