package pgwire

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/xdg-go/scram"
)

// Sentinel errors.
var (
	// ErrNoSessions is returned by New when Config.NewSession is nil.
	ErrNoSessions = errors.New("pgwire: Config.NewSession is required")
	// ErrClosed is returned by Serve after Close.
	ErrClosed = errors.New("pgwire: server closed")
	// ErrProtocol marks a client that broke the protocol; the connection is
	// answered 08P01 and closed.
	ErrProtocol = errors.New("pgwire: protocol violation")
)

// Defaults of Config.
const (
	DefaultMaxConnections  = 100
	DefaultMaxMessageBytes = 64 << 20
	DefaultServerVersion   = "15.0 (Phantom-DB)"
	DefaultStartupTimeout  = 10 * time.Second
	// DefaultClientCheckInterval is how often a running statement checks
	// that its client is still connected.
	DefaultClientCheckInterval = time.Second
)

// Config configures a Server.
type Config struct {
	// Addr is the listen address for ListenAndServe, e.g. "127.0.0.1:5432".
	// Serve ignores it. Default "127.0.0.1:5432".
	Addr string
	// NewSession creates the session of each connection. Required; use
	// EngineSessions for an *sql.Engine.
	NewSession SessionFactory
	// Database, when set, is the only database name clients may connect
	// to; others are answered 3D000. Default "": any name is accepted (the
	// node serves one database whatever it is called).
	Database string
	// Logger receives connection-level logs. Default: discard.
	Logger *slog.Logger
	// MaxConnections caps concurrent client connections; one more is
	// answered 53300 (too_many_connections) and closed. Default 100.
	MaxConnections int
	// MaxMessageBytes caps the body of one client message, in bytes; a
	// larger message is answered 08P01 and the connection closed.
	// Default 64 MiB.
	MaxMessageBytes int
	// StatementTimeout bounds each Execute; exceeding it answers 57014.
	// Default 0: no timeout.
	StatementTimeout time.Duration
	// StartupTimeout bounds the time from accept to a complete startup
	// message. Default 10 s.
	StartupTimeout time.Duration
	// ClientCheckInterval is how often a running statement checks that its
	// client is still connected (PostgreSQL's
	// client_connection_check_interval); a client gone away cancels the
	// statement (and so its transaction) instead of letting it run to
	// completion or its timeout. Default 1 s; negative disables the check.
	ClientCheckInterval time.Duration
	// ServerVersion is reported as the server_version parameter.
	// Default "15.0 (Phantom-DB)".
	ServerVersion string
	// SCRAM looks up the SCRAM-SHA-256 verifier of a role; clients then
	// authenticate with SCRAM-SHA-256 and a wrong password (or unknown role)
	// answers 28P01. One of SCRAM and Trust is required.
	SCRAM SCRAMLookup
	// Trust admits every client without a password. Only when set: the
	// server refuses to start with neither SCRAM nor Trust.
	Trust bool
	// TLS, when set, answers SSLRequest with 'S' and encrypts the
	// connection (sslmode=require works); nil answers 'N'.
	TLS *tls.Config
}

// SCRAMLookup returns the SCRAM-SHA-256 verifier of role user; an unknown
// role is an error (any error fails the login with 28P01, and is logged).
type SCRAMLookup func(ctx context.Context, user string) (scram.StoredCredentials, error)

// EnsureDefaults fills in zero fields.
func (c *Config) EnsureDefaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:5432"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.StartupTimeout == 0 {
		c.StartupTimeout = DefaultStartupTimeout
	}
	if c.ClientCheckInterval == 0 {
		c.ClientCheckInterval = DefaultClientCheckInterval
	}
	if c.ServerVersion == "" {
		c.ServerVersion = DefaultServerVersion
	}
}

// Validate reports invalid settings.
func (c *Config) Validate() error {
	switch {
	case c.NewSession == nil:
		return ErrNoSessions
	case c.SCRAM == nil && !c.Trust:
		return errors.New("pgwire: Config.SCRAM is required (or Trust, to admit everyone)")
	case c.SCRAM != nil && c.Trust:
		return errors.New("pgwire: Config.SCRAM and Trust exclude each other")
	case c.MaxConnections < 0:
		return fmt.Errorf("pgwire: MaxConnections %d must be positive", c.MaxConnections)
	case c.MaxMessageBytes < 0:
		return fmt.Errorf("pgwire: MaxMessageBytes %d must be positive", c.MaxMessageBytes)
	case c.StatementTimeout < 0:
		return fmt.Errorf("pgwire: StatementTimeout %v must not be negative", c.StatementTimeout)
	case c.StartupTimeout < 0:
		return fmt.Errorf("pgwire: StartupTimeout %v must not be negative", c.StartupTimeout)
	}
	return nil
}
