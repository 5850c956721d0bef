package logbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
)

// system is one replicated store under test: a group of 3 processes, a
// shared client for the workload, and leader kill/restart for failover.
type system interface {
	// name is the label in the report ("phantom", "etcd").
	name() string
	// write performs one operation of the workload: a durable write of key
	// with value, acknowledged by a quorum.
	write(ctx context.Context, key string, value []byte) error
	// leader answers the index of the member that is leader now.
	leader(ctx context.Context) (int, error)
	// member returns the process of member i.
	member(i int) *proc
	// healthy answers nil once every member answers and a write commits.
	healthy(ctx context.Context) error
	// close stops every member and closes the clients.
	close()
}

// replicas is the size of every group the benchmark starts.
const replicas = 3

// phantomGroup is a 3-replica log service group: `phantom logservice`
// processes bootstrapped together through --peers.
type phantomGroup struct {
	procs  []*proc
	grpc   []string
	client *logclient.Client   // the workload's client, over all replicas
	status []*logclient.Client // one per replica, for its own Status
}

func startPhantom(ctx context.Context, cfg *Config, dir string) (_ *phantomGroup, err error) {
	addrs, err := freeAddrs(3 * replicas)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("logbench: %w", err)
	}
	g := &phantomGroup{}
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	var peers []string
	for i := range replicas {
		grpcAddr, raftAddr := addrs[3*i], addrs[3*i+1]
		g.grpc = append(g.grpc, grpcAddr)
		peers = append(peers, fmt.Sprintf("log-%d=%s=%s", i+1, raftAddr, grpcAddr))
	}
	for i := range replicas {
		id := fmt.Sprintf("log-%d", i+1)
		p := &proc{
			name: "phantom " + id,
			bin:  cfg.PhantomBin,
			args: []string{"logservice",
				"--node-id", id,
				"--data-dir", filepath.Join(dir, id),
				"--grpc-addr", addrs[3*i],
				"--raft-addr", addrs[3*i+1],
				"--http-addr", addrs[3*i+2],
				"--bootstrap",
				"--peers", strings.Join(peers, ","),
				"--log-level", "warn",
			},
			logPath: filepath.Join(dir, id+".log"),
		}
		g.procs = append(g.procs, p)
		if err := p.start(); err != nil {
			return nil, err
		}
	}
	// Short client backoff: failover measures the group, not the client's
	// waiting between retries.
	opts := []logclient.Option{logclient.WithBackoff(2*time.Millisecond, 50*time.Millisecond), logclient.WithLogger(cfg.Logger)}
	if g.client, err = logclient.Dial(ctx, strings.Join(g.grpc, ","), opts...); err != nil {
		return nil, fmt.Errorf("logbench: dial phantom: %w", err)
	}
	for _, a := range g.grpc {
		c, err := logclient.Dial(ctx, a, opts...)
		if err != nil {
			return nil, fmt.Errorf("logbench: dial phantom %s: %w", a, err)
		}
		g.status = append(g.status, c)
	}
	return g, nil
}

func (g *phantomGroup) name() string { return "phantom" }

func (g *phantomGroup) member(i int) *proc { return g.procs[i] }

// write is one transaction: GetTimestamp for its snapshot, then Commit of
// one key. commit is the only call of logclient.Commit in the benchmark.
func (g *phantomGroup) write(ctx context.Context, key string, value []byte) error {
	ts, _, err := g.client.GetTimestamp(ctx, 1)
	if err != nil {
		return err
	}
	return g.commit(ctx, ts, []*wirepb.Mutation{{Key: []byte(key), Value: value}})
}

func (g *phantomGroup) commit(ctx context.Context, startTS uint64, muts []*wirepb.Mutation) error {
	_, _, err := g.client.Commit(ctx, startTS, muts, nil)
	return err
}

func (g *phantomGroup) leader(ctx context.Context) (int, error) {
	for i, c := range g.status {
		if g.procs[i].exited() {
			continue
		}
		st, err := c.Status(ctx)
		if err == nil && strings.EqualFold(st.GetState(), "leader") {
			return i, nil
		}
	}
	return -1, errors.New("logbench: no phantom replica is leader")
}

func (g *phantomGroup) healthy(ctx context.Context) error {
	for i, c := range g.status {
		if g.procs[i].exited() {
			return fmt.Errorf("logbench: %s exited (see %s)", g.procs[i].name, g.procs[i].logPath)
		}
		if _, err := c.Status(ctx); err != nil {
			return err
		}
	}
	if _, err := g.leader(ctx); err != nil {
		return err
	}
	return g.write(ctx, "bench/health", []byte("ok"))
}

func (g *phantomGroup) close() {
	if g.client != nil {
		g.client.Close()
	}
	for _, c := range g.status {
		c.Close()
	}
	for _, p := range g.procs {
		p.stop(5 * time.Second)
	}
}

// exists reports whether path names an existing file.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
