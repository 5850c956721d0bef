package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"

	"github.com/phantom-db/phantom/internal/natsbus"
)

// httpServer is an HTTP listener with graceful shutdown.
type httpServer struct {
	srv *http.Server
	lis net.Listener
}

func startHTTP(addr string, h http.Handler, log *slog.Logger) (*httpServer, error) {
	return startHTTPTLS(addr, h, log, nil)
}

// startHTTPTLS is startHTTP serving HTTPS with tlsCfg when it is not nil.
func startHTTPTLS(addr string, h http.Handler, log *slog.Logger, tlsCfg *tls.Config) (*httpServer, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen http %s: %w", addr, err)
	}
	if tlsCfg != nil {
		lis = tls.NewListener(lis, tlsCfg)
	}
	s := &httpServer{
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		lis: lis,
	}
	go func() {
		if err := s.srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "addr", lis.Addr().String(), "err", err)
		}
	}()
	return s, nil
}

// Addr is the bound address.
func (s *httpServer) Addr() string { return s.lis.Addr().String() }

// Close drains in-flight requests for up to 10 s, then closes.
func (s *httpServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// adminHandler serves /healthz and /metrics for services whose API is gRPC.
func adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.Handle("GET /metrics", promhttp.Handler())
	return mux
}

// grpcServer is a gRPC listener.
type grpcServer struct {
	srv *grpc.Server
	lis net.Listener
}

func listenGRPC(addr string) (*grpcServer, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen grpc %s: %w", addr, err)
	}
	return &grpcServer{srv: grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20)), lis: lis}, nil
}

func (g *grpcServer) serve(log *slog.Logger) {
	go func() {
		if err := g.srv.Serve(g.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			log.Error("grpc server stopped", "addr", g.lis.Addr().String(), "err", err)
		}
	}()
}

// Addr is the bound address.
func (g *grpcServer) Addr() string { return g.lis.Addr().String() }

// Close stops the server, waiting up to 5 s for in-flight RPCs; streams
// that follow the log forever are cut after that.
func (g *grpcServer) Close() {
	done := make(chan struct{})
	go func() { g.srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		g.srv.Stop()
	}
}

// heartbeat connects to NATS (when url is set) and publishes this node's
// heartbeat until the returned stop is called. A missing NATS server is not
// fatal: the client keeps reconnecting in the background.
func heartbeat(ctx context.Context, url, nodeID string, role natsbus.Role, addr string, log *slog.Logger) (stop func(), err error) {
	return heartbeatLoad(ctx, url, nodeID, role, addr, nil, log)
}

// heartbeatLoad is heartbeat with the node's load (load may be nil).
func heartbeatLoad(ctx context.Context, url, nodeID string, role natsbus.Role, addr string, load func() natsbus.Load, log *slog.Logger) (stop func(), err error) {
	if url == "" {
		return func() {}, nil
	}
	nc, err := nats.Connect(url, nats.Name("phantom-"+string(role)+"-"+nodeID), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect nats %s: %w", url, err)
	}
	started := time.Now().UTC()
	stopHB, err := natsbus.StartPublisher(ctx, nc, natsbus.PublisherConfig{
		Interval: time.Second,
		Heartbeat: func() natsbus.Heartbeat {
			hb := natsbus.Heartbeat{NodeID: nodeID, Role: role, Address: addr, StartedAt: started}
			if load != nil {
				hb.Load = load()
			}
			return hb
		},
		Logger: log,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("start heartbeats: %w", err)
	}
	return func() { stopHB(); nc.Close() }, nil
}
