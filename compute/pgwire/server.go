// Package pgwire serves the PostgreSQL frontend/backend protocol, version
// 3.0, on a compute node, so that psql, pgx, JDBC and other PostgreSQL
// clients can talk to the SQL engine.
//
// It owns connections, not SQL: startup (TLS when Config.TLS is set, GSS
// encryption declined; SCRAM-SHA-256 authentication, or trust when told),
// COPY FROM STDIN / TO STDOUT (copy.go), the simple and extended query
// protocols, value encoding (text and binary) of the engine's five types,
// cancel requests and the connection limit. Each connection has one
// Session (see SessionFactory) that runs its statements in order.
//
// Invariants: one goroutine per connection reads a message, handles it
// completely and only then reads the next, so a Session is never called
// concurrently; a malformed message is answered 08P01 and closes the
// connection, never the server; results are released once sent or when
// their portal is closed.
package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
)

// Server accepts PostgreSQL client connections.
type Server struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // cancelled by Close; parent of every query
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{} // connections past startup
	byPID     map[uint32]*conn
	raw       map[net.Conn]struct{} // every open connection
	nextPID   uint32
}

// New returns a Server; it accepts connections once Serve is called.
func New(cfg Config) (*Server, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		ctx:       ctx,
		cancel:    cancel,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
		byPID:     map[uint32]*conn{},
		raw:       map[net.Conn]struct{}{},
	}, nil
}

// ListenAndServe listens on Config.Addr and serves until Close.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("pgwire: listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Close, then returns ErrClosed. It
// closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	s.log.Info("pgwire: serving", "addr", ln.Addr().String())
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("pgwire: accept: %w", err)
		}
		if !s.track(nc) {
			nc.Close()
			return ErrClosed
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(nc)
		}()
	}
}

// Addr returns the address of a listener Serve is accepting on, nil when
// there is none.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.listeners {
		return ln.Addr()
	}
	return nil
}

// Close stops accepting, closes every connection (cancelling running
// queries) and waits for their goroutines. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for nc := range s.raw {
		nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// track records an accepted connection so Close can close it.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.raw[nc] = struct{}{}
	return true
}

func (s *Server) untrack(nc net.Conn) {
	s.mu.Lock()
	delete(s.raw, nc)
	s.mu.Unlock()
}

// register admits a connection past startup and assigns its cancel key;
// false when the server is full or closed.
func (s *Server) register(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= s.cfg.MaxConnections {
		return false
	}
	for {
		s.nextPID++
		if s.nextPID != 0 && s.byPID[s.nextPID] == nil {
			break
		}
	}
	c.pid = s.nextPID
	var secret [4]byte
	_, _ = rand.Read(secret[:]) // crypto/rand.Read never fails
	c.secret = secret[:]
	s.conns[c] = struct{}{}
	s.byPID[c.pid] = c
	return true
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byPID[c.pid] == c {
		delete(s.byPID, c.pid)
	}
	delete(s.conns, c)
}

// cancelQuery handles a CancelRequest: it cancels the running query of the
// connection with this key, if any. A wrong key is ignored silently, as
// PostgreSQL does, so it reveals nothing.
func (s *Server) cancelQuery(pid uint32, secret []byte) {
	s.mu.Lock()
	c := s.byPID[pid]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare(c.secret, secret) != 1 {
		s.log.Debug("pgwire: cancel request with unknown key", "pid", pid)
		return
	}
	c.cancelRunning()
}
