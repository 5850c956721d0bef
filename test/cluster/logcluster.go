package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
	"github.com/phantom-db/phantom/test/faultproxy"
)

// ErrNoLeader is returned when no replica reports itself leader in time.
var ErrNoLeader = errors.New("cluster: no log service leader")

// LogClusterConfig configures StartLogCluster.
type LogClusterConfig struct {
	// Replicas is the number of log service processes. Default 3.
	Replicas int
	// Proxies routes each replica's inbound Raft peer traffic through a
	// faultproxy: replica i binds its Raft port but advertises its proxy's
	// address, so every peer reaches i through LogNode.Proxy. Default false.
	Proxies bool
	// PageServer also starts one page server pulling the log from every
	// replica, for reads. Default false.
	PageServer bool
	// CheckpointInterval is the page server's --checkpoint-interval.
	// Zero (the default) means checkpoints only on a clean shutdown, so the
	// page server reports nothing during a run and the log service keeps
	// its whole log: tests that read every replica's log from index 1 at
	// the end need that. Truncation is tested by logservice and test/crash.
	CheckpointInterval time.Duration
	// ReadyTimeout bounds each wait for a process to come up or a leader to
	// be elected. Default 30s.
	ReadyTimeout time.Duration
	// ExtraArgs are appended to every replica's flags (e.g. --nats-url).
	ExtraArgs []string
}

// EnsureDefaults fills unset fields with their defaults.
func (c *LogClusterConfig) EnsureDefaults() {
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 30 * time.Second
	}
}

// LogNode is one log service replica process.
type LogNode struct {
	// ID is the replica's --node-id (log-1, log-2, ...).
	ID string
	// GRPCAddr is the replica's gRPC API address.
	GRPCAddr string
	// RaftAddr is the address its Raft transport binds.
	RaftAddr string
	// AdvertiseAddr is the Raft address peers dial: the proxy's address when
	// proxied, else RaftAddr.
	AdvertiseAddr string
	// HTTPAddr is the admin HTTP address (/healthz).
	HTTPAddr string
	// Proxy carries every peer's Raft traffic to this replica; nil unless
	// LogClusterConfig.Proxies.
	Proxy *faultproxy.Proxy
	// Proc is the running process.
	Proc *Process

	paused bool
}

// LogCluster is a log service group of real processes on loopback, plus an
// optional page server. Everything is stopped when the test ends.
type LogCluster struct {
	t     testing.TB
	cfg   LogClusterConfig
	quiet *slog.Logger

	// Nodes are the replicas; Nodes[0] bootstrapped the group.
	Nodes []*LogNode
	// Page is the page server process (nil unless PageServer).
	Page *Process
	// PageAddr is the page server's gRPC address.
	PageAddr string
	// PageHTTPAddr is the page server's admin HTTP address.
	PageHTTPAddr string
	// ObjectDir is the page server's object store directory.
	ObjectDir string
}

// StartLogCluster starts cfg.Replicas log service processes bootstrapped
// as one Raft group (the others first with --bootstrap=false, then the first
// with every peer), waits for a leader, and starts the page server when
// asked.
func StartLogCluster(t testing.TB, cfg LogClusterConfig) *LogCluster {
	t.Helper()
	cfg.EnsureDefaults()
	c := &LogCluster{t: t, cfg: cfg, quiet: slog.New(slog.DiscardHandler)}
	n := cfg.Replicas
	base := StablePortBase(t, 3*n+2)
	port := func(k int) string { return fmt.Sprintf("127.0.0.1:%d", base+k) }
	var peers []string
	for i := range n {
		nd := &LogNode{
			ID:       fmt.Sprintf("log-%d", i+1),
			GRPCAddr: port(3 * i),
			RaftAddr: port(3*i + 1),
			HTTPAddr: port(3*i + 2),
		}
		nd.AdvertiseAddr = nd.RaftAddr
		if cfg.Proxies {
			p, err := faultproxy.New("127.0.0.1:0", nd.RaftAddr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			nd.Proxy = p
			nd.AdvertiseAddr = p.Addr()
		}
		c.Nodes = append(c.Nodes, nd)
		peers = append(peers, nd.ID+"="+nd.AdvertiseAddr+"="+nd.GRPCAddr)
	}
	dataRoot := t.TempDir()
	args := func(nd *LogNode, bootstrap bool) []string {
		return append([]string{"logservice",
			"--node-id", nd.ID,
			"--data-dir", filepath.Join(dataRoot, nd.ID),
			"--grpc-addr", nd.GRPCAddr,
			"--raft-addr", nd.RaftAddr,
			"--raft-advertise-addr", nd.AdvertiseAddr,
			"--http-addr", nd.HTTPAddr,
			"--bootstrap=" + fmt.Sprint(bootstrap),
			"--peers", strings.Join(peers, ","),
		}, cfg.ExtraArgs...)
	}
	// Followers first, so the bootstrapping node finds them listening.
	for i := n - 1; i >= 0; i-- {
		nd := c.Nodes[i]
		nd.Proc = Start(t, nd.ID, args(nd, i == 0)...)
		WaitHTTP(t, "http://"+nd.HTTPAddr+"/healthz", cfg.ReadyTimeout, nd.Proc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ReadyTimeout)
	defer cancel()
	if _, err := c.Leader(ctx); err != nil {
		t.Fatal(err)
	}
	if cfg.PageServer {
		c.PageAddr, c.PageHTTPAddr = port(3*n), port(3*n+1)
		c.ObjectDir = filepath.Join(dataRoot, "objects")
		c.Page = Start(t, "pageserver", "pageserver",
			"--node-id", "page-1",
			"--data-dir", filepath.Join(dataRoot, "page"),
			"--grpc-addr", c.PageAddr,
			"--http-addr", c.PageHTTPAddr,
			"--logservice", c.Addrs(),
			"--object-store", c.ObjectDir,
			"--checkpoint-interval", cfg.CheckpointInterval.String(),
		)
		WaitHTTP(t, "http://"+c.PageHTTPAddr+"/healthz", cfg.ReadyTimeout, c.Page)
	}
	t.Cleanup(c.resumeAll) // a stopped process must not outlive the test
	return c
}

// Addrs returns the replicas' gRPC addresses, comma-separated (the form
// logclient.Dial and --logservice take).
func (c *LogCluster) Addrs() string {
	addrs := make([]string, len(c.Nodes))
	for i, nd := range c.Nodes {
		addrs[i] = nd.GRPCAddr
	}
	return strings.Join(addrs, ",")
}

// Client dials a client of the whole group (it follows the leader); it is
// closed when the test ends.
func (c *LogCluster) Client(opts ...logclient.Option) *logclient.Client {
	return c.dial(c.Addrs(), opts...)
}

// NodeClient dials a client of replica i alone (for Status and ReadLog of
// that replica); it is closed when the test ends.
func (c *LogCluster) NodeClient(i int, opts ...logclient.Option) *logclient.Client {
	return c.dial(c.Nodes[i].GRPCAddr, opts...)
}

func (c *LogCluster) dial(addrs string, opts ...logclient.Option) *logclient.Client {
	c.t.Helper()
	opts = append([]logclient.Option{logclient.WithLogger(c.quiet)}, opts...)
	cl, err := logclient.Dial(context.Background(), addrs, opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// PageClient dials the page server with opts added to plain-text
// credentials; the connection is closed when the test ends.
func (c *LogCluster) PageClient(opts ...grpc.DialOption) wirepb.PageServerClient {
	c.t.Helper()
	if c.Page == nil {
		c.t.Fatal("cluster: no page server (LogClusterConfig.PageServer)")
	}
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient(c.PageAddr, opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = cc.Close() })
	return wirepb.NewPageServerClient(cc)
}

// Status asks replica i for its view of the group, waiting at most wait.
func (c *LogCluster) Status(ctx context.Context, i int, wait time.Duration) (*wirepb.StatusResponse, error) {
	cl, err := logclient.Dial(ctx, c.Nodes[i].GRPCAddr, logclient.WithLogger(c.quiet))
	if err != nil {
		return nil, err
	}
	defer func() { _ = cl.Close() }()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return cl.Status(ctx)
}

// Leader polls the running, unpaused replicas until one reports itself
// Raft leader, and returns its index.
func (c *LogCluster) Leader(ctx context.Context) (int, error) {
	for {
		for i, nd := range c.Nodes {
			if nd.paused || nd.Proc.Exited() {
				continue
			}
			st, err := c.Status(ctx, i, 500*time.Millisecond)
			if err == nil && st.GetState() == "Leader" {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kill sends SIGKILL to replica i and waits for it to exit.
func (c *LogCluster) Kill(i int) {
	c.Nodes[i].Proc.Kill()
	c.Nodes[i].paused = false
}

// Restart starts replica i again (after Kill) on the same data directory
// and addresses, and waits for its admin endpoint.
func (c *LogCluster) Restart(i int) {
	c.t.Helper()
	nd := c.Nodes[i]
	nd.Proc.Restart()
	WaitHTTP(c.t, "http://"+nd.HTTPAddr+"/healthz", c.cfg.ReadyTimeout, nd.Proc)
}

// Pause stops replica i with SIGSTOP: it keeps its sockets but answers
// nothing, like a long GC pause or a frozen VM.
func (c *LogCluster) Pause(i int) {
	c.t.Helper()
	if err := c.Nodes[i].Proc.Signal(syscall.SIGSTOP); err != nil {
		c.t.Fatal(err)
	}
	c.Nodes[i].paused = true
}

// Resume continues replica i after Pause with SIGCONT.
func (c *LogCluster) Resume(i int) {
	c.t.Helper()
	if err := c.Nodes[i].Proc.Signal(syscall.SIGCONT); err != nil {
		c.t.Fatal(err)
	}
	c.Nodes[i].paused = false
}

// Paused reports whether replica i is stopped by Pause.
func (c *LogCluster) Paused(i int) bool { return c.Nodes[i].paused }

// Partition blackholes every peer's Raft traffic to replica i (its proxy):
// the leader cannot replicate to it and its votes get no answer over
// connections peers open to it. Requests i itself sends go through the
// peers' proxies, so this is an inbound (asymmetric) partition. It needs
// LogClusterConfig.Proxies.
func (c *LogCluster) Partition(i int) {
	c.t.Helper()
	c.proxy(i).Partition()
}

// Heal ends Partition of replica i.
func (c *LogCluster) Heal(i int) { c.proxy(i).Heal() }

func (c *LogCluster) proxy(i int) *faultproxy.Proxy {
	c.t.Helper()
	if c.Nodes[i].Proxy == nil {
		c.t.Fatal("cluster: replica has no proxy (LogClusterConfig.Proxies)")
	}
	return c.Nodes[i].Proxy
}

// HealAll resumes paused replicas, heals every proxy (and removes delays)
// and restarts killed replicas and a killed page server: the cluster is
// whole again.
func (c *LogCluster) HealAll() {
	c.t.Helper()
	c.resumeAll()
	for i, nd := range c.Nodes {
		if nd.Proxy != nil {
			nd.Proxy.Heal()
			nd.Proxy.SetDelay(0)
		}
		if nd.Proc.Exited() {
			c.Restart(i)
		}
	}
	if c.Page != nil && c.Page.Exited() {
		c.RestartPage()
	}
}

func (c *LogCluster) resumeAll() {
	for _, nd := range c.Nodes {
		if nd.paused && !nd.Proc.Exited() {
			_ = nd.Proc.Signal(syscall.SIGCONT)
		}
		nd.paused = false
	}
}

// ReadLog reads replica i's log from index 1 through index through (the
// stream follows new commits, so it waits until the replica has applied
// through) and returns the entries (commit records only; aborted commits
// and internal records are skipped by the server).
func (c *LogCluster) ReadLog(ctx context.Context, i int, through uint64) ([]*wirepb.LogEntry, error) {
	if through == 0 {
		return nil, nil
	}
	cl, err := logclient.Dial(ctx, c.Nodes[i].GRPCAddr, logclient.WithLogger(c.quiet))
	if err != nil {
		return nil, err
	}
	defer func() { _ = cl.Close() }()
	var out []*wirepb.LogEntry
	errDone := errors.New("done")
	err = cl.ReadLog(ctx, 1, func(e *wirepb.LogEntry) error {
		if e.GetIndex() > through {
			return errDone
		}
		out = append(out, e)
		if e.GetIndex() == through {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		return out, fmt.Errorf("cluster: read log of %s through %d: %w", c.Nodes[i].ID, through, err)
	}
	return out, nil
}

// KillPage sends SIGKILL to the page server and waits for it to exit.
func (c *LogCluster) KillPage() { c.Page.Kill() }

// RestartPage starts the page server again (after KillPage) on the same
// data directory and object store, and waits for its admin endpoint.
func (c *LogCluster) RestartPage() {
	c.t.Helper()
	c.Page.Restart()
	WaitHTTP(c.t, "http://"+c.PageHTTPAddr+"/healthz", c.cfg.ReadyTimeout, c.Page)
}

// DumpLogs writes the output of every process of the cluster to the test
// log (processes' output is dumped anyway when the test fails).
func (c *LogCluster) DumpLogs() {
	for _, nd := range c.Nodes {
		c.t.Logf("---- output of %s ----\n%s", nd.ID, nd.Proc.Log())
	}
	if c.Page != nil {
		c.t.Logf("---- output of pageserver ----\n%s", c.Page.Log())
	}
}
