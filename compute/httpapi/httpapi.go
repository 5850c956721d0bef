// Package httpapi serves the compute node's HTTP SQL API (docs/http-api.md):
//
//	POST   /v1/sql            {"query", "params", "database", "branch", "session", "timeout_ms", "as_of"}
//	POST   /v1/sql/batch      {"statements": [{"query", "params"}], "branch"}: one transaction
//	POST   /v1/sessions       {"branch"} (optional body): opens an interactive session
//	DELETE /v1/sessions/{id}  closes it, rolling back an open transaction
//	GET    /healthz
//
// Every endpoint but /healthz (and /metrics, when mounted beside it)
// requires an API key, "Authorization: Bearer <key>": none or an invalid
// one answers 401, a key of another tenant or database 403 (SQLSTATE 42501),
// a read-only key's writes 403 (25006), a key with MaxConcurrentPerKey
// requests in flight 429. Sessions belong to the key that opened them.
//
// A successful statement answers 200 with
// {"columns":[{"name","type"}], "rows":[[...]], "command", "row_count",
// "timing":{"elapsed_ms"}}; a failed one answers a 4xx/5xx status chosen from
// its SQLSTATE class with {"error":{"code","message","detail","position","hint"}}.
// Answers are JSON, NDJSON or Arrow IPC by the Accept header. When the
// query holds several statements they run in order — each in its own
// transaction unless a BEGIN ... COMMIT block spans them — and the answer
// describes the last one.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// Executor runs SQL text; *sql.Engine implements it.
type Executor interface {
	Execute(ctx context.Context, query string, params []any) ([]*sql.Result, error)
}

// Config configures the HTTP SQL API.
type Config struct {
	// Executor runs the statements. Required.
	Executor Executor
	// Auth verifies API keys. Required: NoAuth turns authentication off,
	// and only when set explicitly.
	Auth Authenticator
	// Tenant is the tenant of the database this compute serves; keys of
	// other tenants answer 403. Default "default".
	Tenant string
	// Database is the name of the database this compute serves; a request
	// naming another database answers 404. Default "phantom".
	Database string
	// MaxConcurrentPerKey bounds the requests of one API key in flight;
	// more answer 429. Default 16.
	MaxConcurrentPerKey int
	// MaxBodyBytes bounds a request body, in bytes. Default 1 MiB.
	MaxBodyBytes int64
	// StatementTimeout bounds one request's execution. Default 30 s.
	StatementTimeout time.Duration
	// MaxConcurrent bounds requests executing at once; more wait for a slot
	// until their timeout. Default 64.
	MaxConcurrent int
	// NewSession opens a SQL session (an interactive transaction scope) for
	// /v1/sessions and /v1/sql/batch; nil disables those endpoints.
	NewSession func() Session
	// NewReadOnlySession opens a session that refuses writes (SQLSTATE
	// 25006) whatever SET or BEGIN ask, for read-only keys; nil refuses
	// read-only keys (403).
	NewReadOnlySession func() Session
	// SessionIdleTimeout closes (and so rolls back) a session unused this
	// long. Default 5 min.
	SessionIdleTimeout time.Duration
	// MaxSessions bounds open sessions; more answer 429. Default 1,000.
	MaxSessions int
	// MaxTimeout caps a request's "timeout_ms". Default 10 min.
	MaxTimeout time.Duration
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock used for session idleness. Default time.Now.
	Now func() time.Time
}

// Session is a SQL session: statements run in order and an explicit
// transaction (BEGIN ... COMMIT) stays open across calls until it ends or
// the session is closed, which rolls it back.
type Session interface {
	Execute(ctx context.Context, query string, params []any) ([]*sql.Result, error)
	Close()
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.Tenant == "" {
		c.Tenant = "default"
	}
	if c.Database == "" {
		c.Database = "phantom"
	}
	if c.MaxConcurrentPerKey == 0 {
		c.MaxConcurrentPerKey = 16
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.StatementTimeout == 0 {
		c.StatementTimeout = 30 * time.Second
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 64
	}
	if c.SessionIdleTimeout == 0 {
		c.SessionIdleTimeout = 5 * time.Minute
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = 1000
	}
	if c.MaxTimeout == 0 {
		c.MaxTimeout = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a configuration error.
func (c *Config) Validate() error {
	switch {
	case c.Executor == nil:
		return errors.New("httpapi: Executor is required")
	case c.Auth == nil:
		return errors.New("httpapi: Auth is required (httpapi.NoAuth turns authentication off)")
	case c.MaxConcurrentPerKey < 0, c.MaxBodyBytes < 0, c.StatementTimeout < 0, c.MaxConcurrent < 0, c.SessionIdleTimeout < 0,
		c.MaxSessions < 0, c.MaxTimeout < 0:
		return errors.New("httpapi: limits must not be negative")
	}
	return nil
}

// Server is the HTTP SQL API handler.
type Server struct {
	cfg      Config
	slots    chan struct{}
	mux      *http.ServeMux
	sessions *sessionTable
	perKey   *keyLimiter
}

// New returns the API handler.
func New(cfg Config) (*Server, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, slots: make(chan struct{}, cfg.MaxConcurrent), mux: http.NewServeMux(),
		perKey: &keyLimiter{max: cfg.MaxConcurrentPerKey, n: map[string]int{}}}
	s.sessions = newSessionTable(cfg)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("POST /v1/sql", s.handleSQL)
	s.mux.HandleFunc("POST /v1/sql/batch", s.handleBatch)
	s.mux.HandleFunc("POST /v1/sessions", s.handleOpenSession)
	s.mux.HandleFunc("DELETE /v1/sessions/{id}", s.handleCloseSession)
	s.mux.HandleFunc("/v1/sql", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, &sqlerr.Error{Code: "08P01", Message: "use POST for /v1/sql"})
	})
	return s, nil
}

// Close closes every open session (rolling back their transactions) and
// stops the idle reaper.
func (s *Server) Close() { s.sessions.close() }

// ServeHTTP implements http.Handler: /healthz and /metrics are open, every
// other path is authenticated first.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
		s.mux.ServeHTTP(w, r)
		return
	}
	r, done, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	defer done()
	s.mux.ServeHTTP(w, r)
}

// Request is the body of POST /v1/sql.
type Request struct {
	Query    string `json:"query"`
	Params   []any  `json:"params"`
	Database string `json:"database,omitempty"`
	// Session runs the query in an open session (see POST /v1/sessions).
	Session string `json:"session,omitempty"`
	// TimeoutMS overrides the statement timeout for this request, in
	// milliseconds, up to Config.MaxTimeout.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
	// AsOf runs the query reading at a past timestamp (time travel): an
	// RFC 3339 string or a hybrid timestamp number (as SHOW
	// phantom.last_commit_ts prints it). Not with Session: SET
	// phantom.as_of in the session instead.
	AsOf any `json:"as_of,omitempty"`
	// Branch runs the query on this branch of the database ("" or
	// "main": the database itself); unknown branches answer 404 with
	// SQLSTATE 3D000. Not with Session: open the session with "branch".
	Branch string `json:"branch,omitempty"`
}

// Column describes one result column.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Response is the body of a successful POST /v1/sql.
type Response struct {
	Columns  []Column `json:"columns"`
	Rows     [][]any  `json:"rows"`
	Command  string   `json:"command"`
	RowCount int64    `json:"row_count"`
	Timing   Timing   `json:"timing"`
}

// Timing reports how long the request took on the server.
type Timing struct {
	ElapsedMS float64 `json:"elapsed_ms"`
}

// ErrorBody is the body of a failed request.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries a SQLSTATE and the message of a failure.
type ErrorDetail struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Detail   string `json:"detail,omitempty"`
	Position int    `json:"position,omitempty"`
	Hint     string `json:"hint,omitempty"`
	// Statement is the 0-based index of the failed statement of a batch.
	Statement *int `json:"statement,omitempty"`
}

// statusFor maps a SQLSTATE to an HTTP status.
func statusFor(code string) int {
	switch {
	case code == "57014":
		return http.StatusRequestTimeout
	case code == "25006", code == codeInsufficientPrivs:
		return http.StatusForbidden
	case code == "40001", code == "40P01", strings.HasPrefix(code, "23"):
		return http.StatusConflict
	case code == "3D000":
		return http.StatusNotFound
	case code == "54000":
		return http.StatusRequestEntityTooLarge
	case strings.HasPrefix(code, "53"), strings.HasPrefix(code, "08"), code == "57P01", code == "57P03":
		return http.StatusServiceUnavailable
	case strings.HasPrefix(code, "XX"), strings.HasPrefix(code, "58"):
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

func writeError(w http.ResponseWriter, status int, err error) { writeErrorAt(w, status, err, nil) }

// writeErrorAt answers err; stmt names the failed statement of a batch.
func writeErrorAt(w http.ResponseWriter, status int, err error, stmt *int) {
	d := ErrorDetail{Code: sqlerr.Code(err), Message: err.Error(), Statement: stmt}
	var se *sqlerr.Error
	if errors.As(err, &se) {
		d.Message, d.Detail, d.Position, d.Hint = se.Message, se.Detail, se.Position, se.Hint
	}
	writeJSON(w, status, ErrorBody{Error: d})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
