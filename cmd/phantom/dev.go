package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	controlplane "github.com/phantom-db/phantom/control-plane"
	"github.com/phantom-db/phantom/internal/natsbus"
)

// devFlags configures `phantom dev`: every service in one process, each on
// its own loopback port and talking to the others through its network API.
type devFlags struct {
	dataDir            string
	host               string
	portBase           int
	objectStore        string
	checkpointInterval time.Duration
	authMode           string
	httpTLS            bool
	sessionIdle        time.Duration
	pprofAddr          string
	queryParallelism   int
	statementTimeout   time.Duration
	logs               logFlags
}

func (f *devFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dataDir, "data-dir", "./phantom-data", "directory holding every service's data")
	fs.StringVar(&f.host, "host", "127.0.0.1", "address every service listens on")
	fs.IntVar(&f.portBase, "port-base", 8432, "SQL HTTP API port; the other services take the next 10 ports (0: free ports)")
	fs.StringVar(&f.objectStore, "object-store", "", "object store URL (default: <data-dir>/objects; s3://bucket/prefix?endpoint=host:port for MinIO/S3)")
	fs.DurationVar(&f.checkpointInterval, "checkpoint-interval", 30*time.Second, "page server checkpoint interval")
	fs.StringVar(&f.authMode, "auth", "keys", `client authentication of the compute node: "keys" (a dev API key and a dev role are created and printed) or "none"`)
	fs.DurationVar(&f.sessionIdle, "session-idle-timeout", 5*time.Minute, "roll back and close an HTTP session of the compute unused this long")
	fs.BoolVar(&f.httpTLS, "http-tls", false, "serve the HTTP SQL API over HTTPS with the dev certificate (the PostgreSQL protocol always offers TLS)")
	fs.DurationVar(&f.statementTimeout, "statement-timeout", 30*time.Second, "longest a statement may execute on the compute node")
	fs.IntVar(&f.queryParallelism, "query-parallelism", 0, "workers an aggregate over a large input runs on in the compute (0: GOMAXPROCS; 1: every statement on one goroutine)")
	fs.StringVar(&f.pprofAddr, "pprof", "", "serve Go's runtime profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (default: off)")
	f.logs.register(fs)
}

// Offsets of each service's port from --port-base:
//
//	+0  compute HTTP SQL API      +6  page server admin HTTP
//	+1  control plane REST        +7  NATS
//	+2  log service gRPC          +8  compute PostgreSQL protocol
//	+3  log service Raft          +9  proxy HTTP SQL API
//	+4  log service admin HTTP    +10 proxy PostgreSQL protocol
//	+5  page server gRPC
//
// Computes the control plane provisions for endpoints take free ports.
const (
	offSQL = iota
	offControlPlane
	offLogGRPC
	offLogRaft
	offLogHTTP
	offPageGRPC
	offPageHTTP
	offNATS
	offPG
	offProxyHTTP
	offProxyPG
)

func (f *devFlags) addr(off int) string {
	if f.portBase == 0 {
		return net.JoinHostPort(f.host, "0")
	}
	return net.JoinHostPort(f.host, strconv.Itoa(f.portBase+off))
}

func devCommand() *ffcli.Command {
	var f devFlags
	fs := flag.NewFlagSet("phantom dev", flag.ContinueOnError)
	f.register(fs)
	return &ffcli.Command{
		Name:       "dev",
		ShortUsage: "phantom dev [flags]",
		ShortHelp:  "run every service in one process on loopback (the embedded default)",
		LongHelp: "Starts an embedded NATS server, a log service (one Raft voter), a page server\n" +
			"(Pebble plus a local-directory object store), a control plane and a compute\n" +
			"node serving the HTTP SQL API, all under one data directory; plus a proxy\n" +
			"that routes to the computes of endpoint \"main\" (created at first start, scaled\n" +
			"from zero on demand as child processes).",
		FlagSet: fs,
		Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			log, err := newLogger(f.logs.level, f.logs.format)
			if err != nil {
				return err
			}
			return runDev(ctx, f, log)
		},
	}
}

// flagDefaults fills a service's flag struct with its flag defaults.
func flagDefaults(register func(*flag.FlagSet)) {
	register(flag.NewFlagSet("defaults", flag.ContinueOnError))
}

// devInfo is written to <data-dir>/dev.json once every service is ready, so
// tools and tests can find the ports.
type devInfo struct {
	PID          int    `json:"pid"`
	SQLURL       string `json:"sql_url"`
	PGAddr       string `json:"pg_addr"`
	ControlPlane string `json:"control_plane_url"`
	LogService   string `json:"logservice_addr"`
	PageServer   string `json:"pageserver_addr"`
	NATS         string `json:"nats_url"`
	ProxyURL     string `json:"proxy_url"`
	ProxyPGAddr  string `json:"proxy_pg_addr"`
	// AdminToken is the control plane's admin token.
	AdminToken string `json:"admin_token"`
	// APIKey is a read-write key for tenant default, database phantom.
	APIKey string `json:"api_key,omitempty"`
	// PGUser and PGPassword log in over the PostgreSQL protocol (SCRAM).
	PGUser     string `json:"pg_user,omitempty"`
	PGPassword string `json:"pg_password,omitempty"`
	// TLSCert is the self-signed certificate the compute node presents.
	TLSCert string `json:"tls_cert"`
}

func runDev(ctx context.Context, f devFlags, log *slog.Logger) (err error) {
	dataDir, err := filepath.Abs(f.dataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	objects := f.objectStore
	if objects == "" {
		objects = filepath.Join(dataDir, "objects")
	}
	// Services stop in the reverse order of their start.
	var closers []func() error
	stopPprof, err := startPprof(f.pprofAddr, log)
	if err != nil {
		return err
	}
	closers = append(closers, stopPprof)
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			if cerr := closers[i](); cerr != nil {
				log.Error("shutdown", "err", cerr)
				if err == nil {
					err = cerr
				}
			}
		}
	}()

	natsHost, natsPort, _ := net.SplitHostPort(f.addr(offNATS))
	port, _ := strconv.Atoi(natsPort)
	ns, err := natsbus.StartEmbedded(natsbus.ServerConfig{Host: natsHost, Port: port, Logger: log})
	if err != nil {
		return err
	}
	closers = append(closers, func() error { ns.Shutdown(); return nil })
	natsURL := ns.ClientURL()

	// Each service starts from its own flag defaults; dev only moves
	// addresses and directories.
	var lf logserviceFlags
	flagDefaults(lf.register)
	lf.dataDir = filepath.Join(dataDir, "logservice")
	lf.grpcAddr, lf.raftAddr, lf.httpAddr = f.addr(offLogGRPC), f.addr(offLogRaft), f.addr(offLogHTTP)
	lf.natsURL = natsURL
	ls, err := startLogservice(ctx, lf, log)
	if err != nil {
		return err
	}
	closers = append(closers, ls.Close)

	var pf pageserverFlags
	flagDefaults(pf.register)
	pf.dataDir = filepath.Join(dataDir, "pageserver")
	pf.grpcAddr, pf.httpAddr, pf.logAddr = f.addr(offPageGRPC), f.addr(offPageHTTP), ls.grpc.Addr()
	pf.objectStore, pf.checkpointInterval, pf.natsURL = objects, f.checkpointInterval, natsURL
	ps, err := startPageserver(ctx, pf, log)
	if err != nil {
		return err
	}
	closers = append(closers, ps.Close)

	var cf controlPlaneFlags
	flagDefaults(cf.register)
	cf.dataDir = filepath.Join(dataDir, "control-plane")
	cf.httpAddr, cf.natsURL, cf.logAddr = f.addr(offControlPlane), natsURL, ls.grpc.Addr()
	if cf.adminToken, err = adminToken(cf); err != nil {
		return err
	}
	certPath, keyPath, err := devCertificate(filepath.Join(dataDir, "tls"), f.host)
	if err != nil {
		return err
	}
	cf.provision.kind = "local"
	cf.provision.logservice, cf.provision.pageserver = ls.grpc.Addr(), ps.grpc.Addr()
	// Computes the autoscaler starts authenticate clients as dev's own does.
	cf.provision.computeEnv = []string{"PHANTOM_AUTH=" + f.authMode, "PHANTOM_TLS_CERT=" + certPath,
		"PHANTOM_TLS_KEY=" + keyPath, "PHANTOM_HTTP_TLS=" + strconv.FormatBool(f.httpTLS)}
	cp, err := startControlPlane(ctx, cf, log)
	if err != nil {
		return err
	}
	closers = append(closers, cp.Close)
	creds, err := devCredentials(cp.svc, readDevInfo(dataDir), f.authMode)
	if err != nil {
		return err
	}
	if err := ensureDevEndpoint(cp); err != nil {
		return err
	}

	var mf computeFlags
	flagDefaults(mf.register)
	mf.httpAddr, mf.pgAddr, mf.logAddr, mf.pageserverAddr = f.addr(offSQL), f.addr(offPG), ls.grpc.Addr(), ps.grpc.Addr()
	mf.controlPlane, mf.natsURL = "http://"+cp.http.Addr(), natsURL
	mf.cpToken, mf.authMode = cf.adminToken, f.authMode
	mf.statementTimeout = f.statementTimeout
	mf.tlsCert, mf.tlsKey, mf.httpTLS = certPath, keyPath, f.httpTLS
	mf.sessionIdle = f.sessionIdle
	mf.queryParallelism = f.queryParallelism
	cn, err := startCompute(ctx, mf, log)
	if err != nil {
		return err
	}
	closers = append(closers, cn.Close)

	var xf proxyFlags
	flagDefaults(xf.register)
	xf.httpAddr, xf.pgAddr = f.addr(offProxyHTTP), f.addr(offProxyPG)
	xf.controlPlane, xf.natsURL, xf.cpToken = "http://"+cp.http.Addr(), natsURL, cf.adminToken
	px, err := startProxy(ctx, xf, log)
	if err != nil {
		return err
	}
	closers = append(closers, px.Close)

	scheme := "http://"
	if f.httpTLS {
		scheme = "https://"
	}
	info := devInfo{
		PID:          os.Getpid(),
		SQLURL:       scheme + cn.http.Addr(),
		PGAddr:       cn.PGAddr(),
		ControlPlane: "http://" + cp.http.Addr(),
		LogService:   ls.grpc.Addr(),
		PageServer:   ps.grpc.Addr(),
		NATS:         natsURL,
		ProxyURL:     "http://" + px.http.Addr(),
		ProxyPGAddr:  px.PGAddr(),
		AdminToken:   cf.adminToken,
		APIKey:       creds.apiKey,
		PGUser:       creds.pgUser,
		PGPassword:   creds.pgPassword,
		TLSCert:      certPath,
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	// dev.json and dev.env hold credentials: readable by the owner only.
	if err := writeFileAtomic(filepath.Join(dataDir, "dev.json"), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write dev.json: %w", err)
	}
	env := fmt.Sprintf("export PHANTOM_API_KEY=%s\nexport PGPASSWORD=%s\nexport PHANTOM_ADMIN_TOKEN=%s\n",
		info.APIKey, info.PGPassword, info.AdminToken)
	if err := writeFileAtomic(filepath.Join(dataDir, "dev.env"), []byte(env), 0o600); err != nil {
		return fmt.Errorf("write dev.env: %w", err)
	}
	printDevBanner(dataDir, info, f.authMode)
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

// ensureDevEndpoint creates endpoint "main" of the default database on the
// first start: it scales from zero to one compute when a client connects
// through the proxy (up to 3 under load) and back to zero after 5 idle
// minutes.
func ensureDevEndpoint(cp *controlPlaneNode) error {
	eps, err := cp.svc.Endpoints("default", "phantom")
	if err != nil {
		return err
	}
	if len(eps) > 0 {
		return nil
	}
	zero, three := 0, 3
	_, err = cp.svc.CreateEndpoint("default", "phantom", controlplane.EndpointSpec{Name: "main", MinComputes: &zero, MaxComputes: &three})
	return err
}
