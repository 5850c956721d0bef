package logservice

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// fwdProxy forwards every accepted TCP connection to target, counting them.
type fwdProxy struct {
	lis      net.Listener
	target   atomic.Value // string
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func startProxy(t *testing.T) *fwdProxy {
	t.Helper()
	p := &fwdProxy{lis: listen(t)}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := p.lis.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			go p.forward(c)
		}
	}()
	t.Cleanup(func() { _ = p.lis.Close(); p.wg.Wait() })
	return p
}

func (p *fwdProxy) forward(c net.Conn) {
	defer func() { _ = c.Close() }()
	target, _ := p.target.Load().(string)
	up, err := net.DialTimeout("tcp", target, time.Second)
	if err != nil {
		return
	}
	defer func() { _ = up.Close() }()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

func (p *fwdProxy) addr() string { return p.lis.Addr().String() }

// TestRaftAdvertiseAddr routes all peer traffic of a 3-node group through
// proxies: each node binds its own port and advertises its proxy.
func TestRaftAdvertiseAddr(t *testing.T) {
	base := t.TempDir()
	proxies := []*fwdProxy{startProxy(t), startProxy(t), startProxy(t)}
	lis := []net.Listener{listen(t), listen(t), listen(t)}
	var peers []Peer
	for i := range 3 {
		peers = append(peers, Peer{ID: fmt.Sprintf("n%d", i+1), RaftAddr: proxies[i].addr(), APIAddr: lis[i].Addr().String()})
	}
	var nodes []*testNode
	for _, i := range []int{1, 2, 0} {
		cfg := testConfig(peers[i].ID, filepath.Join(base, peers[i].ID))
		cfg.RaftAdvertiseAddr = proxies[i].addr()
		cfg.Peers = peers
		cfg.Bootstrap = i == 0
		// The proxy learns its target before the node can be dialled
		// through it: the bootstrapping node starts last.
		n := startNodeOn(t, cfg, lis[i])
		proxies[i].target.Store(n.svc.RaftBindAddr())
		if n.svc.RaftAddr() != proxies[i].addr() || n.svc.RaftBindAddr() == proxies[i].addr() {
			t.Fatalf("%s: RaftAddr %s, RaftBindAddr %s, proxy %s", cfg.NodeID, n.svc.RaftAddr(), n.svc.RaftBindAddr(), proxies[i].addr())
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		waitLeader(t, n)
	}
	c := dial(t, nodes[0].addr+","+nodes[1].addr+","+nodes[2].addr)
	var acks []acked
	for i := range 5 {
		acks = append(acks, commitKey(t, c, fmt.Sprintf("k%d", i), map[string]bool{}))
	}
	for _, n := range nodes {
		checkLog(t, readN(t, dial(t, n.addr), 1, len(acks)), acks)
	}
	f := nodes[0].svc.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	got := map[raft.ServerID]raft.ServerAddress{}
	for _, srv := range f.Configuration().Servers {
		got[srv.ID] = srv.Address
	}
	for i, p := range peers {
		if got[raft.ServerID(p.ID)] != raft.ServerAddress(proxies[i].addr()) {
			t.Fatalf("configuration %v: %s not at its proxy %s", got, p.ID, proxies[i].addr())
		}
	}
	// Every follower was replicated to through its proxy.
	leader := -1
	for i, n := range nodes {
		if n.svc.IsLeader() {
			leader = i
		}
	}
	order := []int{1, 2, 0} // nodes[] is in start order
	for j, n := range nodes {
		if j != leader && proxies[order[j]].accepted.Load() == 0 {
			t.Fatalf("follower %s received no connection through its proxy", n.cfg.NodeID)
		}
	}
}

func TestValidateAdvertise(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:7000": true, "log-1.svc:7000": true, "[::1]:7000": true,
		"0.0.0.0:7000": false, ":7000": false, "127.0.0.1:0": false, "127.0.0.1": false,
	} {
		cfg := testConfig("n1", t.TempDir())
		cfg.RaftAdvertiseAddr = addr
		cfg.EnsureDefaults()
		if err := cfg.Validate(); (err == nil) != ok {
			t.Errorf("RaftAdvertiseAddr %q: Validate() = %v, want ok=%v", addr, err, ok)
		}
	}
}
