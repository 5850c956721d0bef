package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/phantom-db/phantom/compute/auth"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// Authenticator verifies the API key of a request; *auth.ControlPlane
// implements it. An unknown or revoked key wraps auth.ErrUnauthenticated;
// any other error means the verifier could not answer.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (auth.Principal, error)
}

// NoAuth turns authentication off: every request, with or without a key,
// acts with full rights on the served database. Only for tests and
// deliberately open deployments (`phantom compute --auth=none`).
var NoAuth Authenticator = noAuth{}

type noAuth struct{}

func (noAuth) Authenticate(context.Context, string) (auth.Principal, error) {
	return auth.Principal{}, nil
}

// SQLSTATEs of authentication failures.
const (
	codeInvalidAuthorization = "28000" // no or bad credentials: HTTP 401
	codeInsufficientPrivs    = "42501" // a key of another tenant or database: HTTP 403
	codeTooManyRequests      = "53300" // per-key concurrency limit: HTTP 429
)

type principalKey struct{}

// principalOf returns the principal the request was authenticated as.
func principalOf(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

// authenticate guards every endpoint but /healthz and /metrics: a missing
// or wrong key answers 401, a key for another tenant or database 403, a key
// already running MaxConcurrentPerKey requests 429.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, func(), bool) {
	if s.cfg.Auth == NoAuth {
		p := auth.Principal{Tenant: s.cfg.Tenant, Database: s.cfg.Database}
		return r.WithContext(context.WithValue(r.Context(), principalKey{}, p)), func() {}, true
	}
	key, ok := bearerToken(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="phantom"`)
		writeError(w, http.StatusUnauthorized, &sqlerr.Error{Code: codeInvalidAuthorization,
			Message: "missing API key", Hint: "send Authorization: Bearer <api key>"})
		return nil, nil, false
	}
	p, err := s.cfg.Auth.Authenticate(r.Context(), key)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="phantom", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, &sqlerr.Error{Code: codeInvalidAuthorization, Message: "invalid API key"})
			return nil, nil, false
		}
		s.cfg.Logger.Error("api key verification failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, &sqlerr.Error{Code: "08001",
			Message: "cannot verify the API key now: the control plane is unavailable"})
		return nil, nil, false
	}
	if !p.Allows(s.cfg.Tenant, s.cfg.Database) {
		// The same answer whatever the key does hold, so it reveals nothing
		// about other tenants.
		writeError(w, http.StatusForbidden, &sqlerr.Error{Code: codeInsufficientPrivs,
			Message: fmt.Sprintf("the API key does not grant access to database %q", s.cfg.Database)})
		return nil, nil, false
	}
	if p.ReadOnly && s.cfg.NewReadOnlySession == nil {
		writeError(w, http.StatusForbidden, &sqlerr.Error{Code: codeInsufficientPrivs,
			Message: "read-only API keys are not supported by this server"})
		return nil, nil, false
	}
	if !s.perKey.acquire(p.KeyID) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, &sqlerr.Error{Code: codeTooManyRequests,
			Message: fmt.Sprintf("too many concurrent requests for this API key (limit %d)", s.cfg.MaxConcurrentPerKey)})
		return nil, nil, false
	}
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p)), func() { s.perKey.release(p.KeyID) }, true
}

// bearerToken returns the token of "Authorization: Bearer <token>".
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// keyLimiter counts the requests in flight per API key.
type keyLimiter struct {
	max int

	mu sync.Mutex
	n  map[string]int
}

func (l *keyLimiter) acquire(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[id] >= l.max {
		return false
	}
	l.n[id]++
	return true
}

func (l *keyLimiter) release(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[id]--; l.n[id] <= 0 {
		delete(l.n, id)
	}
}

// newSessionFor opens a SQL session with the rights of the request's
// principal: read-only keys get a session that refuses writes (25006).
func (s *Server) newSessionFor(ctx context.Context) Session {
	if principalOf(ctx).ReadOnly {
		return s.cfg.NewReadOnlySession()
	}
	return s.cfg.NewSession()
}
