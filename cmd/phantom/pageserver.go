package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/prometheus/client_golang/prometheus"

	controlplane "github.com/phantom-db/phantom/control-plane"
	"github.com/phantom-db/phantom/internal/natsbus"
	"github.com/phantom-db/phantom/internal/objstore"
	"github.com/phantom-db/phantom/logservice/logclient"
	"github.com/phantom-db/phantom/pageserver"
)

// pageserverFlags configures a `phantom pageserver` process.
type pageserverFlags struct {
	nodeID             string
	dataDir            string
	grpcAddr           string
	httpAddr           string
	logAddr            string
	objectStore        string
	objectPrefix       string
	checkpointInterval time.Duration
	gcInterval         time.Duration
	retention          time.Duration
	gcGrace            time.Duration
	natsURL            string
	restore            string
	logs               logFlags
}

func (f *pageserverFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nodeID, "node-id", "page-1", "unique id of this page server")
	fs.StringVar(&f.dataDir, "data-dir", "./phantom-data/pageserver", "local directory of the Pebble cache")
	fs.StringVar(&f.grpcAddr, "grpc-addr", "127.0.0.1:8437", "gRPC API listen address (compute connects here)")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8438", "admin HTTP address (/healthz, /metrics)")
	fs.StringVar(&f.logAddr, "logservice", "127.0.0.1:8434", "log service gRPC address(es) to pull the log from, comma-separated")
	fs.StringVar(&f.objectStore, "object-store", "./phantom-data/objects", "object store: a directory, file:///dir, or s3://bucket/prefix?endpoint=host:port")
	fs.StringVar(&f.objectPrefix, "object-prefix", "shards/0/", "key prefix of this shard's objects")
	fs.DurationVar(&f.checkpointInterval, "checkpoint-interval", 30*time.Second, "how often to checkpoint to the object store (0: only on shutdown)")
	fs.DurationVar(&f.gcInterval, "gc-interval", pageserver.DefaultGCInterval, "how often to garbage-collect old versions and unreferenced objects (0: never)")
	fs.DurationVar(&f.retention, "retention", pageserver.DefaultRetention, "how far back reads may go; older versions are garbage-collected (0: keep everything)")
	fs.DurationVar(&f.gcGrace, "gc-grace", time.Minute, "how much older than the retention horizon garbage collection's horizon is (a deleted branch's rows go once its deletion is older than --retention plus this)")
	fs.StringVar(&f.natsURL, "nats-url", "", "NATS URL for heartbeats (empty: none)")
	fs.StringVar(&f.restore, "restore", string(pageserver.RestoreLazy), "restore of an empty disk from the newest checkpoint: lazy (serve at once, fetch SSTs on first use and in the background) or eager (download everything first)")
}

func pageserverCommand() *ffcli.Command {
	var f pageserverFlags
	return serviceCommand("pageserver", "run a page server (applies the log into Pebble, checkpoints to object storage)", f.register, &f.logs,
		func(ctx context.Context, log *slog.Logger) (io.Closer, error) { return startPageserver(ctx, f, log) })
}

// pageserverNode is a running page server.
type pageserverNode struct {
	srv    *pageserver.Server
	logc   *logclient.Client
	grpc   *grpcServer
	http   *httpServer
	stopHB func()
	log    *slog.Logger
}

func startPageserver(ctx context.Context, f pageserverFlags, log *slog.Logger) (*pageserverNode, error) {
	log = log.With("node", f.nodeID)
	dataDir, err := filepath.Abs(f.dataDir)
	if err != nil {
		return nil, fmt.Errorf("pageserver data dir: %w", err)
	}
	restore, err := pageserver.ParseRestoreMode(f.restore)
	if err != nil {
		return nil, fmt.Errorf("--restore: %w", err)
	}
	store, err := objstore.Open(ctx, f.objectStore)
	if err != nil {
		return nil, err
	}
	logc, err := logclient.Dial(ctx, f.logAddr)
	if err != nil {
		return nil, err
	}
	interval := f.checkpointInterval
	if interval == 0 {
		interval = -1 // the flag's 0 means "only on shutdown"; the config's means "default"
	}
	gcInterval, retention := f.gcInterval, f.retention
	if gcInterval == 0 {
		gcInterval = -1 // the flags' 0 means "never"/"forever"; the config's means "default"
	}
	if retention == 0 {
		retention = -1
	}
	srv, err := pageserver.New(ctx, pageserver.Config{
		DataDir:            dataDir,
		Log:                logc,
		Store:              store,
		Prefix:             f.objectPrefix,
		CheckpointInterval: interval,
		GCInterval:         gcInterval,
		Retention:          retention,
		GCGrace:            f.gcGrace,
		Restore:            restore,
		NodeID:             f.nodeID,
		Registerer:         prometheus.DefaultRegisterer,
		Reporter:           logc,
		Logger:             log,
	})
	if err != nil {
		logc.Close()
		return nil, err
	}
	n := &pageserverNode{srv: srv, logc: logc, log: log, stopHB: func() {}}
	if n.grpc, err = listenGRPC(f.grpcAddr); err != nil {
		n.Close()
		return nil, err
	}
	srv.Register(n.grpc.srv)
	n.grpc.serve(log)
	if n.http, err = startHTTP(f.httpAddr, adminHandler(), log); err != nil {
		n.Close()
		return nil, err
	}
	// The heartbeat carries the shard and its positions: the control
	// plane's GET /v1/cluster shows them, and computes find the page
	// servers of their shard by it.
	shard := controlplane.ShardOfPrefix(f.objectPrefix)
	hbLoad := func() natsbus.Load {
		st, err := srv.Status(ctx, nil)
		if err != nil {
			return natsbus.Load{}
		}
		return natsbus.Load{Extra: map[string]float64{controlplane.LoadShard: float64(shard),
			controlplane.LoadAppliedIndex: float64(st.AppliedIndex), controlplane.LoadCheckpointIndex: float64(st.CheckpointIndex)}}
	}
	if n.stopHB, err = heartbeatLoad(ctx, f.natsURL, f.nodeID, natsbus.RolePageServer, n.grpc.Addr(), hbLoad, log); err != nil {
		n.stopHB = func() {}
		n.Close()
		return nil, err
	}
	n.log.Info("page server ready", "grpc", n.grpc.Addr(), "http", n.http.Addr())
	return n, nil
}

// Close stops serving, takes a final checkpoint and closes Pebble.
func (n *pageserverNode) Close() error {
	n.stopHB()
	if n.http != nil {
		n.http.Close()
	}
	if n.grpc != nil {
		n.grpc.Close()
	}
	err := n.srv.Close()
	n.logc.Close()
	if err != nil {
		return fmt.Errorf("close page server: %w", err)
	}
	n.log.Info("page server stopped")
	return nil
}
