package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/phantom-db/phantom/internal/failover"
	"github.com/phantom-db/phantom/internal/natsbus"
	"github.com/phantom-db/phantom/proxy"
)

// proxyFlags configures a `phantom proxy` process.
type proxyFlags struct {
	nodeID          string
	httpAddr        string
	pgAddr          string
	controlPlane    string
	cpToken         string
	cpTokenFile     string
	natsURL         string
	defaultTenant   string
	defaultDatabase string
	defaultBranch   string
	wakeTimeout     time.Duration
	maxBodyBytes    int64
	logs            logFlags
}

func (f *proxyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nodeID, "node-id", "proxy-1", "unique id of this proxy")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8441", "HTTP SQL API listen address")
	fs.StringVar(&f.pgAddr, "pg-addr", "127.0.0.1:8442", "PostgreSQL protocol listen address (empty: off)")
	fs.StringVar(&f.controlPlane, "control-plane", "http://127.0.0.1:8433", "control plane URL(s), comma-separated: one per replica, the next tried when one refuses connections (endpoints, computes, wake)")
	fs.StringVar(&f.cpToken, "control-plane-token", "", "the control plane's admin token (empty: read --control-plane-token-file)")
	fs.StringVar(&f.cpTokenFile, "control-plane-token-file", "", "file holding the control plane's admin token")
	fs.StringVar(&f.natsURL, "nats-url", "", "NATS URL: scale events refresh the view of an endpoint at once (empty: poll only)")
	fs.StringVar(&f.defaultTenant, "default-tenant", "default", "tenant of requests that name none")
	fs.StringVar(&f.defaultDatabase, "default-database", "phantom", "database of requests that name none")
	fs.StringVar(&f.defaultBranch, "default-branch", "main", "branch of requests that name none")
	fs.DurationVar(&f.wakeTimeout, "wake-timeout", 60*time.Second, "longest a request waits for a compute (then 503 / SQLSTATE 57P03)")
	fs.Int64Var(&f.maxBodyBytes, "max-body-bytes", 1<<20, "largest accepted HTTP request body, in bytes")
}

func proxyCommand() *ffcli.Command {
	var f proxyFlags
	return serviceCommand("proxy", "run the proxy (routes HTTP and PostgreSQL clients to endpoint computes, wakes idle endpoints)", f.register, &f.logs,
		func(ctx context.Context, log *slog.Logger) (io.Closer, error) { return startProxy(ctx, f, log) })
}

// proxyNode is a running proxy.
type proxyNode struct {
	p      *proxy.Proxy
	http   *httpServer
	pgLis  net.Listener
	nc     *nats.Conn
	stopHB func()
	log    *slog.Logger
}

func startProxy(ctx context.Context, f proxyFlags, log *slog.Logger) (*proxyNode, error) {
	log = log.With("service", "proxy", "node", f.nodeID)
	token, err := tokenFrom(f.cpToken, f.cpTokenFile)
	if err != nil {
		return nil, err
	}
	cpClient, cpBase, err := failover.NewClient(f.controlPlane, http.Client{Timeout: 70 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("--control-plane: %w", err)
	}
	dir := &proxy.ControlPlane{BaseURL: cpBase, Token: token, Client: cpClient}
	p, err := proxy.New(proxy.Config{Directory: dir, DefaultTenant: f.defaultTenant, DefaultDatabase: f.defaultDatabase,
		DefaultBranch: f.defaultBranch, WakeTimeout: f.wakeTimeout, MaxBodyBytes: f.maxBodyBytes, Logger: log})
	if err != nil {
		return nil, err
	}
	n := &proxyNode{p: p, log: log, stopHB: func() {}}
	if f.natsURL != "" {
		nc, err := nats.Connect(f.natsURL, nats.Name("phantom-proxy-"+f.nodeID), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("connect nats %s: %w", f.natsURL, err)
		}
		n.nc = nc
		if _, err := nc.Subscribe(natsbus.ScaleWildcard, func(m *nats.Msg) {
			if ev, err := natsbus.DecodeScaleEvent(m.Subject, m.Data); err == nil {
				dir.Invalidate(ev.Endpoint)
			}
		}); err != nil {
			n.Close()
			return nil, fmt.Errorf("subscribe %s: %w", natsbus.ScaleWildcard, err)
		}
	}
	if n.http, err = startHTTP(f.httpAddr, p.Handler(), log); err != nil {
		n.Close()
		return nil, err
	}
	if f.pgAddr != "" {
		if n.pgLis, err = net.Listen("tcp", f.pgAddr); err != nil {
			n.Close()
			return nil, fmt.Errorf("listen pg %s: %w", f.pgAddr, err)
		}
		go func() {
			if err := p.ServePG(n.pgLis); err != nil && !errors.Is(err, net.ErrClosed) {
				log.Error("proxy pg listener stopped", "err", err)
			}
		}()
	}
	n.log.Info("proxy ready", "http", n.http.Addr(), "pg", n.PGAddr(), "control_plane", f.controlPlane)
	return n, nil
}

// PGAddr is the bound PostgreSQL address, "" when off.
func (n *proxyNode) PGAddr() string {
	if n.pgLis == nil {
		return ""
	}
	return n.pgLis.Addr().String()
}

// Close stops accepting and closes client connections.
func (n *proxyNode) Close() error {
	n.stopHB()
	if n.http != nil {
		n.http.Close()
	}
	n.p.Close()
	if n.nc != nil {
		n.nc.Close()
	}
	n.log.Info("proxy stopped")
	return nil
}
