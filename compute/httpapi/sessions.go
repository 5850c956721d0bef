package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

var (
	errSessionNotFound = errors.New("httpapi: session does not exist (closed, timed out, or never opened)")
	errTooManySessions = errors.New("httpapi: too many open sessions")
)

// sessionTable holds the open interactive sessions. A session serves one
// request at a time; a session idle for longer than SessionIdleTimeout is
// closed, which rolls back its open transaction.
type sessionTable struct {
	cfg Config

	mu     sync.Mutex
	m      map[string]*sessionEntry
	closed bool

	stop chan struct{}
	done chan struct{}
}

type sessionEntry struct {
	id string
	// owner is the id of the API key that opened the session; only it may
	// use or close the session.
	owner string
	sess  Session
	// busy holds one token while a request uses the session.
	busy     chan struct{}
	lastUsed time.Time // guarded by sessionTable.mu
}

func newSessionTable(cfg Config) *sessionTable {
	t := &sessionTable{cfg: cfg, m: map[string]*sessionEntry{}, stop: make(chan struct{}), done: make(chan struct{})}
	go t.reapLoop()
	return t
}

func (t *sessionTable) open(owner string, newSession func() Session) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("httpapi: session id: %w", err)
	}
	id := hex.EncodeToString(b[:])
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return "", errors.New("httpapi: server closing")
	}
	if len(t.m) >= t.cfg.MaxSessions {
		return "", errTooManySessions
	}
	t.m[id] = &sessionEntry{id: id, owner: owner, sess: newSession(), busy: make(chan struct{}, 1), lastUsed: t.cfg.Now()}
	return id, nil
}

// execute runs a query in session id, waiting while another request uses
// it. A session of another key is reported as not existing.
func (t *sessionTable) execute(ctx context.Context, owner, id, query string, params []any) ([]*sql.Result, error) {
	t.mu.Lock()
	e := t.m[id]
	t.mu.Unlock()
	if e == nil || e.owner != owner {
		return nil, errSessionNotFound
	}
	select {
	case e.busy <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-e.busy }()
	t.mu.Lock()
	if t.m[id] != e { // closed while we waited
		t.mu.Unlock()
		return nil, errSessionNotFound
	}
	e.lastUsed = t.cfg.Now()
	t.mu.Unlock()
	res, err := e.sess.Execute(ctx, query, params)
	t.mu.Lock()
	e.lastUsed = t.cfg.Now()
	t.mu.Unlock()
	return res, err
}

// remove closes session id of owner after its in-flight request, if any,
// ends; false when owner has no such session.
func (t *sessionTable) remove(owner, id string) bool {
	t.mu.Lock()
	e := t.m[id]
	if e == nil || e.owner != owner {
		t.mu.Unlock()
		return false
	}
	delete(t.m, id)
	t.mu.Unlock()
	if e == nil {
		return false
	}
	e.busy <- struct{}{}
	e.sess.Close()
	return true
}

// reap closes sessions idle past the timeout that no request is using.
func (t *sessionTable) reap() {
	now := t.cfg.Now()
	var idle []*sessionEntry
	t.mu.Lock()
	for id, e := range t.m {
		if now.Sub(e.lastUsed) < t.cfg.SessionIdleTimeout {
			continue
		}
		select {
		case e.busy <- struct{}{}:
			delete(t.m, id)
			idle = append(idle, e)
		default: // in use: not idle
		}
	}
	t.mu.Unlock()
	for _, e := range idle {
		e.sess.Close()
		t.cfg.Logger.Info("session closed after idle timeout", "session", e.id, "idle_timeout", t.cfg.SessionIdleTimeout)
	}
}

func (t *sessionTable) reapLoop() {
	defer close(t.done)
	every := min(max(t.cfg.SessionIdleTimeout/4, 10*time.Millisecond), time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.reap()
		}
	}
}

func (t *sessionTable) close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	ids := make([]string, 0, len(t.m))
	for id := range t.m {
		ids = append(ids, id)
	}
	t.mu.Unlock()
	close(t.stop)
	<-t.done
	for _, id := range ids {
		t.mu.Lock()
		e := t.m[id]
		t.mu.Unlock()
		if e != nil {
			t.remove(e.owner, id)
		}
	}
}

// SessionResponse answers POST /v1/sessions.
type SessionResponse struct {
	Session string `json:"session"`
	// IdleTimeoutMS is how long the session may stay unused before it is
	// closed and its transaction rolled back, in milliseconds.
	IdleTimeoutMS int64 `json:"idle_timeout_ms"`
}

func (s *Server) sessionsEnabled(w http.ResponseWriter) bool {
	if s.cfg.NewSession == nil {
		writeError(w, http.StatusNotImplemented, &sqlerr.Error{Code: "0A000", Message: "sessions are not enabled on this server"})
		return false
	}
	return true
}

func (s *Server) handleOpenSession(w http.ResponseWriter, r *http.Request) {
	if !s.sessionsEnabled(w) {
		return
	}
	req, ok := s.decodeSessionRequest(w, r)
	if !ok || !s.checkBranch(w, req.Branch) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StatementTimeout)
	defer cancel()
	id, err := s.openSessionOn(ctx, principalOf(r.Context()).KeyID, func() Session { return s.newSessionFor(r.Context()) }, req.Branch)
	if err != nil {
		s.fail(w, r, r.Context(), 0, err)
		return
	}
	writeJSON(w, http.StatusCreated, SessionResponse{Session: id, IdleTimeoutMS: s.cfg.SessionIdleTimeout.Milliseconds()})
}

func (s *Server) handleCloseSession(w http.ResponseWriter, r *http.Request) {
	if !s.sessions.remove(principalOf(r.Context()).KeyID, r.PathValue("id")) {
		writeError(w, http.StatusNotFound, &sqlerr.Error{Code: "08003", Message: errSessionNotFound.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
