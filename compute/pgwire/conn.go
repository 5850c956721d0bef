package pgwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// flushEveryRows bounds the DataRows buffered before a write.
const flushEveryRows = 256

// conn is one client connection.
type conn struct {
	srv  *Server
	nc   net.Conn
	be   *pgproto3.Backend
	log  *slog.Logger
	sess Session

	pid    uint32
	secret []byte
	// tls is set once the connection is encrypted.
	tls bool

	mu        sync.Mutex
	running   context.CancelFunc // cancels the running query; nil when idle
	cancelled bool               // a CancelRequest hit the running query

	stmts   map[string]*prepared
	portals map[string]*portal
	// skipping is set by an error in an extended-protocol message: the
	// rest of the messages up to Sync are discarded.
	skipping bool
}

// serveConn runs one connection from accept to close.
func (s *Server) serveConn(nc net.Conn) {
	c := &conn{srv: s, nc: nc, be: pgproto3.NewBackend(nc, nc), log: s.log.With("remote", nc.RemoteAddr().String()),
		stmts: map[string]*prepared{}, portals: map[string]*portal{}}
	c.be.SetMaxBodyLen(s.cfg.MaxMessageBytes)
	defer func() {
		if r := recover(); r != nil {
			// A bug must cost one connection, never the server.
			c.log.Error("pgwire: panic serving connection", "panic", r)
			c.fatal(sqlerr.New(sqlerr.CodeInternalError, "internal error: %v", r))
		}
		c.closePortals()
		if c.sess != nil {
			c.sess.Close()
		}
		if c.pid != 0 {
			s.unregister(c)
		}
		nc.Close()
		s.untrack(nc)
	}()
	if !c.startup() {
		return
	}
	c.loop()
}

// fatal sends a FATAL error; the caller closes the connection.
func (c *conn) fatal(err error) {
	c.be.Send(errorResponse(severityFatal, err))
	_ = c.be.Flush()
}

// startup handles the startup phase; false when the connection is to be
// closed (a cancel request, a bad packet, a full server).
func (c *conn) startup() bool {
	_ = c.nc.SetDeadline(time.Now().Add(c.srv.cfg.StartupTimeout))
	for {
		msg, err := c.be.ReceiveStartupMessage()
		if err != nil {
			if !isDisconnect(err) {
				c.fatal(protocolError("invalid startup packet: %v", err))
			}
			return false
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if c.srv.cfg.TLS == nil || c.tls {
				if _, err := c.nc.Write([]byte{'N'}); err != nil {
					return false
				}
				continue
			}
			if !c.startTLS() {
				return false
			}
			continue
		case *pgproto3.GSSEncRequest:
			// GSSAPI encryption is not offered; the client continues in
			// plaintext, asks for SSL or gives up.
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return false
			}
			continue
		case *pgproto3.CancelRequest:
			c.srv.cancelQuery(m.ProcessID, m.SecretKey)
			return false
		case *pgproto3.StartupMessage:
			return c.accept(m)
		default:
			c.fatal(protocolError("unexpected startup message %T", msg))
			return false
		}
	}
}

// accept answers a StartupMessage: trust authentication, parameters, the
// cancel key and the first ReadyForQuery.
func (c *conn) accept(m *pgproto3.StartupMessage) bool {
	if m.ProtocolVersion != pgproto3.ProtocolVersion30 {
		// Only 3.0 is spoken; a 3.2 client is told so and carries on.
		var unknown []string
		for k := range m.Parameters {
			if strings.HasPrefix(k, "_pq_.") {
				unknown = append(unknown, k)
			}
		}
		c.be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unknown})
	}
	user, db := m.Parameters["user"], m.Parameters["database"]
	if db == "" {
		db = user
	}
	if want := c.srv.cfg.Database; want != "" && db != want {
		c.fatal(&sqlerr.Error{Code: codeInvalidCatalogName, Message: fmt.Sprintf("database %q does not exist", db)})
		return false
	}
	if !c.srv.register(c) {
		c.fatal(&sqlerr.Error{Code: codeTooManyConnections, Message: "sorry, too many clients already"})
		return false
	}
	c.log = c.log.With("pid", c.pid, "user", user, "database", db)
	if !c.srv.cfg.Trust && !c.authenticateSCRAM(user) {
		return false
	}
	_ = c.nc.SetDeadline(time.Time{})
	c.log.Debug("pgwire: connection started", "tls", c.tls)
	c.sess = c.srv.cfg.NewSession()
	c.be.Send(&pgproto3.AuthenticationOk{})
	for _, p := range [][2]string{
		{"server_version", c.srv.cfg.ServerVersion},
		{"server_encoding", "UTF8"},
		{"client_encoding", "UTF8"},
		{"DateStyle", "ISO, MDY"},
		{"integer_datetimes", "on"},
		{"standard_conforming_strings", "on"},
		{"TimeZone", "UTC"},
		{"IntervalStyle", "postgres"},
		{"is_superuser", "on"},
		{"session_authorization", user},
		{"application_name", m.Parameters["application_name"]},
	} {
		c.be.Send(&pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
	}
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.secret})
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.sess.TxStatus()})
	return c.be.Flush() == nil
}

// loop reads and handles messages until Terminate, a disconnect or a
// protocol violation.
func (c *conn) loop() {
	for {
		msg, err := c.be.Receive()
		if err != nil {
			if !isDisconnect(err) {
				c.log.Debug("pgwire: bad message", "err", err)
				c.fatal(protocolError("%v", err))
			}
			return
		}
		if _, ok := msg.(*pgproto3.Terminate); ok {
			return
		}
		if err := c.handle(msg); err != nil {
			if errors.Is(err, ErrProtocol) {
				c.fatal(err)
			} else if !isDisconnect(err) {
				c.log.Debug("pgwire: connection failed", "err", err)
			}
			return
		}
	}
}

// handle handles one message; an error closes the connection (a write
// failure or a protocol violation).
func (c *conn) handle(msg pgproto3.FrontendMessage) error {
	switch msg.(type) {
	case *pgproto3.Sync:
		c.skipping = false
		if c.sess.TxStatus() == 'I' {
			// Portals live until the end of their transaction.
			c.closePortals()
		}
		c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.sess.TxStatus()})
		return c.be.Flush()
	case *pgproto3.Flush:
		return c.be.Flush()
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// The rest of a COPY the server refused before it started (a
		// missing table, a bad option): clients such as pgx send their
		// data without waiting for CopyInResponse. Ignored, as PostgreSQL
		// does (postgres.c: "accept but ignore these messages").
		return nil
	}
	if c.skipping {
		return nil
	}
	var err error
	switch m := msg.(type) {
	case *pgproto3.Query:
		return c.simpleQuery(m.String)
	case *pgproto3.Parse:
		err = c.parse(m)
	case *pgproto3.Bind:
		err = c.bind(m)
	case *pgproto3.Describe:
		err = c.describe(m)
	case *pgproto3.Execute:
		err = c.execute(m)
	case *pgproto3.Close:
		err = c.closeObject(m)
	default:
		return protocolError("unexpected message type %T", msg)
	}
	if err != nil {
		if errors.Is(err, ErrProtocol) {
			return err
		}
		c.be.Send(errorResponse(severityError, err))
		c.skipping = true
	}
	return nil
}

// simpleQuery runs a Query message: every statement, text results, then
// ReadyForQuery.
func (c *conn) simpleQuery(query string) error {
	if isCopy(query) {
		cs, err := copyStatement(query)
		if err != nil {
			c.be.Send(errorResponse(severityError, err))
			c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.sess.TxStatus()})
			return c.be.Flush()
		}
		if cs != nil {
			return c.simpleCopy(cs)
		}
	}
	results, err := c.run(query, nil)
	if len(results) == 0 && err == nil {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
	}
	for _, r := range results {
		if err := c.sendResult(r, nil); err != nil {
			releaseAll(results)
			return err
		}
		r.Release()
	}
	if err != nil {
		c.be.Send(errorResponse(severityError, err))
	}
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.sess.TxStatus()})
	return c.be.Flush()
}

// sendResult sends RowDescription, every row and CommandComplete.
func (c *conn) sendResult(r *sql.Result, formats []int16) error {
	if hasRows(r) {
		c.be.Send(rowDescription(r.Columns, formats))
		cur := &cursor{res: r}
		if _, err := c.sendRows(cur, formats, 0); err != nil {
			return err
		}
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(r.Command)})
	return nil
}

// run executes query in the session with the running-query context that a
// CancelRequest or the statement timeout cancels.
func (c *conn) run(query string, params []any) ([]*sql.Result, error) {
	ctx, cancel := context.WithCancel(c.srv.ctx)
	t := c.srv.cfg.StatementTimeout
	if st := sessionTimeout(c.sess); st > 0 && (t == 0 || st < t) {
		t = st
	}
	if t > 0 {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeout(ctx, t)
		defer cancelT()
	}
	c.mu.Lock()
	c.running, c.cancelled = cancel, false
	c.mu.Unlock()
	stopWatch := watchPeer(ctx, c.nc, c.srv.cfg.ClientCheckInterval, cancel)
	results, err := c.sess.Execute(ctx, query, params)
	if stopWatch() {
		c.log.Info("pgwire: client went away; statement cancelled")
	}
	c.mu.Lock()
	c.running = nil
	cancelled := c.cancelled
	c.mu.Unlock()
	cancel()
	// A gRPC call can fail with DeadlineExceeded a moment before ctx's
	// own timer marks it done (the storage layer reports 57P03): the clock
	// decides whether the statement timed out.
	deadline, hasDeadline := ctx.Deadline()
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded) || hasDeadline && !time.Now().Before(deadline)
	if err != nil && (sqlerr.Code(err) == sqlerr.CodeQueryCanceled || timedOut && !cancelled) {
		e := *sqlerr.Normalize(err)
		switch {
		case cancelled:
			e.Message = "canceling statement due to user request"
		case timedOut:
			e = sqlerr.Error{Code: sqlerr.CodeQueryCanceled, Message: "canceling statement due to statement timeout"}
		}
		err = &e
	}
	return results, err
}

// sessionTimeout is the session's own statement_timeout (SET
// statement_timeout), 0 when it has none or cannot tell.
func sessionTimeout(s Session) time.Duration {
	if d, ok := s.(describedSession); ok {
		s = d.Session
	}
	if st, ok := s.(interface{ StatementTimeout() time.Duration }); ok {
		return st.StatementTimeout()
	}
	return 0
}

// cancelRunning cancels the running query, if any.
func (c *conn) cancelRunning() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running != nil {
		c.cancelled = true
		c.running()
	}
}

// hasRows reports whether r is a row-returning statement (which gets a
// RowDescription even with no rows).
func hasRows(r *sql.Result) bool {
	return len(r.Columns) > 0 || strings.HasPrefix(r.Command, "SELECT")
}

func releaseAll(rs []*sql.Result) {
	for _, r := range rs {
		r.Release()
	}
}

// protocolError is a 08P01 error that closes the connection.
func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrProtocol,
		&sqlerr.Error{Code: codeProtocolViolation, Message: fmt.Sprintf(format, args...)})
}

// isDisconnect reports whether err means the client went away.
func isDisconnect(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
