package logbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdGroup is a 3-member etcd cluster on loopback with etcd's default
// settings (fsync on, 100ms heartbeat, 1s election timeout); only the
// logger is quietened.
type etcdGroup struct {
	procs     []*proc
	endpoints []string
	client    *clientv3.Client
}

func startEtcd(ctx context.Context, cfg *Config, dir string) (_ *etcdGroup, err error) {
	addrs, err := freeAddrs(2 * replicas)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("logbench: %w", err)
	}
	g := &etcdGroup{}
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	var initial []string
	for i := range replicas {
		initial = append(initial, fmt.Sprintf("e%d=http://%s", i+1, addrs[2*i+1]))
		g.endpoints = append(g.endpoints, "http://"+addrs[2*i])
	}
	for i := range replicas {
		name := fmt.Sprintf("e%d", i+1)
		client, peer := "http://"+addrs[2*i], "http://"+addrs[2*i+1]
		p := &proc{
			name: "etcd " + name,
			bin:  cfg.EtcdBin,
			args: []string{
				"--name", name,
				"--data-dir", filepath.Join(dir, name),
				"--listen-client-urls", client,
				"--advertise-client-urls", client,
				"--listen-peer-urls", peer,
				"--initial-advertise-peer-urls", peer,
				"--initial-cluster", strings.Join(initial, ","),
				"--initial-cluster-token", "logbench",
				"--initial-cluster-state", "new",
				"--logger", "zap",
				"--log-level", "warn",
			},
			logPath: filepath.Join(dir, name+".log"),
		}
		g.procs = append(g.procs, p)
		if err := p.start(); err != nil {
			return nil, err
		}
	}
	g.client, err = clientv3.New(clientv3.Config{
		Endpoints:   g.endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		Context:     context.WithoutCancel(ctx),
	})
	if err != nil {
		return nil, fmt.Errorf("logbench: etcd client: %w", err)
	}
	return g, nil
}

func (g *etcdGroup) name() string { return "etcd" }

func (g *etcdGroup) member(i int) *proc { return g.procs[i] }

func (g *etcdGroup) write(ctx context.Context, key string, value []byte) error {
	_, err := g.client.Put(ctx, key, string(value))
	return err
}

func (g *etcdGroup) leader(ctx context.Context) (int, error) {
	for i, ep := range g.endpoints {
		if g.procs[i].exited() {
			continue
		}
		st, err := g.client.Status(ctx, ep)
		if err == nil && st.Leader != 0 && st.Leader == st.Header.GetMemberId() {
			return i, nil
		}
	}
	return -1, errors.New("logbench: no etcd member is leader")
}

func (g *etcdGroup) healthy(ctx context.Context) error {
	for i, ep := range g.endpoints {
		if g.procs[i].exited() {
			return fmt.Errorf("logbench: %s exited (see %s)", g.procs[i].name, g.procs[i].logPath)
		}
		if _, err := g.client.Status(ctx, ep); err != nil {
			return err
		}
	}
	if _, err := g.leader(ctx); err != nil {
		return err
	}
	return g.write(ctx, "bench/health", []byte("ok"))
}

func (g *etcdGroup) close() {
	if g.client != nil {
		g.client.Close()
	}
	for _, p := range g.procs {
		p.stop(5 * time.Second)
	}
}
