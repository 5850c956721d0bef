package phantom

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// ErrSessionClosed is returned by a Session used after Close.
var ErrSessionClosed = errors.New("phantom: session closed")

// Session is a server-side SQL session: statements run in order and a
// transaction opened with BEGIN stays open across calls until COMMIT,
// ROLLBACK or Close (which rolls it back). The server closes a session idle
// for longer than IdleTimeout; using it afterwards fails with 08003.
// A Session serves one request at a time; concurrent calls wait.
type Session struct {
	c *Client
	// ID is the server's session id.
	ID string
	// IdleTimeout is how long the server keeps the session unused.
	IdleTimeout time.Duration

	mu     sync.Mutex
	closed bool
}

// OpenSession opens a session (POST /v1/sessions).
func (c *Client) OpenSession(ctx context.Context) (*Session, error) {
	var out struct {
		Session       string `json:"session"`
		IdleTimeoutMS int64  `json:"idle_timeout_ms"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/sessions", nil, mediaJSON, retryOpenSession, &out); err != nil {
		return nil, err
	}
	if out.Session == "" {
		return nil, errors.New("phantom: open session: the server answered no session id")
	}
	return &Session{c: c, ID: out.Session, IdleTimeout: time.Duration(out.IdleTimeoutMS) * time.Millisecond}, nil
}

func (s *Session) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	return nil
}

// Query runs sql in the session and answers the last statement's result.
// A 503 57P03 is not retried here (it may have aborted the open
// transaction); the caller decides.
func (s *Session) Query(ctx context.Context, sql string, args ...any) (*Result, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.c.query(ctx, s.ID, sql, args)
}

// Exec runs sql in the session for its effect.
func (s *Session) Exec(ctx context.Context, sql string, args ...any) (ExecResult, error) {
	res, err := s.Query(ctx, sql, args...)
	if err != nil {
		return ExecResult{}, err
	}
	return ExecResult{Command: res.Command, RowsAffected: res.RowCount}, nil
}

// QueryArrow runs sql in the session and answers its rows as an Arrow
// stream (see Client.QueryArrow).
func (s *Session) QueryArrow(ctx context.Context, sql string, args ...any) (*ArrowStream, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.c.queryArrow(ctx, s.ID, sql, args)
}

// Close ends the session (DELETE /v1/sessions/{id}), rolling back an open
// transaction. Closing a session the server already dropped (08003) is not
// an error; closing twice is a no-op.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.c.do(ctx, http.MethodDelete, "/v1/sessions/"+url.PathEscape(s.ID), nil, mediaJSON, retryNotStarted, nil)
	if Code(err) == "08003" {
		return nil
	}
	return err
}
