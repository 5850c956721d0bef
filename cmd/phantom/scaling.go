package main

import (
	"flag"
	"fmt"
	"log/slog"
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
}

// scaling is the autoscaler and provisioner of a control plane.
type scaling struct {
	prov provision.Provisioner
	ctrl *autoscale.Controller
}

func startScaling(f controlPlaneFlags, n *controlPlaneNode, log *slog.Logger) (*scaling, error) {
	switch f.provision.kind {
	case "none", "":
		return nil, nil
	case "local":
	default:
		return nil, fmt.Errorf("bad --provisioner %q: want none or local", f.provision.kind)
	}
	logDir := f.provision.computeLogs
	if logDir == "" {
		logDir = f.dataDir + "/computes"
	}
	token, err := adminToken(f)
	if err != nil {
		return nil, err
	}
	s := &scaling{}
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
		return nil, err
	}
	s.prov = prov
	ctrl, err := autoscale.New(autoscale.Config{
		Endpoints:   func() ([]controlplane.Endpoint, error) { return n.svc.Endpoints("", "") },
		Provisioner: prov, Conn: n.nc, Interval: f.provision.interval, Logger: log.With("component", "autoscaler"),
		// Only the Raft leader starts and drains computes.
		Active: n.svc.IsLeader,
	})
	if err != nil {
		prov.Close()
		return nil, err
	}
	s.ctrl = ctrl
	ctrlp.Store(ctrl)
	n.svc.SetScaler(ctrl)
	return s, nil
}

// Close stops deciding, then drains every compute.
func (s *scaling) Close() {
	s.ctrl.Close()
	s.prov.Close()
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
