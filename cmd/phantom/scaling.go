package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	controlplane "github.com/phantom-db/phantom/control-plane"
	"github.com/phantom-db/phantom/control-plane/autoscale"
	"github.com/phantom-db/phantom/control-plane/provision"
)

// provisionFlags configure how the control plane runs endpoint computes.
type provisionFlags struct {
	kind         string
	logservice   string
	pageserver   string
	computeBin   string
	computeLogs  string
	computeArgs  string
	interval     time.Duration
	drainGrace   time.Duration
	readyTimeout time.Duration
	// computeEnv is added to provisioned computes' environment (set by
	// phantom dev, not a flag).
	computeEnv []string
	// pageReplace starts a page server (restored from pageObjects) for a
	// shard whose page servers are all dead.
	pageReplace bool
	pageObjects string
	pageArgs    string
	// logReplace replaces a dead log replica through a membership change.
	logReplace bool
	logArgs    string
}

func (f *provisionFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.kind, "provisioner", "none", "how endpoint computes run: none (no autoscaling) or local (child processes on loopback)")
	fs.StringVar(&f.logservice, "compute-logservice", "127.0.0.1:8434", "log service address(es) given to provisioned computes")
	fs.StringVar(&f.pageserver, "compute-pageserver", "127.0.0.1:8437", "page server address given to provisioned computes")
	fs.StringVar(&f.computeBin, "compute-bin", "", "phantom binary for provisioned computes (default: $PHANTOM_BIN, else this executable)")
	fs.StringVar(&f.computeLogs, "compute-log-dir", "", "directory of provisioned computes' logs (default: <data-dir>/computes)")
	fs.StringVar(&f.computeArgs, "compute-args", "--log-level info", "extra flags for provisioned computes, space-separated")
	fs.DurationVar(&f.interval, "autoscale-interval", time.Second, "time between autoscaling decisions")
	fs.DurationVar(&f.drainGrace, "drain-grace", time.Second, "time between marking a compute draining (proxies stop routing to it) and SIGTERM")
	fs.DurationVar(&f.readyTimeout, "compute-ready-timeout", 60*time.Second, "longest a provisioned compute may take to answer /healthz")
	fs.BoolVar(&f.pageReplace, "pageserver-replace", false, "when every page server of a shard is declared dead (--heartbeat-timeout), start one as a child process that restores the shard from --pageserver-object-store (needs --nats-url)")
	fs.StringVar(&f.pageObjects, "pageserver-object-store", "", "object store of the page servers (for --pageserver-replace)")
	fs.StringVar(&f.pageArgs, "pageserver-args", "--log-level info", "extra flags for replacement page servers, space-separated")
	fs.BoolVar(&f.logReplace, "logservice-replace", false, "when a member of the log group (--logservice) is declared dead, remove it and add a new replica started as a child process (needs --nats-url)")
	fs.StringVar(&f.logArgs, "logservice-args", "--log-level info", "extra flags for replacement log replicas, space-separated")
}

// scaling is the autoscaler and provisioner of a control plane, and the
// replacer of dead page servers; each part may be absent.
type scaling struct {
	prov        provision.Provisioner
	ctrl        *autoscale.Controller
	pages       *provision.LocalPageServers
	replacer    *autoscale.PageServerReplacer
	logs        *provision.LocalLogReplicas
	logReplacer *autoscale.LogReplacer
}

func startScaling(f controlPlaneFlags, n *controlPlaneNode, log *slog.Logger) (*scaling, error) {
	if n.members != nil {
		exportMembership(n.members)
	}
	s := &scaling{}
	if f.provision.pageReplace {
		if err := s.startReplacer(f, n, log); err != nil {
			s.Close()
			return nil, err
		}
	}
	if f.provision.logReplace {
		if err := s.startLogReplacer(f, n, log); err != nil {
			s.Close()
			return nil, err
		}
	}
	switch f.provision.kind {
	case "none", "":
		return s, nil
	case "local":
	default:
		s.Close()
		return nil, fmt.Errorf("bad --provisioner %q: want none or local", f.provision.kind)
	}
	logDir := f.provision.computeLogs
	if logDir == "" {
		logDir = f.dataDir + "/computes"
	}
	token, err := adminToken(f)
	if err != nil {
		s.Close()
		return nil, err
	}
	var ctrlp atomic.Pointer[autoscale.Controller]
	prov, err := provision.NewLocal(provision.LocalConfig{
		Binary: f.provision.computeBin, LogService: f.provision.logservice, PageServer: f.provision.pageserver,
		ControlPlane: controlPlaneURLs(n.http.Addr(), f.peers), NATSURL: f.natsURL, LogDir: logDir,
		ExtraArgs: strings.Fields(f.provision.computeArgs), ReadyTimeout: f.provision.readyTimeout,
		// The token travels in the environment, not in argv (ps shows argv).
		Env:        append([]string{"PHANTOM_CONTROL_PLANE_TOKEN=" + token}, f.provision.computeEnv...),
		DrainGrace: f.provision.drainGrace, Logger: log.With("component", "provisioner"),
		OnChange: func(endpoint string) {
			if c := ctrlp.Load(); c != nil {
				c.Changed(endpoint)
			}
		},
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.prov = prov
	ctrl, err := autoscale.New(autoscale.Config{
		Endpoints:   func() ([]controlplane.Endpoint, error) { return n.svc.Endpoints("", "") },
		Provisioner: prov, Conn: n.nc, Interval: f.provision.interval, Logger: log.With("component", "autoscaler"),
		Dead: func() []string {
			if n.members == nil {
				return nil
			}
			return deadNodes(n.members)
		},
		// Only the Raft leader starts and drains computes.
		Active: n.svc.IsLeader,
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.ctrl = ctrl
	ctrlp.Store(ctrl)
	exportComputes(prov)
	n.svc.SetScaler(ctrl)
	return s, nil
}

// startReplacer runs the page server replacer (--pageserver-replace).
func (s *scaling) startReplacer(f controlPlaneFlags, n *controlPlaneNode, log *slog.Logger) error {
	if n.members == nil || f.provision.pageObjects == "" {
		return errors.New("--pageserver-replace needs --nats-url and --pageserver-object-store")
	}
	pages, err := provision.NewLocalPageServers(provision.PageServerConfig{
		Binary: f.provision.computeBin, LogService: f.provision.logservice, ObjectStore: f.provision.pageObjects,
		NATSURL: f.natsURL, DataDir: filepath.Join(f.dataDir, "pageservers"), ExtraArgs: strings.Fields(f.provision.pageArgs),
		Logger: log.With("component", "pageservers"),
	})
	if err != nil {
		return err
	}
	s.pages = pages
	members := membersView{n.members}
	s.replacer, err = autoscale.NewPageServerReplacer(autoscale.ReplacerConfig{
		Nodes: members.ClusterNodes,
		Start: func(ctx context.Context, id string, shard int) error {
			_, err := pages.Start(ctx, id, shard)
			return err
		},
		Logger: log.With("component", "pageserver-replacer"),
		// Only the Raft leader replaces page servers.
		Active: n.svc.IsLeader,
	})
	return err
}

// startLogReplacer runs the log replica replacer (--logservice-replace).
func (s *scaling) startLogReplacer(f controlPlaneFlags, n *controlPlaneNode, log *slog.Logger) error {
	if n.members == nil || n.logc == nil {
		return errors.New("--logservice-replace needs --nats-url and --logservice")
	}
	logs, err := provision.NewLocalLogReplicas(provision.LogReplicaConfig{
		Binary: f.provision.computeBin, NATSURL: f.natsURL, DataDir: filepath.Join(f.dataDir, "logreplicas"),
		ExtraArgs: strings.Fields(f.provision.logArgs), Logger: log.With("component", "logreplicas"),
	})
	if err != nil {
		return err
	}
	s.logs = logs
	s.logReplacer, err = autoscale.NewLogReplacer(autoscale.LogReplacerConfig{
		Nodes: membersView{n.members}.ClusterNodes, Admin: n.logc.Admin(), Replicas: logs,
		Logger: log.With("component", "log-replacer"),
		// Only the Raft leader replaces log replicas.
		Active: n.svc.IsLeader,
	})
	return err
}

// Close stops deciding, then drains every compute and stops the page
// servers and log replicas it started.
func (s *scaling) Close() {
	if s.logReplacer != nil {
		s.logReplacer.Close()
	}
	if s.logs != nil {
		s.logs.Close()
	}
	if s.replacer != nil {
		s.replacer.Close()
	}
	if s.ctrl != nil {
		s.ctrl.Close()
	}
	if s.prov != nil {
		s.prov.Close()
	}
	if s.pages != nil {
		s.pages.Close()
	}
}

// controlPlaneURLs is the --control-plane list given to provisioned
// computes: this replica first, then every other replica whose REST
// address --peers names, so a compute fails over when this one is gone.
func controlPlaneURLs(self, peers string) string {
	urls := []string{"http://" + self}
	ps, _ := controlplane.ParseRaftPeers(peers) // validated at startup
	for _, p := range ps {
		if p.HTTPAddr != "" && p.HTTPAddr != self {
			urls = append(urls, "http://"+p.HTTPAddr)
		}
	}
	return strings.Join(urls, ",")
}
