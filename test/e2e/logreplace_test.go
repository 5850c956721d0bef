package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phantom-db/phantom/internal/natsbus"
	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
	"github.com/phantom-db/phantom/test/cluster"
)

// TestLogReplicaReplaced: a 3-replica log group heartbeats to a control
// plane run with --logservice-replace. A follower is SIGKILLed; once the
// membership declares it dead the control plane removes it from the Raft
// configuration and adds a new replica as a voter, so the group is back at
// 3 voters; commits go on and the new replica has them.
func TestLogReplicaReplaced(t *testing.T) {
	ns, err := natsbus.StartEmbedded(natsbus.ServerConfig{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	lc := cluster.StartLogCluster(t, cluster.LogClusterConfig{Replicas: 3,
		ExtraArgs: []string{"--nats-url", ns.ClientURL(), "--log-level", "warn"}})
	cpHTTP := cluster.FreeAddr(t)
	cp := cluster.Start(t, "control-plane", "control-plane", "--data-dir", filepath.Join(t.TempDir(), "cp"),
		"--http-addr", cpHTTP, "--admin-token", cluster.TestAdminToken, "--nats-url", ns.ClientURL(),
		"--logservice", lc.Addrs(), "--heartbeat-timeout", "2s", "--logservice-replace",
		"--compute-bin", cluster.Binary(t), "--logservice-args", "--log-level info", "--log-level", "info")
	cluster.WaitHTTP(t, "http://"+cpHTTP+"/healthz", 60*time.Second, cp)
	t.Cleanup(func() { cp.Stop(60 * time.Second) })

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	client := lc.Client()
	commit := func(i int) uint64 {
		t.Helper()
		ts, _, err := client.GetTimestamp(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		cts, _, err := client.Commit(ctx, ts, []*wirepb.Mutation{{Key: []byte(fmt.Sprintf("k%04d", i)), Value: []byte("v")}}, nil)
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
		return cts
	}
	for i := range 20 {
		commit(i)
	}
	// The control plane acts only on members it saw alive.
	e := &elastic{cpURL: "http://" + cpHTTP}
	waitCluster(t, e, "three log replicas heartbeat", func(c clusterView) bool {
		n, leaders := 0, 0
		for _, nd := range c.Nodes {
			if nd.Role == "logservice" && nd.Health == "alive" {
				n++
				if nd.Load["leader"] == 1 {
					leaders++
				}
			}
		}
		return n == 3 && leaders == 1
	})
	leader, err := lc.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim := (leader + 1) % 3
	victimID := lc.Nodes[victim].ID
	t.Logf("SIGKILL follower %s", victimID)
	killedAt := time.Now()
	lc.Kill(victim)
	// Commits go on with 2 of 3.
	for i := 20; i < 30; i++ {
		commit(i)
	}

	var fresh *wirepb.ServerInfo
	deadline := time.Now().Add(45 * time.Second)
	for fresh == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the dead replica was not replaced within 45 s\ncontrol plane:\n%s", cp.Log())
		}
		time.Sleep(200 * time.Millisecond)
		conf, err := client.Admin().Configuration(ctx)
		if err != nil {
			continue
		}
		var voters int
		var found *wirepb.ServerInfo
		gone := true
		for _, s := range conf.GetServers() {
			if s.GetId() == victimID {
				gone = false
			}
			if s.GetSuffrage() == "Voter" {
				voters++
			}
			if strings.HasPrefix(s.GetId(), "log-r") && s.GetSuffrage() == "Voter" {
				found = s
			}
		}
		if gone && voters == 3 && found != nil {
			fresh = found
		}
	}
	t.Logf("log group back at 3 voters with %s (%s) %v after the kill", fresh.GetId(), fresh.GetApiAddr(), time.Since(killedAt).Round(time.Millisecond))
	var last uint64
	for i := 30; i < 40; i++ {
		last = commit(i)
	}
	// The new replica has the log up to the last commit.
	nc, err := logclient.Dial(ctx, fresh.GetApiAddr(), logclient.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	deadline = time.Now().Add(30 * time.Second)
	for {
		st, err := nc.Status(ctx)
		if err == nil && st.GetLastCommitTs() >= last {
			t.Logf("new replica %s: state %s, commit index %d", st.GetNodeId(), st.GetState(), st.GetCommitIndex())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new replica did not catch up: %v %v (want last commit ts %d)", st, err, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
