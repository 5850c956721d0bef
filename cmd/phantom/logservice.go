package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phantom-db/phantom/internal/natsbus"
	"github.com/phantom-db/phantom/logservice"
)

// logserviceFlags configures a `phantom logservice` process.
type logserviceFlags struct {
	nodeID    string
	dataDir   string
	grpcAddr  string
	raftAddr  string
	raftAdv   string
	httpAddr  string
	natsURL   string
	bootstrap bool
	forward   bool
	raftCert  string
	raftKey   string
	raftCA    string
	peers     string
	logs      logFlags
}

func (f *logserviceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nodeID, "node-id", "log-1", "unique id of this log replica")
	fs.StringVar(&f.dataDir, "data-dir", "./phantom-data/logservice", "directory of the Raft log, stable store and snapshots")
	fs.StringVar(&f.grpcAddr, "grpc-addr", "127.0.0.1:8434", "gRPC API listen address (compute and page servers connect here)")
	fs.StringVar(&f.raftAddr, "raft-addr", "127.0.0.1:8435", "Raft peer transport listen address")
	fs.StringVar(&f.raftAdv, "raft-advertise-addr", "", "Raft address peers dial and the group configuration records (empty: the bound --raft-addr)")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8436", "admin HTTP address (/healthz, /metrics)")
	fs.StringVar(&f.natsURL, "nats-url", "", "NATS URL for heartbeats (empty: none)")
	fs.BoolVar(&f.bootstrap, "bootstrap", true, "bootstrap a new group when the data dir holds none")
	fs.BoolVar(&f.forward, "forward-to-leader", false, "a follower forwards GetTimestamp and Commit to the leader instead of redirecting the client")
	fs.StringVar(&f.raftCert, "raft-tls-cert", "", "PEM certificate for mutual TLS between Raft peers (must carry URI SAN "+logservice.DefaultRaftPeerURI+"; empty: plain TCP)")
	fs.StringVar(&f.raftKey, "raft-tls-key", "", "PEM private key of --raft-tls-cert")
	fs.StringVar(&f.raftCA, "raft-tls-ca", "", "PEM CA bundle Raft peers are verified against")
	fs.StringVar(&f.peers, "peers", "", "initial voters for bootstrap as id=raftaddr[=grpcaddr],... (empty: this node alone)")
}

func logserviceCommand() *ffcli.Command {
	var f logserviceFlags
	cmd := serviceCommand("logservice", "run a log service replica (the Raft-replicated WAL)", f.register, &f.logs,
		func(ctx context.Context, log *slog.Logger) (io.Closer, error) { return startLogservice(ctx, f, log) })
	cmd.Subcommands = []*ffcli.Command{logadminCommand(os.Stdout)}
	return cmd
}

// logserviceNode is a running log service replica.
type logserviceNode struct {
	svc    *logservice.Service
	grpc   *grpcServer
	http   *httpServer
	stopHB func()
	log    *slog.Logger
}

func parsePeers(s string) ([]logservice.Peer, error) {
	var peers []logservice.Peer
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		parts := strings.Split(p, "=")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("bad --peers entry %q: want id=raftaddr[=grpcaddr]", p)
		}
		peer := logservice.Peer{ID: parts[0], RaftAddr: parts[1]}
		if len(parts) == 3 {
			peer.APIAddr = parts[2]
		}
		peers = append(peers, peer)
	}
	return peers, nil
}

func startLogservice(ctx context.Context, f logserviceFlags, log *slog.Logger) (*logserviceNode, error) {
	peers, err := parsePeers(f.peers)
	if err != nil {
		return nil, err
	}
	raftTLS, err := loadRaftTLS(f.raftCert, f.raftKey, f.raftCA)
	if err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(f.dataDir)
	if err != nil {
		return nil, fmt.Errorf("logservice data dir: %w", err)
	}
	// Listen first so the replica can name its gRPC address to clients
	// (not-leader answers and Status carry the leader's API address).
	g, err := listenGRPC(f.grpcAddr)
	if err != nil {
		return nil, err
	}
	svc, err := logservice.New(ctx, logservice.Config{
		NodeID:            f.nodeID,
		DataDir:           dataDir,
		RaftAddr:          f.raftAddr,
		RaftAdvertiseAddr: f.raftAdv,
		APIAddr:           g.Addr(),
		Bootstrap:         f.bootstrap,
		ForwardToLeader:   f.forward,
		RaftTLS:           raftTLS,
		Peers:             peers,
		Registerer:        prometheus.DefaultRegisterer,
		Logger:            log,
	})
	if err != nil {
		g.lis.Close()
		return nil, err
	}
	svc.Register(g.srv)
	svc.RegisterAdmin(g.srv)
	g.serve(log)
	h, err := startHTTP(f.httpAddr, adminHandler(), log)
	if err != nil {
		g.Close()
		svc.Close()
		return nil, err
	}
	// The heartbeat says whether this replica leads (GET /v1/cluster).
	leads := func() natsbus.Load {
		v := 0.0
		if svc.IsLeader() {
			v = 1
		}
		return natsbus.Load{Extra: map[string]float64{"leader": v}}
	}
	stop, err := heartbeatLoad(ctx, f.natsURL, f.nodeID, natsbus.RoleLogService, g.Addr(), leads, log)
	if err != nil {
		h.Close()
		g.Close()
		svc.Close()
		return nil, err
	}
	n := &logserviceNode{svc: svc, grpc: g, http: h, stopHB: stop, log: log}
	n.log.Info("log service ready", "grpc", n.grpc.Addr(), "raft", n.svc.RaftAddr(), "raft_bind", n.svc.RaftBindAddr(), "http", n.http.Addr())
	return n, nil
}

// Close stops serving and shuts the replica down cleanly.
func (n *logserviceNode) Close() error {
	n.stopHB()
	n.http.Close()
	n.grpc.Close()
	if err := n.svc.Close(); err != nil {
		return fmt.Errorf("close log service: %w", err)
	}
	n.log.Info("log service stopped")
	return nil
}

// loadRaftTLS loads the Raft peer TLS material; all three files or none.
func loadRaftTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" && caFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" || caFile == "" {
		return nil, fmt.Errorf("--raft-tls-cert, --raft-tls-key and --raft-tls-ca go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("raft tls key pair: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("raft tls ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("raft tls ca %s: no PEM certificates", caFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}, nil
}
