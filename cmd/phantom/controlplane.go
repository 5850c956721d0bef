package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/peterbourgon/ff/v3/ffcli"

	controlplane "github.com/phantom-db/phantom/control-plane"
	"github.com/phantom-db/phantom/internal/natsbus"
	"github.com/phantom-db/phantom/logservice/logclient"
	"github.com/phantom-db/phantom/pageserver"
)

// controlPlaneFlags configures a `phantom control-plane` process.
type controlPlaneFlags struct {
	nodeID           string
	dataDir          string
	httpAddr         string
	natsURL          string
	heartbeatTimeout time.Duration
	logAddr          string
	retention        time.Duration
	provision        provisionFlags
	adminToken       string
	adminTokenFile   string
	raftAddr         string
	raftAdv          string
	peers            string
	bootstrap        bool
	raftCert         string
	raftKey          string
	raftCA           string
	logs             logFlags
}

func (f *controlPlaneFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nodeID, "node-id", "cp-1", "unique id of this control plane node")
	fs.StringVar(&f.dataDir, "data-dir", "./phantom-data/control-plane", "directory of the control plane state (Raft log, stable store, snapshots)")
	fs.StringVar(&f.raftAddr, "raft-addr", "", "Raft peer transport listen address (empty: a single replica without a Raft port)")
	fs.StringVar(&f.raftAdv, "raft-advertise-addr", "", "Raft address peers dial and the group configuration records (empty: the bound --raft-addr)")
	fs.StringVar(&f.peers, "peers", "", "voters of a new group as id=raftaddr[=httpaddr],..., the same list on every replica (empty: this replica alone)")
	fs.BoolVar(&f.bootstrap, "bootstrap", true, "bootstrap a new group from --peers when the data dir holds none (false: wait to be added)")
	fs.StringVar(&f.raftCert, "raft-tls-cert", "", "PEM certificate for mutual TLS between Raft peers (must carry URI SAN "+controlplane.PeerURI+"; empty: plain TCP)")
	fs.StringVar(&f.raftKey, "raft-tls-key", "", "PEM private key of --raft-tls-cert")
	fs.StringVar(&f.raftCA, "raft-tls-ca", "", "PEM CA bundle Raft peers are verified against")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8433", "REST API listen address")
	fs.StringVar(&f.natsURL, "nats-url", "", "NATS URL for membership heartbeats (empty: no membership)")
	fs.DurationVar(&f.heartbeatTimeout, "heartbeat-timeout", 10*time.Second, "declare a node dead after this long without a heartbeat")
	fs.StringVar(&f.logAddr, "logservice", "127.0.0.1:8434", "log service gRPC address(es), comma-separated, that branch records are committed through (empty: no branches)")
	fs.DurationVar(&f.retention, "retention", pageserver.DefaultRetention, "the page servers' --retention: how far back a branch may fork (0: no limit)")
	f.provision.register(fs)
	fs.StringVar(&f.adminToken, "admin-token", "", "bearer token the API requires (empty: read --admin-token-file)")
	fs.StringVar(&f.adminTokenFile, "admin-token-file", "", "file holding the admin token (default <data-dir>/admin-token, created with a random token when missing)")
}

func controlPlaneCommand() *ffcli.Command {
	var f controlPlaneFlags
	return serviceCommand("control-plane", "run the control plane (tenants, databases, branches, membership)", f.register, &f.logs,
		func(ctx context.Context, log *slog.Logger) (io.Closer, error) { return startControlPlane(ctx, f, log) })
}

// controlPlaneNode is a running control plane.
type controlPlaneNode struct {
	svc     *controlplane.Service
	logc    *logclient.Client
	members *natsbus.Membership
	nc      *nats.Conn
	http    *httpServer
	stopHB  func()
	scaling *scaling
	log     *slog.Logger
}

// membersView adapts natsbus.Membership to the control plane's view.
type membersView struct{ m *natsbus.Membership }

func (v membersView) Nodes() any { return v.m.Nodes() }

func startControlPlane(ctx context.Context, f controlPlaneFlags, log *slog.Logger) (*controlPlaneNode, error) {
	log = log.With("service", "control-plane", "node", f.nodeID)
	n := &controlPlaneNode{log: log, stopHB: func() {}}
	token, err := adminToken(f)
	if err != nil {
		return nil, err
	}
	peers, err := controlplane.ParseRaftPeers(f.peers)
	if err != nil {
		return nil, err
	}
	raftTLS, err := loadRaftTLS(f.raftCert, f.raftKey, f.raftCA)
	if err != nil {
		return nil, err
	}
	cfg := controlplane.Config{DataDir: f.dataDir, Logger: log, AdminToken: token, Retention: f.retention,
		Raft: controlplane.RaftConfig{NodeID: f.nodeID, RaftAddr: f.raftAddr, RaftAdvertiseAddr: f.raftAdv,
			Peers: peers, NoBootstrap: !f.bootstrap, TLS: raftTLS}}
	if f.logAddr != "" {
		logc, err := logclient.Dial(ctx, f.logAddr, logclient.WithLogger(log))
		if err != nil {
			return nil, fmt.Errorf("dial log service %s: %w", f.logAddr, err)
		}
		n.logc, cfg.Log = logc, logc
	}
	if f.natsURL != "" {
		nc, err := nats.Connect(f.natsURL, nats.Name("phantom-control-plane-"+f.nodeID), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("connect nats %s: %w", f.natsURL, err)
		}
		n.nc = nc
		m, err := natsbus.StartMembership(nc, natsbus.MembershipConfig{Timeout: f.heartbeatTimeout, Logger: log})
		if err != nil {
			n.Close()
			return nil, err
		}
		n.members = m
		cfg.Members = membersView{m}
	}
	// Listen first, so the replica knows (and as leader records) the REST
	// address followers forward to; until the service is open the API
	// answers 503.
	handler := &swapHandler{}
	if n.http, err = startHTTP(f.httpAddr, handler, log); err != nil {
		n.Close()
		return nil, err
	}
	cfg.Raft.HTTPAddr = n.http.Addr()
	svc, err := controlplane.New(cfg)
	if err != nil {
		n.Close()
		return nil, err
	}
	n.svc = svc
	handler.set(svc.Handler())
	if n.stopHB, err = heartbeat(ctx, f.natsURL, f.nodeID, natsbus.RoleControlPlane, n.http.Addr(), log); err != nil {
		n.stopHB = func() {}
		n.Close()
		return nil, err
	}
	if n.scaling, err = startScaling(f, n, log); err != nil {
		n.Close()
		return nil, err
	}
	n.log.Info("control plane ready", "http", n.http.Addr(), "raft", svc.RaftAddr(), "peers", len(peers), "provisioner", f.provision.kind)
	return n, nil
}

// swapHandler serves 503 until set installs the real handler.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

// ServeHTTP implements http.Handler.
func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, `{"error":{"code":"starting","message":"the control plane is starting"}}`+"\n")
}

// adminToken returns the control plane's admin token: --admin-token, else
// the content of --admin-token-file, else of <data-dir>/admin-token, which
// is created (mode 0600) with a random token on first start.
func adminToken(f controlPlaneFlags) (string, error) {
	if f.adminToken != "" {
		return f.adminToken, nil
	}
	path := f.adminTokenFile
	if path == "" {
		path = filepath.Join(f.dataDir, "admin-token")
	}
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) || f.adminTokenFile != "" {
		return "", fmt.Errorf("admin token: %w", err)
	}
	tok := randomToken("pha_")
	if err := os.MkdirAll(f.dataDir, 0o755); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return tok, nil
}

// randomToken is prefix and 32 random bytes in hex.
func randomToken(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b[:])
}

// Close stops the API and membership tracking.
func (n *controlPlaneNode) Close() error {
	n.stopHB()
	if n.scaling != nil {
		n.scaling.Close()
	}
	if n.http != nil {
		n.http.Close()
	}
	if n.svc != nil {
		if err := n.svc.Close(); err != nil {
			n.log.Warn("close control plane state", "err", err)
		}
	}
	if n.members != nil {
		n.members.Close()
	}
	if n.nc != nil {
		n.nc.Close()
	}
	if n.logc != nil {
		_ = n.logc.Close()
	}
	n.log.Info("control plane stopped")
	return nil
}
