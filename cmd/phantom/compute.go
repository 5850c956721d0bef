package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/xdg-go/scram"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/phantom-db/phantom/compute/auth"
	"github.com/phantom-db/phantom/compute/httpapi"
	"github.com/phantom-db/phantom/compute/loadstats"
	"github.com/phantom-db/phantom/compute/pgwire"
	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/failover"
	"github.com/phantom-db/phantom/internal/natsbus"
	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
)

// computeFlags configures a `phantom compute` process.
type computeFlags struct {
	nodeID           string
	httpAddr         string
	pgAddr           string
	maxPGConns       int
	logAddr          string
	pageserverAddr   string
	controlPlane     string
	tenant           string
	database         string
	natsURL          string
	maxBodyBytes     int64
	statementTimeout time.Duration
	maxConcurrent    int
	maxResultRows    int
	maxQueryMemory   int64
	scanCacheBytes   int64
	queryParallelism int
	maxTimeout       time.Duration
	sessionIdle      time.Duration
	clientCheck      time.Duration
	maxSessions      int
	endpoint         string
	drainTimeout     time.Duration
	authMode         string
	cpToken          string
	cpTokenFile      string
	authTTL          time.Duration
	authNegTTL       time.Duration
	maxPerKey        int
	tlsCert          string
	tlsKey           string
	httpTLS          bool
	logs             logFlags

	// pageserverTimeout drops a page server silent this long (pagedial.go).
	pageserverTimeout time.Duration
}

func (f *computeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nodeID, "node-id", "compute-1", "unique id of this compute node")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8432", "HTTP SQL API listen address")
	fs.StringVar(&f.pgAddr, "pg-addr", "127.0.0.1:8440", "PostgreSQL wire protocol listen address (empty: off)")
	fs.IntVar(&f.maxPGConns, "max-pg-connections", pgwire.DefaultMaxConnections, "PostgreSQL client connections at once; more are refused (53300)")
	fs.StringVar(&f.logAddr, "logservice", "127.0.0.1:8434", "log service gRPC address(es), comma-separated")
	fs.StringVar(&f.pageserverAddr, "pageserver", "127.0.0.1:8437", "page server gRPC address(es) of the shard, comma-separated; with --nats-url, page servers announcing the shard in their heartbeats are added and dead ones dropped (failover)")
	fs.DurationVar(&f.pageserverTimeout, "pageserver-timeout", 3*time.Second, "with --nats-url, drop a page server from the list after this long without a heartbeat")
	fs.StringVar(&f.controlPlane, "control-plane", "http://127.0.0.1:8433", "control plane URL(s), comma-separated: one per replica, the next tried when one refuses connections (resolves the database id, verifies API keys)")
	fs.StringVar(&f.tenant, "tenant", "default", "tenant of the database served")
	fs.StringVar(&f.database, "database", "phantom", "database served")
	fs.StringVar(&f.natsURL, "nats-url", "", "NATS URL for heartbeats (empty: none)")
	fs.Int64Var(&f.maxBodyBytes, "max-body-bytes", 1<<20, "largest accepted HTTP request body, in bytes")
	fs.DurationVar(&f.statementTimeout, "statement-timeout", 30*time.Second, "longest a request may execute")
	fs.IntVar(&f.maxConcurrent, "max-concurrent", 64, "requests executing at once; more wait")
	fs.IntVar(&f.maxResultRows, "max-result-rows", 1_000_000, "largest result a statement may return, in rows")
	fs.Int64Var(&f.scanCacheBytes, "scan-cache-bytes", defaultScanCacheBytes(), "bytes of decoded table columns cached for scans of unchanged tables, shared by all sessions (0: no cache; default: a quarter of the process memory limit)")
	fs.Int64Var(&f.maxQueryMemory, "max-query-memory", sql.DefaultMaxQueryMemory, "bytes of Arrow buffers one statement may hold at once (more answer 53200; -1: unlimited)")
	fs.IntVar(&f.queryParallelism, "query-parallelism", 0, "workers an aggregate over a large input runs on (0: GOMAXPROCS; 1: every statement on one goroutine)")
	fs.DurationVar(&f.maxTimeout, "max-timeout", 10*time.Minute, "cap on a request's timeout_ms")
	fs.DurationVar(&f.sessionIdle, "session-idle-timeout", 5*time.Minute, "close (and roll back) an HTTP session unused this long")
	fs.DurationVar(&f.clientCheck, "client-check-interval", pgwire.DefaultClientCheckInterval,
		"how often a running PostgreSQL-protocol statement checks that its client is still connected; a client gone cancels it (negative: never)")
	fs.IntVar(&f.maxSessions, "max-sessions", 1000, "open HTTP sessions at most")
	fs.StringVar(&f.endpoint, "endpoint", "", "compute endpoint id this node belongs to; with --nats-url, load is published on phantom.compute.<endpoint>.load every second")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long to wait for in-flight queries and open transactions before closing")
	fs.StringVar(&f.authMode, "auth", "keys", `client authentication: "keys" (API keys over HTTP, SCRAM-SHA-256 roles over the PostgreSQL protocol, both verified by the control plane) or "none" (everyone is admitted; tests only)`)
	fs.StringVar(&f.cpToken, "control-plane-token", "", "the control plane's admin token (empty: read --control-plane-token-file)")
	fs.StringVar(&f.cpTokenFile, "control-plane-token-file", "", "file holding the control plane's admin token")
	fs.DurationVar(&f.authTTL, "auth-cache-ttl", 30*time.Second, "trust a verified API key this long; a revoked key stops working within it")
	fs.DurationVar(&f.authNegTTL, "auth-negative-ttl", 5*time.Second, "reject a rejected API key this long without asking the control plane")
	fs.IntVar(&f.maxPerKey, "max-concurrent-per-key", 16, "HTTP requests of one API key in flight; more answer 429")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate: TLS for the PostgreSQL protocol (SSLRequest) and HTTPS for the HTTP API")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.BoolVar(&f.httpTLS, "http-tls", true, "serve the HTTP API over HTTPS when --tls-cert is set")
}

// validate checks the flag combinations.
func (f *computeFlags) validate() error {
	switch f.authMode {
	case "keys", "none":
	default:
		return fmt.Errorf(`--auth must be "keys" or "none", not %q`, f.authMode)
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	return nil
}

// controlPlaneToken is --control-plane-token, else the content of
// --control-plane-token-file.
func (f *computeFlags) controlPlaneToken() (string, error) {
	return tokenFrom(f.cpToken, f.cpTokenFile)
}

// tokenFrom is token, else the trimmed content of file (both empty: "").
func tokenFrom(token, file string) (string, error) {
	if token != "" || file == "" {
		return token, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("control plane token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// serverTLS loads --tls-cert/--tls-key; nil when not set.
func (f *computeFlags) serverTLS() (*tls.Config, error) {
	if f.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func computeCommand() *ffcli.Command {
	var f computeFlags
	return serviceCommand("compute", "run a stateless compute node (SQL over HTTP)", f.register, &f.logs,
		func(ctx context.Context, log *slog.Logger) (io.Closer, error) { return startCompute(ctx, f, log) })
}

// computeNode is a running compute node.
type computeNode struct {
	logc    *logclient.Client
	pageDir *pageServers
	pages   *grpc.ClientConn
	api     *httpapi.Server
	http    *httpServer
	pg      *pgwire.Server
	pgLis   net.Listener
	stopHB  func()
	// load measures queries and sessions for the autoscaler; stopLoad
	// stops publishing it.
	load         *loadstats.Tracker
	stopLoad     func()
	drainTimeout time.Duration
	draining     atomic.Bool
	log          *slog.Logger

	// lastLoad is the latest load report (publishLoad), sent in heartbeats.
	lastLoad atomic.Pointer[natsbus.Load]
}

// resolveDatabase asks the control plane for the id of tenant/database,
// retrying until ctx is done or 30 s pass (the control plane may still be
// starting).
func resolveDatabase(ctx context.Context, client *http.Client, base, token, tenant, database string) (uint64, error) {
	u := fmt.Sprintf("%s/v1/tenants/%s/databases/%s", base, url.PathEscape(tenant), url.PathEscape(database))
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, fmt.Errorf("resolve database: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err == nil {
			var body struct {
				ID uint64 `json:"id"`
			}
			derr := json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK && derr == nil && body.ID != 0:
				return body.ID, nil
			case resp.StatusCode == http.StatusNotFound:
				return 0, fmt.Errorf("resolve database: %s/%s is not registered in the control plane", tenant, database)
			case resp.StatusCode == http.StatusUnauthorized:
				return 0, errors.New("resolve database: the control plane refused the token; set --control-plane-token to its admin token")
			default:
				last = fmt.Errorf("control plane answered %s", resp.Status)
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("resolve database %s/%s at %s: %w", tenant, database, base, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func startCompute(ctx context.Context, f computeFlags, log *slog.Logger) (*computeNode, error) {
	log = log.With("service", "compute", "node", f.nodeID)
	if err := f.validate(); err != nil {
		return nil, err
	}
	token, err := f.controlPlaneToken()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := f.serverTLS()
	if err != nil {
		return nil, err
	}
	cpClient, cpBase, err := failover.NewClient(f.controlPlane, http.Client{})
	if err != nil {
		return nil, fmt.Errorf("--control-plane: %w", err)
	}
	dbID, err := resolveDatabase(ctx, cpClient, cpBase, token, f.tenant, f.database)
	if err != nil {
		return nil, err
	}
	var verifier *auth.ControlPlane
	apiAuth := httpapi.NoAuth
	if f.authMode == "keys" {
		if verifier, err = auth.New(auth.Config{URL: cpBase, Token: token, TTL: f.authTTL, NegativeTTL: f.authNegTTL,
			HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: cpClient.Transport}}); err != nil {
			return nil, err
		}
		apiAuth = verifier
	} else {
		log.Warn("authentication is off (--auth=none): every client has full access")
	}
	n := &computeNode{log: log, stopHB: func() {}, stopLoad: func() {}, load: loadstats.New(), drainTimeout: f.drainTimeout}
	if n.logc, err = logclient.Dial(ctx, f.logAddr); err != nil {
		return nil, err
	}
	// A page server that restarts should be reachable again within half a
	// second, not after gRPC's default reconnect backoff (up to 2 minutes).
	reconnect := grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond},
		MinConnectTimeout: time.Second,
	})
	if n.pageDir, err = newPageServers(f.pageserverAddr, f.natsURL, 0, f.pageserverTimeout, log); err != nil {
		n.Close()
		return nil, err
	}
	if n.pages, err = grpc.NewClient(n.pageDir.dialTarget(), n.pageDir.dialOption(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)), reconnect); err != nil {
		n.Close()
		return nil, fmt.Errorf("dial page server %s: %w", f.pageserverAddr, err)
	}
	kv := storage.NewRemote(n.logc, wirepb.NewPageServerClient(n.pages), memory.DefaultAllocator)
	engine, err := sql.New(sql.Config{KV: kv, DatabaseID: dbID, Logger: log, MaxResultRows: f.maxResultRows,
		MaxQueryMemory: f.maxQueryMemory, ScanCacheBytes: scanCacheBytes(f.scanCacheBytes), Registerer: prometheus.DefaultRegisterer,
		QueryParallelism: f.queryParallelism})
	if err != nil {
		n.Close()
		return nil, err
	}
	api, err := httpapi.New(httpapi.Config{
		Executor:            engine,
		Auth:                apiAuth,
		Tenant:              f.tenant,
		Database:            f.database,
		MaxConcurrentPerKey: f.maxPerKey,
		MaxBodyBytes:        f.maxBodyBytes,
		StatementTimeout:    f.statementTimeout,
		MaxConcurrent:       f.maxConcurrent,
		MaxTimeout:          f.maxTimeout,
		SessionIdleTimeout:  f.sessionIdle,
		MaxSessions:         f.maxSessions,
		NewSession:          func() httpapi.Session { return engine.NewSession() },
		NewReadOnlySession:  func() httpapi.Session { s := engine.NewSession(); s.RestrictToReads(); return s },
		Logger:              log,
	})
	if err != nil {
		n.Close()
		return nil, err
	}
	n.api = api
	var httpTLS *tls.Config
	if f.httpTLS {
		httpTLS = tlsCfg
	}
	if n.http, err = startHTTPTLS(f.httpAddr, withMetrics(computeMetrics(n.load.Middleware(api))), log, httpTLS); err != nil {
		n.Close()
		return nil, err
	}
	if f.pgAddr != "" {
		if err := n.servePG(f, engine, verifier, tlsCfg, log); err != nil {
			n.Close()
			return nil, err
		}
	}
	if n.stopHB, err = heartbeatLoad(ctx, f.natsURL, f.nodeID, natsbus.RoleCompute, n.http.Addr(), n.heartbeatLoad, log); err != nil {
		n.stopHB = func() {}
		n.Close()
		return nil, err
	}
	if n.stopLoad, err = publishLoad(ctx, f, n, log); err != nil {
		n.stopLoad = func() {}
		n.Close()
		return nil, err
	}
	n.log.Info("compute ready", "http", n.http.Addr(), "pg", n.PGAddr(), "tenant", f.tenant, "database", f.database, "id", dbID)
	return n, nil
}

// scanCacheBytes maps --scan-cache-bytes (0: off) to
// sql.Config.ScanCacheBytes (negative: off).
func scanCacheBytes(flag int64) int64 {
	if flag <= 0 {
		return -1
	}
	return flag
}

// servePG starts the PostgreSQL wire protocol listener: one engine session
// per connection.
func (n *computeNode) servePG(f computeFlags, engine *sql.Engine, verifier *auth.ControlPlane, tlsCfg *tls.Config, log *slog.Logger) error {
	lis, err := net.Listen("tcp", f.pgAddr)
	if err != nil {
		return fmt.Errorf("listen pg %s: %w", f.pgAddr, err)
	}
	var lookup pgwire.SCRAMLookup
	if verifier != nil {
		lookup = func(ctx context.Context, user string) (scram.StoredCredentials, error) {
			creds, err := verifier.SCRAMCredentials(ctx, f.tenant, user)
			if errors.Is(err, auth.ErrUnauthenticated) {
				return creds, fmt.Errorf("%w: %w", pgwire.ErrUnknownRole, err)
			}
			return creds, err
		}
	}
	pg, err := pgwire.New(pgwire.Config{
		NewSession:          n.load.Sessions(pgwire.DescribedBy(func() pgwire.Session { return engine.NewSession() }, engine)),
		Database:            f.database,
		MaxConnections:      f.maxPGConns,
		StatementTimeout:    f.statementTimeout,
		ClientCheckInterval: f.clientCheck,
		TLS:                 tlsCfg,
		Trust:               verifier == nil,
		SCRAM:               lookup,
		Logger:              log,
	})
	if err != nil {
		lis.Close()
		return err
	}

	n.pg, n.pgLis = pg, lis
	go func() {
		if err := pg.Serve(lis); !errors.Is(err, pgwire.ErrClosed) && !n.draining.Load() {
			log.Error("pgwire server stopped", "err", err)
		}
	}()
	return nil
}

// PGAddr is the bound PostgreSQL protocol address, "" when off.
func (n *computeNode) PGAddr() string {
	if n.pgLis == nil {
		return ""
	}
	return n.pgLis.Addr().String()
}

// Close drains and stops the node: it reports itself draining, stops
// accepting HTTP requests and PostgreSQL connections, waits up to the drain
// timeout for in-flight queries and open transactions to finish, then closes
// the remaining connections and the storage clients.
func (n *computeNode) Close() error {
	n.draining.Store(true)
	n.load.SetDraining()
	if n.pgLis != nil {
		n.pgLis.Close()
	}
	drained := make(chan struct{})
	go func() {
		if n.http != nil {
			n.http.Close()
		}
		close(drained)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), n.drainTimeout)
	if !n.load.WaitIdle(ctx) {
		n.log.Warn("compute drain timed out; closing sessions with work in progress", "timeout", n.drainTimeout)
	}
	cancel()
	<-drained
	n.stopLoad()
	n.stopHB()
	if n.pg != nil {
		n.pg.Close()
	}
	if n.api != nil {
		n.api.Close()
	}
	if n.pages != nil {
		n.pages.Close()
	}
	if n.pageDir != nil {
		n.pageDir.Close()
	}
	if n.logc != nil {
		n.logc.Close()
	}
	n.log.Info("compute stopped")
	return nil
}
