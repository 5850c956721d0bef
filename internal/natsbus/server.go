package natsbus

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ErrNotReady is wrapped by StartEmbedded when the server does not accept
// connections within ServerConfig.ReadyTimeout.
var ErrNotReady = errors.New("natsbus: embedded server not ready")

// ServerConfig configures an embedded NATS server.
type ServerConfig struct {
	// Host is the interface the server listens on. Default "127.0.0.1".
	Host string
	// Port is the client port; 0 picks a free port (nats-server itself reads
	// 0 as its default 4222 and -1 as random, so StartEmbedded translates).
	// Default 0.
	Port int
	// ServerName names the server in logs and monitoring. Default "": a
	// generated name.
	ServerName string
	// JetStream enables JetStream persistence. Default false: core NATS
	// only, which is all heartbeats and events need.
	JetStream bool
	// StoreDir is the JetStream storage directory. Default "": a fresh
	// temporary directory, removed by Shutdown. Ignored without JetStream.
	StoreDir string
	// ReadyTimeout bounds how long StartEmbedded waits for the server to
	// accept connections. Default 10s.
	ReadyTimeout time.Duration
	// Logger receives the server's logs: its notices at Debug level (they are
	// startup chatter), warnings at Warn, errors at Error. Default
	// slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (c *ServerConfig) EnsureDefaults() {
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first invalid field.
func (c *ServerConfig) Validate() error {
	if c.Host == "" {
		return errors.New("natsbus: server: empty Host")
	}
	if c.Port < 0 || c.Port > math.MaxUint16 {
		return fmt.Errorf("natsbus: server: Port %d outside [0, 65535]", c.Port)
	}
	if c.ReadyTimeout <= 0 {
		return fmt.Errorf("natsbus: server: ReadyTimeout %v <= 0", c.ReadyTimeout)
	}
	return nil
}

// EmbeddedServer is a nats-server running inside this process.
type EmbeddedServer struct {
	srv     *server.Server
	log     *slog.Logger
	tempDir string // JetStream store Shutdown removes, or ""
}

// StartEmbedded starts a NATS server and waits until it accepts connections.
func StartEmbedded(cfg ServerConfig) (*EmbeddedServer, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       cfg.Host,
		Port:       cfg.Port,
		NoSigs:     true, // the embedding process owns signals
		NoLog:      false,
		JetStream:  cfg.JetStream,
		StoreDir:   cfg.StoreDir,
	}
	if opts.Port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	e := &EmbeddedServer{log: cfg.Logger}
	if cfg.JetStream && cfg.StoreDir == "" {
		dir, err := os.MkdirTemp("", "phantom-nats-js-")
		if err != nil {
			return nil, fmt.Errorf("natsbus: server: jetstream store dir: %w", err)
		}
		opts.StoreDir, e.tempDir = dir, dir
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		e.removeTemp()
		return nil, fmt.Errorf("natsbus: server: %w", err)
	}
	srv.SetLogger(slogBridge{cfg.Logger.With("component", "nats-server")}, false, false)
	e.srv = srv
	srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		e.removeTemp()
		return nil, fmt.Errorf("natsbus: server on %s:%d after %v: %w", cfg.Host, cfg.Port, cfg.ReadyTimeout, ErrNotReady)
	}
	cfg.Logger.Info("natsbus: embedded server ready", "url", srv.ClientURL(), "jetstream", cfg.JetStream)
	return e, nil
}

// ClientURL answers the URL clients connect to, such as
// "nats://127.0.0.1:41234", with the port actually bound.
func (e *EmbeddedServer) ClientURL() string { return e.srv.ClientURL() }

// Connect opens a client connection to the server.
func (e *EmbeddedServer) Connect(opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(e.ClientURL(), opts...)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect %s: %w", e.ClientURL(), err)
	}
	return nc, nil
}

// Server answers the underlying nats-server, for monitoring and tests.
func (e *EmbeddedServer) Server() *server.Server { return e.srv }

// Shutdown stops the server, waits until it has stopped and removes a
// temporary JetStream directory. It is safe to call more than once.
func (e *EmbeddedServer) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.removeTemp()
}

func (e *EmbeddedServer) removeTemp() {
	if e.tempDir == "" {
		return
	}
	if err := os.RemoveAll(e.tempDir); err != nil {
		e.log.Warn("natsbus: remove jetstream temp dir", "dir", e.tempDir, "err", err)
	}
	e.tempDir = ""
}

// slogBridge adapts nats-server's printf-style Logger to slog.
type slogBridge struct{ l *slog.Logger }

func (b slogBridge) Noticef(format string, v ...any) { b.l.Debug(fmt.Sprintf(format, v...)) }
func (b slogBridge) Warnf(format string, v ...any)   { b.l.Warn(fmt.Sprintf(format, v...)) }
func (b slogBridge) Fatalf(format string, v ...any)  { b.l.Error(fmt.Sprintf(format, v...)) }
func (b slogBridge) Errorf(format string, v ...any)  { b.l.Error(fmt.Sprintf(format, v...)) }
func (b slogBridge) Debugf(format string, v ...any)  { b.l.Debug(fmt.Sprintf(format, v...)) }
func (b slogBridge) Tracef(format string, v ...any)  { b.l.Debug(fmt.Sprintf(format, v...)) }
